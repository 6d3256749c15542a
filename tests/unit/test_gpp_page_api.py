"""The banner's GPP decoder reads every string the platform makes as the IAB's library does.

The page API (``banner_static/src/gpp.js``) answers ``getSection`` and ``getField`` with its own compact
decoder, driven by a table of the US sections' layouts (``banner_static/src/gpp-decode.js``). For every
string of ``tests/unit/test_gpp_iab.py`` (each region x choice x signal x site-settings combination, made
by ``consent.gpp.encode``), ``tools/gpp-page-api.mjs`` asks both decoders for the section ids, every
section and every field; they must agree, and agree with what the encoder says it wrote.

Needs Node and ``tools/node_modules``; skips with a message without them, and fails instead when CI=true.
"""

from tests.support import ROOT, banner_node_test
from tests.unit import test_gpp_iab as made

SCRIPT = ROOT / "tools" / "gpp-page-api.mjs"


def both_decoders(strings):
    return made.node_tool(SCRIPT, strings, "the banner's decoder is unchecked")


def test_the_banner_decoder_answers_getsection_and_getfield_as_the_iab_library_does():
    cases = list(made.cases())
    strings = sorted({encoded.string for *_, encoded in cases})
    answers = dict(zip(strings, both_decoders(strings), strict=True))
    sections_seen = set()
    for case, *_, encoded in cases:
        answer = answers[encoded.string]
        assert "error" not in answer["iab"] and "error" not in answer["ours"], (case, encoded.string, answer)
        assert answer["ours"] == answer["iab"], (case, encoded.string)
        assert answer["ours"]["sectionIds"] == list(encoded.section_ids), case
        assert answer["ours"]["sections"] == encoded.sections, case
        # A field the section does not have is null, as in the library.
        assert all(answer["ours"]["fields"][f"{name}.NoSuchField"] is None for name in encoded.sections), case
        sections_seen |= set(encoded.sections)
    # Every section the platform writes was read (each preset state's and usnat).
    assert sections_seen == {"usnat"} | {p.gpp_section for p in made.regions.US_STATES.values()}


def test_a_damaged_string_is_refused_by_both():
    """The comparison can fail: a header listing a section the string does not carry is refused."""
    answer = both_decoders(["DBABrw~CVQqAAAAAACA.QA"])[0]
    assert "error" in answer["iab"] and "error" in answer["ours"]


def test_the_page_api_answers_and_fires_events_as_gpp_1_1_says_in_a_fake_page():
    """``banner_static/test/gpp.test.js`` under node (CI runs pytest, not ``node --test`` itself): the stub's
    answers and queue, the takeover, the order of events on a choice, which string wins, frames."""
    output = banner_node_test("gpp.test.js", "the GPP page API's calls and events")
    assert "# tests 7" in output and "# fail 0" in output, output

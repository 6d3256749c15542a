"""Every GPP string the encoder makes, checked by the IAB's own library rather than by ours.

For each region x choice x signal x site-settings combination, the rule decides
(``consent.decisions.decide``), ``consent.gpp.encode`` writes the string, and
``tools/gpp-decode.mjs`` runs the IAB's ``@iabgpp/cmpapi`` under Node: it decodes
the string, and also encodes the same fields itself. The test then compares
every decoded field with what the decisions and the settings say (written out
here, apart from the encoder), and our string with the library's.

Needs Node and ``tools/node_modules`` (``make test`` installs it with ``npm ci``);
skips with a message without them, and fails instead when CI=true.
"""
import itertools
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

from consent import decisions as d
from consent import gpp, regions
from tests.support import ROOT
from tests.support import missing as tool_missing

LIBRARY = ROOT / "tools" / "node_modules" / "@iabgpp" / "cmpapi" / "package.json"
SCRIPT = ROOT / "tools" / "gpp-decode.mjs"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
PURPOSES = (d.Purpose("security", True), d.Purpose("analytics"), d.Purpose("advertising", sale_or_sharing=True))

REGIONS = [*regions.US_STATES, "US", "US-NY", "FR", "GB-ENG", None]
CHOICES = {
    "none": None,
    "all granted": {"analytics": True, "advertising": True},
    "all denied": {"analytics": False, "advertising": False},
    "advertising only": {"analytics": False, "advertising": True},
    "analytics only": {"analytics": True, "advertising": False},
}
SIGNALS = {  # (signals now, signals when the choice was made)
    "none": (d.Signals(), d.Signals()),
    "gpc": (d.Signals(gpc=True), d.Signals()),
    "gpc, chosen under it": (d.Signals(gpc=True), d.Signals(gpc=True)),
    "nai opt-out": (d.Signals(nai_optout=True), d.Signals()),
    "lat": (d.Signals(lat=True), d.Signals()),
    "dnt": (d.Signals(dnt=True), d.Signals()),
}
SETTINGS = {
    "defaults": gpp.GppSettings(),
    "mspa opt-out option": gpp.GppSettings(mspa_covered_transaction=True, mspa_mode=gpp.OPT_OUT_OPTION_MODE),
    "mspa service provider, no notices": gpp.GppSettings(
        sharing_notice=False, sale_opt_out_notice=False, sharing_opt_out_notice=False,
        targeted_advertising_opt_out_notice=False, mspa_covered_transaction=True, mspa_mode=gpp.SERVICE_PROVIDER_MODE),
    "sensitive data declared": gpp.GppSettings(uses_sensitive_data=True),
}
# Fields our sites never fill (the rule records no choice per category of sensitive data): the library must
# read them as 0.
NOT_APPLICABLE = {"SensitiveDataProcessingOptOutNotice", "SensitiveDataOptOutNotice",
                  "SensitiveDataProcessing", "KnownChildSensitiveDataConsents", "PersonalDataConsents",
                  "AdditionalDataProcessingConsent"}


def regime_for(region):
    preset = regions.preset_for(region)
    if preset:
        return preset.regime
    return d.OPT_OUT if regions.country_of(region) == "US" else d.OPT_IN


def decide(region, choices, signals_now, signals_then):
    choice = None if choices is None else d.Choice(choices, NOW - timedelta(days=1), signals=signals_then)
    return d.decide(d.Context(PURPOSES, regime_for(region), NOW, timedelta(days=365), choice=choice,
                              signals=signals_now, honor_dnt=True))


def expected_sections(region):
    if regions.country_of(region) != "US":
        return {}
    preset = regions.preset_for(region)
    return {7: "usnat", **({gpp.LAYOUTS[preset.gpp_section].id: preset.gpp_section}
                           if preset and preset.gpp_section else {})}


def what_the_decisions_say(region, outcome, signals, settings):
    """Each field's value, from the decisions and the settings: the IAB's meanings, written out by hand."""
    def told(flag):
        return 1 if flag else 2

    sold = outcome.purposes["advertising"].granted
    tailored = outcome.ad_personalization.granted
    covered = settings.mspa_covered_transaction
    return {
        "SaleOptOut": 2 if sold else 1,  # 1 opted out, 2 did not opt out
        "SharingOptOut": 2 if tailored else 1,
        "TargetedAdvertisingOptOut": 2 if tailored else 1,
        "SharingNotice": told(settings.sharing_notice),
        "ProcessingNotice": told(settings.sharing_notice),
        "SaleOptOutNotice": told(settings.sale_opt_out_notice),
        "SharingOptOutNotice": told(settings.sharing_opt_out_notice),
        "TargetedAdvertisingOptOutNotice": told(settings.targeted_advertising_opt_out_notice),
        "MspaCoveredTransaction": 1 if covered else 2,
        "MspaOptOutOptionMode": 0 if not covered else 1 if settings.mspa_mode == gpp.OPT_OUT_OPTION_MODE else 2,
        "MspaServiceProviderMode": 0 if not covered else 1 if settings.mspa_mode == gpp.SERVICE_PROVIDER_MODE else 2,
        "MspaMode": 0 if not covered else 1 if settings.mspa_mode == gpp.OPT_OUT_OPTION_MODE else 2,
        "Gpc": signals.gpc,
        "GpcSegmentType": 1,
        # Told of the right to limit the use of sensitive data: only California gives it, and only a site
        # that uses such data offers the link; 0 (not applicable) otherwise.
        "SensitiveDataLimitUseNotice": 1 if settings.uses_sensitive_data and region == "US-CA" else 0,
    }


def cases():
    for region, choice, signal, setting in itertools.product(REGIONS, CHOICES, SIGNALS, SETTINGS):
        now, then = SIGNALS[signal]
        outcome = decide(region, CHOICES[choice], now, then)
        encoded = gpp.encode(region, outcome, now, SETTINGS[setting])
        yield (region, choice, signal, setting), outcome, now, SETTINGS[setting], encoded


def node_tool(script, payload, unchecked: str):
    """``payload`` through a Node script of tools/ that uses the IAB's library (JSON in, JSON out).

    Skips saying what stays ``unchecked`` where Node or the library is missing (fails instead in CI)."""
    node = shutil.which("node")
    if node is None or not LIBRARY.exists():
        missing = "Node.js" if node is None else "the IAB's GPP library (tools/node_modules/@iabgpp/cmpapi)"
        tool_missing(f"{missing} not found: `make test` installs it (cd tools && npm ci); {unchecked}")
    run = subprocess.run([node, str(script)], cwd=ROOT / "tools", input=json.dumps(payload), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def iab(items):
    return node_tool(SCRIPT, items, "the GPP strings are unchecked")


def test_the_iab_library_reads_in_every_string_what_the_decisions_say():
    made = list(cases())
    answers = iab([{"string": e.string, "sections": e.sections} for *_, e in made])
    assert len(answers) == len(made) == len(REGIONS) * len(CHOICES) * len(SIGNALS) * len(SETTINGS)
    seen = set()
    for (case, outcome, signals, settings, encoded), answer in zip(made, answers, strict=True):
        decoded = answer["decoded"]
        assert "error" not in decoded, (case, encoded.string, decoded)
        sections = expected_sections(case[0])
        assert decoded["sectionIds"] == list(sections), case
        assert set(decoded["sections"]) == set(sections.values()), case
        expected = what_the_decisions_say(case[0], outcome, signals, settings)
        for name, fields in decoded["sections"].items():
            layout = gpp.LAYOUTS[name]
            assert fields[layout.core[0].name] == layout.version, (case, name)
            assert ("Gpc" in fields) == layout.gpc, (case, name)
            for field, value in fields.items():
                if field == layout.core[0].name:
                    continue
                if field in NOT_APPLICABLE:
                    assert value == ([0] * len(value) if isinstance(value, list) else 0), (case, name, field)
                else:
                    assert value == expected[field], (case, name, field, value, encoded.string)
                    seen.add((field, json.dumps(value)))
            # What the page API will answer (our own dict) is what the library reads.
            assert fields == encoded.sections[name], (case, name)
        # The library, given the same fields, writes the very same string.
        assert answer["encoded"] == {"string": encoded.string}, (case, answer["encoded"])
        # What the API answers (remembered per region, decisions, GPC and settings) is this very string.
        assert gpp.answer(case[0], outcome, signals, settings) == {
            "string": encoded.string, "applicable_sections": list(encoded.applicable_sections)}, case
    # The combinations reach both answers of every opt-out, GPC and MSPA field.
    for field in ("SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut", "MspaCoveredTransaction",
                  "MspaOptOutOptionMode", "MspaServiceProviderMode", "MspaMode", "SaleOptOutNotice"):
        assert {(field, "1"), (field, "2")} <= seen, field
    assert {("SensitiveDataLimitUseNotice", "1"), ("SensitiveDataLimitUseNotice", "0")} <= seen
    assert {("Gpc", "true"), ("Gpc", "false")} <= seen
    # NAI alone leaves the sale opt-out off but opts out of targeted advertising: the two can differ.
    assert any(o.purposes["advertising"].granted and not o.ad_personalization.granted for _, o, *_ in made)


def test_the_library_refuses_a_damaged_string():
    """The check can fail: a string whose header lists a section it does not carry is refused."""
    answers = iab([{"string": "DBABrw~CVQqAAAAAACA.QA", "sections": {}}])
    assert "error" in answers[0]["decoded"]

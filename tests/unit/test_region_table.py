"""The table of regions in docs/us-states.md ("What each visitor sees") is the code's, not prose.

:func:`table` makes it from ``consent.regions`` (regimes, presets, links),
``consent.decisions`` (what the rule decides) and ``consent.gpp`` (the string),
for a site with the defaults (default regime ``opt_in``, no overrides, the
GPP settings' defaults); the test fails when the document's copy differs.
To refresh it after a change to the presets or the encoder::

    .venv/bin/python -m tests.unit.test_region_table   # prints the table
"""
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consent import decisions as d
from consent import gpp, regions

# Not tests.support's ROOT: that package sets up Django, and this runs without it (``python -m``).
DOC = Path(__file__).resolve().parents[2] / "docs" / "us-states.md"
BEGIN, END = "<!-- region table: tests/unit/test_region_table.py -->", "<!-- end of region table -->"
NOW = datetime(2026, 11, 25, tzinfo=UTC)
PURPOSES = (d.Purpose("security", True), d.Purpose("analytics"), d.Purpose("advertising", sale_or_sharing=True))
OPT_OUT_FIELDS = ("SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut")
# What the banner shows in each regime (banner_static/src/ui.js, build: the buttons of the first layer).
BUTTONS = {
    d.OPT_IN: "Accept all · Reject all · Customize",
    d.OPT_OUT: "notice; Do not sell or share my personal information · Customize · Close",
}
EXAMPLES = [None, "FR", "GB-ENG", "US", "US-NY", *regions.US_STATES]


def _outcome(regime, choices, signals):
    choice = d.Choice(choices, NOW - timedelta(days=1), signals=signals) if choices is not None else None
    return d.decide(d.Context(PURPOSES, regime, NOW, timedelta(days=365), choice=choice, signals=signals))


def _opt_outs(encoded: gpp.GppString) -> str:
    values = {fields[f] for fields in encoded.sections.values() for f in OPT_OUT_FIELDS if f in fields}
    if not values:
        return "—"
    assert len(values) == 1, values  # the three follow advertising alike here (no NAI, no LAT)
    value = values.pop()
    return f"{value} ({'opted out' if value == gpp.OPTED_OUT else 'not opted out'})"


def _gpc(encoded: gpp.GppString) -> str:
    if not encoded.sections:
        return "—"
    carry = [name for name, fields in encoded.sections.items() if "Gpc" in fields]
    lack = [name for name in encoded.sections if name not in carry]
    text = f"opt-outs {_opt_outs(encoded)}; Gpc 1 in {', '.join(carry)}"
    return text + (f" ({', '.join(lack)}: no GPC field)" if lack else "")


def _links(region) -> str:
    preset = regions.preset_for(region)
    links = []
    if preset and preset.privacy_choices_link:
        links.append("Your Privacy Choices")
    if preset and preset.limit_sensitive_right:
        links.append("Limit the use of my sensitive personal information (a site that uses such data)")
    return "; ".join(links) or "—"


def row(region) -> list[str]:
    regime = regions.regime_for(region, {}, d.OPT_IN)
    none, gpc = d.Signals(), d.Signals(gpc=True)
    fresh = gpp.encode(region, _outcome(regime, None, none), none)
    refused = gpp.encode(region, _outcome(regime, {"analytics": False, "advertising": False}, none), none)
    signalled = gpp.encode(region, _outcome(regime, None, gpc), gpc)
    sections = ", ".join(f"{layout.name} ({layout.id})" for layout in gpp.sections_for(region)) or "none: `DBAA`"
    return [f"`{region}`" if region else "unknown (no header)", f"`{regime}`", BUTTONS[regime], _links(region),
            f"{sections} `{list(fresh.applicable_sections)}`", _opt_outs(fresh), _opt_outs(refused), _gpc(signalled)]


def table() -> str:
    head = ["region", "regime", "the banner shows", "links (`us_privacy`)", "GPP sections (applicable)",
            "opt-outs before a choice", "after Do not sell / Reject all", "with GPC, no choice"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row(region)) + " |" for region in EXAMPLES]
    return "\n".join(lines)


def test_the_documents_table_is_the_codes():
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} lost its region table markers"
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == table(), "docs/us-states.md's region table is stale: `python -m tests.unit.test_region_table`"


def test_the_table_tells_the_regions_apart():
    """The rows differ where the code does: the table cannot pass by saying the same thing everywhere."""
    rows = {region: row(region) for region in EXAMPLES}
    assert rows["FR"][1] == "`opt_in`" and rows["US-CA"][1] == "`opt_out`"
    assert "Your Privacy Choices" in rows["US-CA"][3] and rows["US-TX"][3] == "—"
    assert rows["FR"][4] == "none: `DBAA` `[-1]`" and rows["US-TX"][4] == "usnat (7), ustx (16) `[7, 16]`"
    assert rows["US-CA"][5].startswith("2") and rows["US-CA"][6].startswith("1") and rows["US-NY"][5].startswith("1")
    assert "usva: no GPC field" in rows["US-VA"][7]


if __name__ == "__main__":
    print(table())

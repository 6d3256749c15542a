"""The GPP encoder (consent/gpp.py) on its own; tests/unit/test_gpp_iab.py checks it against the IAB's library.

The fixed strings here were decoded by the IAB's library (@iabgpp/cmpapi 3.2.0) when they were written, so
this file fails when the encoding changes even where Node is missing.
"""
from datetime import UTC, datetime, timedelta

import pytest

from consent import decisions as d
from consent import gpp

NOW = datetime(2026, 11, 25, tzinfo=UTC)
PURPOSES = (d.Purpose("security", True), d.Purpose("analytics"), d.Purpose("advertising"))
NO_SIGNALS = d.Signals()


def outcome(regime="opt_out", choices=None, signals=NO_SIGNALS):
    choice = d.Choice(choices, NOW) if choices is not None else None
    return d.decide(d.Context(PURPOSES, regime, NOW, timedelta(days=365), choice=choice, signals=signals))


def test_fixed_strings_the_iab_library_decoded():
    # A Californian who has not chosen: nothing opted out, notices given, not MSPA-covered, no GPC.
    assert gpp.encode("US-CA", outcome(), d.Signals()).string == "DBABrw~CVQqAAAAAACA.QA~BUoAAACA.QA"
    # Colorado with the NAI opt-out: no sale opt-out, but sharing and targeted advertising opted out.
    nai = d.Signals(nai_optout=True)
    assert gpp.encode("US-CO", outcome(signals=nai), nai).string == "DBACLGA~CVQlAAAAAACA.QA~BVkAAIA.QA"
    # Virginia with GPC, on a site under the MSPA in opt-out option mode; usva has no GPC segment.
    on = d.Signals(gpc=True)
    mspa = gpp.GppSettings(mspa_covered_transaction=True, mspa_mode=gpp.OPT_OUT_OPTION_MODE)
    assert gpp.encode("US-VA", outcome(signals=on), on, mspa).string == "DBACLMA~CVQVAAAAAABY.YA~BVUAABY"
    # A state without its own section: the US National section only.
    assert gpp.encode("US-NY", outcome(), d.Signals()).string == "DBABLA~CVQqAAAAAACA.QA"


@pytest.mark.parametrize("region", [None, "FR", "GB-ENG", "CA-QC", "MX"])
def test_outside_the_us_no_us_section_applies(region):
    encoded = gpp.encode(region, outcome("opt_in"), d.Signals(gpc=True))
    assert encoded.string == "DBAA"  # the header alone, listing no section
    assert encoded.section_ids == () and encoded.applicable_sections == (-1,) and encoded.sections == {}


def test_the_sections_follow_the_state():
    assert [s.name for s in gpp.sections_for("US")] == ["usnat"]
    assert [s.name for s in gpp.sections_for("US-CA")] == ["usnat", "usca"]
    assert [s.name for s in gpp.sections_for("US-NY")] == ["usnat"]  # no comprehensive law, no section of its own
    assert [s.name for s in gpp.sections_for("US-RI")] == ["usnat", "usri"]
    encoded = gpp.encode("US-NJ", outcome(), d.Signals())
    assert encoded.section_ids == encoded.applicable_sections == (7, 21)
    assert list(encoded.sections) == ["usnat", "usnj"]


def test_the_opt_outs_follow_the_decisions():
    def fields(decided, signals=NO_SIGNALS):
        return gpp.encode("US-CA", decided, signals).sections

    granted = fields(outcome(choices={"advertising": True}))
    assert granted["usnat"]["SaleOptOut"] == granted["usnat"]["SharingOptOut"] == gpp.DID_NOT_OPT_OUT
    assert granted["usca"]["SaleOptOut"] == granted["usca"]["SharingOptOut"] == gpp.DID_NOT_OPT_OUT
    refused = fields(outcome(choices={"advertising": False}))["usnat"]
    assert refused["SaleOptOut"] == refused["SharingOptOut"] == refused["TargetedAdvertisingOptOut"] == gpp.OPTED_OUT
    # The opt-in default denies advertising, which a US section reports as opted out.
    assert fields(outcome("opt_in"))["usca"]["SaleOptOut"] == gpp.OPTED_OUT
    # Limit-ad-tracking: ads may be sold, not tailored.
    lat = fields(outcome(signals=d.Signals(lat=True)), d.Signals(lat=True))["usnat"]
    assert (lat["SaleOptOut"], lat["SharingOptOut"], lat["TargetedAdvertisingOptOut"]) == (2, 1, 1)


def test_gpc_is_the_signal_as_seen_even_where_the_visitor_opted_back_in():
    on = d.Signals(gpc=True)
    back_in = d.decide(d.Context(PURPOSES, "opt_out", NOW, timedelta(days=365), signals=on,
                                 choice=d.Choice({"advertising": True}, NOW, signals=on)))
    assert back_in.purposes["advertising"].granted
    sections = gpp.encode("US-CA", back_in, on).sections
    assert sections["usca"]["Gpc"] is True and sections["usca"]["SaleOptOut"] == gpp.DID_NOT_OPT_OUT
    assert gpp.encode("US-CA", outcome(), d.Signals()).sections["usnat"]["Gpc"] is False


def test_notices_and_mspa_come_from_the_site_settings():
    settings = gpp.GppSettings(sharing_notice=False, sale_opt_out_notice=False, mspa_covered_transaction=True,
                               mspa_mode=gpp.SERVICE_PROVIDER_MODE)
    usnat = gpp.encode("US-TX", outcome(), d.Signals(), settings).sections
    assert usnat["usnat"]["SharingNotice"] == usnat["ustx"]["ProcessingNotice"] == gpp.NO
    assert usnat["usnat"]["SaleOptOutNotice"] == gpp.NO and usnat["usnat"]["SharingOptOutNotice"] == gpp.YES
    assert (usnat["ustx"]["MspaCoveredTransaction"], usnat["ustx"]["MspaOptOutOptionMode"],
            usnat["ustx"]["MspaServiceProviderMode"]) == (1, 2, 1)


@pytest.mark.parametrize("covered, mode", [(True, None), (True, "both"), (False, gpp.SERVICE_PROVIDER_MODE)])
def test_mspa_settings_that_contradict_themselves_are_refused(covered, mode):
    with pytest.raises(ValueError):
        gpp.GppSettings(mspa_covered_transaction=covered, mspa_mode=mode)


@pytest.mark.parametrize("value, code", [(1, "11"), (2, "011"), (3, "0011"), (4, "1011"), (7, "01011"), (21, "00000011")])
def test_fibonacci_coding(value, code):
    assert gpp._fibonacci(value) == code


def test_the_header_lists_runs_of_section_ids():
    # One run 7..8: a 12-bit count of 1, the run flag, Fibonacci 7, then the run's length 1.
    assert gpp._fibonacci_range((7, 8)) == "000000000001" + "1" + "01011" + "11"
    assert gpp._fibonacci_range((7, 10)) == "000000000010" + "0" + "01011" + "0" + "0011"
    assert gpp._fibonacci_range(()) == "000000000000"

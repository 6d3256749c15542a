"""Regions below the country (consent/regions.py): the header read, the fallback, the US state presets."""
import re
from datetime import date

import pytest
from django.test import RequestFactory, override_settings

from cmp.environment import Environment
from consent import client, gpp
from consent import regions as r
from tests.support import ROOT

CLOUDFLARE = {"country_header": "CF-IPCountry", "region_header": "CF-Region-Code"}
CLOUDFRONT = {"country_header": "CloudFront-Viewer-Country", "region_header": "CloudFront-Viewer-Country-Region"}
ON = date(2026, 11, 25)


def test_cloudflare_and_cloudfront_send_the_subdivision_alone_and_it_joins_the_country():
    assert r.region_from_headers({"CF-IPCountry": "US", "CF-Region-Code": "CA"}, **CLOUDFLARE) == "US-CA"
    # CloudFront's names, sent in lower case as HTTP/2 does: names match without regard to case.
    headers = {"cloudfront-viewer-country": "US", "cloudfront-viewer-country-region": "co"}
    assert r.region_from_headers(headers, **CLOUDFRONT) == "US-CO"
    # Subdivisions of three characters (England) and with digits (a French département) are ISO 3166-2 too.
    assert r.region_from_headers({"CF-IPCountry": "GB", "CF-Region-Code": "ENG"}, **CLOUDFLARE) == "GB-ENG"
    assert r.region_from_headers({"CF-IPCountry": "FR", "CF-Region-Code": "75"}, **CLOUDFLARE) == "FR-75"


def test_a_whole_code_is_read_as_it_is_unless_it_names_another_country():
    assert r.region_from_headers({"CF-IPCountry": "US", "CF-Region-Code": "US-VA"}, **CLOUDFLARE) == "US-VA"
    assert r.region_from_headers({"CF-Region-Code": " us-tx "}, **CLOUDFLARE) == "US-TX"
    # The two trusted headers contradict each other: the country alone stands.
    assert r.region_from_headers({"CF-IPCountry": "FR", "CF-Region-Code": "US-CA"}, **CLOUDFLARE) == "FR"
    assert r.region_from_headers({"CF-Region-Code": "XX-CA"}, **CLOUDFLARE) is None


@pytest.mark.parametrize("value", ["", "  ", "CALIFORNIA", "C A", "US-", "-CA", "US-CA-1", "ÇA", "US_CA", "1" * 200])
def test_no_usable_region_falls_back_to_the_country(value):
    assert r.region_from_headers({"CF-IPCountry": "US", "CF-Region-Code": value}, **CLOUDFLARE) == "US"


def test_without_a_country_a_bare_subdivision_means_nothing():
    assert r.region_from_headers({"CF-Region-Code": "CA"}, **CLOUDFLARE) is None
    assert r.region_from_headers({}, **CLOUDFLARE) is None


@pytest.mark.parametrize("country", ["XX", "T1", "EU", "usa", "U", ""])
def test_unknown_or_malformed_countries_give_no_region(country):
    assert r.region_from_headers({"CF-IPCountry": country, "CF-Region-Code": "CA"}, **CLOUDFLARE) is None


def test_an_empty_header_name_turns_that_header_off():
    headers = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
    assert r.region_from_headers(headers, country_header="CF-IPCountry", region_header="") == "US"
    assert r.region_from_headers(headers, country_header="", region_header="CF-Region-Code") is None


def test_the_request_helper_reads_the_configured_headers():
    factory = RequestFactory()
    request = factory.get("/", HTTP_CF_IPCOUNTRY="US", HTTP_CF_REGION_CODE="NJ")
    assert client.region(request) == "US-NJ"
    with override_settings(CMP_REGION_HEADER="CloudFront-Viewer-Country-Region"):
        assert client.region(request) == "US"  # Cloudflare's header is no longer trusted
        cloudfront = factory.get("/", HTTP_CF_IPCOUNTRY="US", HTTP_CLOUDFRONT_VIEWER_COUNTRY_REGION="MN")
        assert client.region(cloudfront) == "US-MN"


def test_the_region_header_setting_must_be_a_header_name():
    env = Environment({"CMP_REGION_HEADER": "CloudFront-Viewer-Country-Region"})
    assert env.header("CMP_REGION_HEADER", "CF-Region-Code") == "CloudFront-Viewer-Country-Region"
    assert env.problems == []
    assert Environment({"CMP_REGION_HEADER": ""}).header("CMP_REGION_HEADER", "CF-Region-Code") == ""
    assert Environment({}).header("CMP_REGION_HEADER", "CF-Region-Code") == "CF-Region-Code"
    bad = Environment({"CMP_REGION_HEADER": "Region Code: x"})
    assert bad.header("CMP_REGION_HEADER", "CF-Region-Code") == "CF-Region-Code"
    assert bad.problems == ["CMP_REGION_HEADER='Region Code: x' is not valid: expected a header name such as "
                            "CloudFront-Viewer-Country-Region (or empty)."]


def test_every_preset_is_a_us_state_in_force_with_an_opt_out_of_sale():
    assert len(r.US_STATES) == 19
    assert r.presets_in_force(ON) == tuple(r.US_STATES.values())
    for region, preset in r.US_STATES.items():
        assert region == preset.region and r.REGION_RE.match(region) and region.startswith("US-")
        assert preset.effective <= ON and preset.regime == "opt_out"
        assert r.SALE in preset.opt_outs and preset.opt_outs <= set(r.OPT_OUTS)
        assert preset.gpc_required_from is None or preset.gpc_required_from >= preset.effective
        # A named section is one the encoder can write.
        assert preset.gpp_section is None or preset.gpp_section in gpp.LAYOUTS


def test_gpc_duty_follows_its_date():
    oregon = r.US_STATES["US-OR"]
    assert not oregon.requires_gpc(date(2025, 12, 31)) and oregon.requires_gpc(date(2026, 1, 1))
    assert not r.US_STATES["US-VA"].requires_gpc(ON)
    assert {p.region for p in r.US_STATES.values() if p.requires_gpc(ON)} == {
        "US-CA", "US-CO", "US-CT", "US-TX", "US-OR", "US-MT", "US-DE", "US-NE", "US-NH", "US-NJ", "US-MN", "US-MD"}
    assert [p.region for p in r.presets_in_force(date(2025, 12, 31))].count("US-IN") == 0


def test_the_docs_table_says_what_the_presets_say():
    """docs/us-states.md has one row per preset, with its law, date, opt-outs, GPC duty and GPP section."""
    text = (ROOT / "docs" / "us-states.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and re.fullmatch(r"US-[A-Z]{2}", cells[0]):
            rows[cells[0]] = cells
    assert set(rows) == set(r.US_STATES)
    for region, preset in r.US_STATES.items():
        _, state, law, effective, opt_outs, gpc, section, unsure = rows[region]
        assert state == preset.state and law == preset.law and effective == preset.effective.isoformat()
        assert {o.strip() for o in opt_outs.split(",")} == {o.replace("_", " ") for o in preset.opt_outs}
        assert gpc == (f"yes, from {preset.gpc_required_from.isoformat()}" if preset.gpc_required_from else "no")
        assert section == (f"usnat + {preset.gpp_section}" if preset.gpp_section else "usnat")
        assert (unsure == "") == (preset.unsure == ""), region


def test_the_regime_is_the_sites_most_specific_word_then_the_preset_then_the_default():
    assert r.regime_for("US-CA", {}, "opt_in") == "opt_out"  # the preset, with nothing configured
    assert r.regime_for("US-NY", {}, "opt_in") == "opt_in"  # no comprehensive law: the default
    assert r.regime_for("US", {}, "opt_in") == "opt_in"
    assert r.regime_for(None, {"US": "opt_out"}, "opt_in") == "opt_in"
    # A site that chose for the whole country keeps its choice in every state ...
    assert r.regime_for("US-CA", {"US": "opt_in"}, "opt_out") == "opt_in"
    # ... unless it chose for the state itself.
    assert r.regime_for("US-CA", {"US": "opt_in", "US-CA": "opt_out"}, "opt_in") == "opt_out"
    assert r.regime_for("FR-75", {"FR": "opt_in"}, "opt_out") == "opt_in"


@pytest.mark.parametrize("value", ["US", "us", " FR ", "XX", "T1", "EU", "USA", "", "1A"])
def test_the_region_reader_and_the_lookups_country_reader_agree(value):
    # consent/client.py's country() still has its own copy of the rule (the lookup path is not changed here).
    request = RequestFactory().get("/", HTTP_CF_IPCOUNTRY=value)
    assert r.country_code(value) == client.country(request)

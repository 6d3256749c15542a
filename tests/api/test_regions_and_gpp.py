"""Regions below the country and the IAB GPP string, through the API.

The visitor's region (``US-CA`` from the region header, else the country)
chooses the regime in the lookup, the writes and the banner's config; a
site's overrides take regions as well as countries; answers that depend on
the region headers say so in ``Vary``. Every lookup, write, webhook message
and receipt carries ``gpp``, which the IAB's own library (``@iabgpp/cmpapi``,
through ``tests/unit/test_gpp_iab.py``'s helper) decodes to fields that
match the decisions in the same answer.
"""
import json
import re

import pytest
from django.test import override_settings

from audit import receipts
from banner.config import PRIVACY_CHOICES_ICON
from consent.models import ConsentEvent, Visitor
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, lookup_url, new_visitor_id, token_of, write_url
from tests.unit.test_gpp_iab import iab

pytestmark = pytest.mark.django_db
OPTIONAL = ("analytics", "advertising", "recognition")  # the demo site's; advertising and recognition: sale or sharing
PLACES = {  # what the CDN (Cloudflare's headers, the defaults) sends
    "US-CA": {"HTTP_CF_IPCOUNTRY": "US", "HTTP_CF_REGION_CODE": "CA"},
    "US-TX": {"HTTP_CF_IPCOUNTRY": "US", "HTTP_CF_REGION_CODE": "TX"},
    "US": {"HTTP_CF_IPCOUNTRY": "US"},
    "FR": {"HTTP_CF_IPCOUNTRY": "FR", "HTTP_CF_REGION_CODE": "IDF"},
    None: {},
}
SECTIONS = {"US-CA": [7, 8], "US-TX": [7, 16], "US": [7], "FR": [-1], None: [-1]}
SECTION_NAMES = {7: "usnat", 8: "usca", 16: "ustx"}


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


def write(api, visitor, place, choices, **headers):
    body = consent_body(visitor, choices={key: choices for key in OPTIONAL})
    response = api.post(write_url(), body, format="json", **PLACES[place], **headers)
    assert response.status_code in (200, 201), response.content
    return response.json()


def config(client, place):
    return client.get("/api/v1/sites/demo/config", **PLACES[place]).json()


# --- The region chooses the regime ------------------------------------------------------------------------

@pytest.mark.parametrize("place, regime", [("US-CA", "opt_out"), ("US-TX", "opt_out"), ("US", "opt_out"),
                                           ("FR", "opt_in"), (None, "opt_in")])
def test_an_unknown_visitor_gets_its_regions_regime_and_sections(api, client, demo_site, place, regime):
    answer = api.get(lookup_url(new_visitor_id()), **PLACES[place]).json()
    assert answer["regime"] == regime
    assert answer["gpp"]["applicable_sections"] == SECTIONS[place]
    assert config(client, place)["regime"] == regime
    assert config(client, place)["region"] == {"FR": "FR-IDF"}.get(place, place)  # Paris: Île-de-France


def test_a_state_without_overrides_gets_its_preset_not_the_default(api, client, demo_site):
    demo_site.regime_overrides = {}  # default opt-in everywhere, but California's law is opt-out
    demo_site.save()
    assert api.get(lookup_url(new_visitor_id()), **PLACES["US-CA"]).json()["regime"] == "opt_out"
    assert api.get(lookup_url(new_visitor_id()), **PLACES["US"]).json()["regime"] == "opt_in"  # no state: default
    assert config(client, "US-CA")["regime"] == "opt_out" and config(client, "US")["regime"] == "opt_in"


def test_a_sites_override_of_one_state_wins_over_its_country(api, client, demo_site):
    demo_site.regime_overrides = {**demo_site.regime_overrides, "US-CA": "opt_in"}
    demo_site.full_clean()
    demo_site.save()
    assert api.get(lookup_url(new_visitor_id()), **PLACES["US-CA"]).json()["regime"] == "opt_in"
    assert api.get(lookup_url(new_visitor_id()), **PLACES["US-TX"]).json()["regime"] == "opt_out"  # "US" still
    assert config(client, "US-CA")["regime"] == "opt_in" and config(client, "US-TX")["regime"] == "opt_out"
    visitor = new_visitor_id()
    assert write(api, visitor, "US-CA", True)["regime"] == "opt_in"


def test_the_stored_region_is_the_visitors_for_good(api, demo_site):
    visitor = new_visitor_id()
    written = write(api, visitor, "US-CA", False)
    assert Visitor.objects.get(uuid=visitor).region == "US-CA"
    assert ConsentEvent.objects.get(visitor__uuid=visitor).region == "US-CA"
    # A site's server asking from France, or with no header at all, gets the Californian's answer.
    for place in ("FR", None):
        answer = api.get(lookup_url(visitor), **PLACES[place]).json()
        assert answer["regime"] == "opt_out" and answer["gpp"] == written["gpp"]


def test_a_region_header_of_another_country_is_not_believed(api, demo_site):
    answer = api.get(lookup_url(new_visitor_id()), HTTP_CF_IPCOUNTRY="FR", HTTP_CF_REGION_CODE="US-CA").json()
    assert answer["regime"] == "opt_in" and answer["gpp"]["applicable_sections"] == [-1]


def test_overrides_take_regions_and_explain_what_is_wrong(demo_site):
    from django.core.exceptions import ValidationError
    demo_site.regime_overrides = {"US-CA": "opt_in", "GB-SCT": "opt_out", "FR": "opt_in"}
    demo_site.full_clean()
    for bad, words in (({"US-California": "opt_in"}, "region code like US-CA"), ({"XX-CA": "opt_in"}, "names no country"),
                       ({"us-ca": "opt_in"}, "region code like US-CA"), ({"US-CA": "strict"}, "not one of")):
        demo_site.regime_overrides = bad
        with pytest.raises(ValidationError, match=words):
            demo_site.full_clean()


# --- Vary -------------------------------------------------------------------------------------------------

def test_answers_that_depend_on_the_region_vary_on_both_headers(api, client, demo_site):
    both = {"cf-ipcountry", "cf-region-code"}
    assert both <= vary(api.get(lookup_url(new_visitor_id()), **PLACES["US-CA"]))
    assert both | {"origin"} <= vary(client.get("/api/v1/sites/demo/config"))
    assert both | {"accept-language"} <= vary(client.get("/c/demo.js"))


@override_settings(CMP_COUNTRY_HEADER="CloudFront-Viewer-Country", CMP_REGION_HEADER="CloudFront-Viewer-Country-Region")
def test_the_configured_headers_are_read_and_named_in_vary(api, client, demo_site):
    headers = {"HTTP_CLOUDFRONT_VIEWER_COUNTRY": "US", "HTTP_CLOUDFRONT_VIEWER_COUNTRY_REGION": "TX"}
    answer = api.get(lookup_url(new_visitor_id()), **headers)
    assert answer.json()["gpp"]["applicable_sections"] == [7, 16]
    assert {"cloudfront-viewer-country", "cloudfront-viewer-country-region"} <= vary(answer)
    assert "cf-region-code" not in vary(answer)
    script = client.get("/c/demo.js", **headers)
    assert "cloudfront-viewer-country-region" in vary(script)
    assert '"region":"US-TX"' in script.content.decode().split("\n", 1)[0]


@override_settings(CMP_REGION_HEADER="")
def test_without_a_region_header_the_country_alone_counts(api, client, demo_site):
    answer = api.get(lookup_url(new_visitor_id()), **PLACES["US-CA"])
    assert answer.json()["gpp"]["applicable_sections"] == [7]
    assert "cf-region-code" not in vary(answer) and "cf-ipcountry" in vary(answer)


# --- The banner's us_privacy ------------------------------------------------------------------------------

@pytest.mark.parametrize("sensitive", [False, True])
def test_the_config_says_which_us_links_and_sections_apply(client, demo_site, sensitive):
    demo_site.uses_sensitive_data = sensitive
    demo_site.save()
    assert config(client, "US-CA")["us_privacy"] == {
        "gpp_sections": [7, 8], "privacy_choices_link": True, "limit_sensitive_link": sensitive,
        "privacy_choices_icon": PRIVACY_CHOICES_ICON}  # drawn by the banner, 4 paths on a 30 × 14 box
    # Texas gives no right to limit sensitive data, and no set link wording.
    assert config(client, "US-TX")["us_privacy"] == {
        "gpp_sections": [7, 16], "privacy_choices_link": False, "limit_sensitive_link": False}
    assert config(client, "US")["us_privacy"] == {
        "gpp_sections": [7], "privacy_choices_link": False, "limit_sensitive_link": False}
    assert config(client, "FR")["us_privacy"] is None and config(client, None)["us_privacy"] is None
    script = client.get("/c/demo.js", **PLACES["US-CA"]).content.decode().split("\n", 1)[0]
    assert f'"limit_sensitive_link":{json.dumps(sensitive)}' in script


def test_the_site_form_shows_the_sensitive_data_setting(admin_client, demo_site):
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/").content.decode()
    assert 'name="uses_sensitive_data"' in page and "Limit the use of my sensitive personal information" in page


# --- The GPP string in every answer, read by the IAB's library --------------------------------------------

def expected_fields(answer) -> dict:
    """What the IAB's fields must say, from the decisions in the same answer (1 opted out, 2 did not)."""
    sold = answer["decisions"]["advertising"]["granted"]
    tailored = answer["ad_personalization"]["granted"]
    return {"SaleOptOut": 2 if sold else 1, "SharingOptOut": 2 if tailored else 1,
            "TargetedAdvertisingOptOut": 2 if tailored else 1, "Gpc": answer["signals"]["gpc"]}


def check_decoded(place, answer, decoded, sensitive=False):
    assert "error" not in decoded, (answer["gpp"], decoded)
    ids = [i for i in SECTIONS[place] if i > 0]
    assert decoded["sectionIds"] == ids and set(decoded["sections"]) == {SECTION_NAMES[i] for i in ids}
    assert answer["gpp"]["applicable_sections"] == SECTIONS[place]
    for name, fields in decoded["sections"].items():
        for field, value in expected_fields(answer).items():
            if field in fields:
                assert fields[field] == value, (place, name, field, answer["gpp"]["string"])
        assert "SaleOptOut" in fields and "Gpc" in fields  # usnat, usca and ustx all have both
        if "SensitiveDataLimitUseNotice" in fields:
            assert fields["SensitiveDataLimitUseNotice"] == (1 if sensitive and place == "US-CA" else 0)


SCENARIOS = {  # name: (place, choices, Sec-GPC on the write)
    "US-CA rejected": ("US-CA", False, False),
    "US-CA accepted": ("US-CA", True, False),
    "US-CA accepted with GPC": ("US-CA", True, True),
    "US-TX accepted": ("US-TX", True, False),
    "US-TX rejected": ("US-TX", False, False),
    "FR accepted": ("FR", True, False),
}


def test_lookup_write_webhook_and_receipt_carry_the_string_of_their_decisions(api, demo_site):
    WebhookEndpoint.objects.create(site=demo_site, url="https://hooks.example.com/consent", secret="s" * 64)
    demo_site.uses_sensitive_data = True
    demo_site.save()
    made = []
    for name, (place, choices, gpc) in SCENARIOS.items():
        visitor = new_visitor_id()
        written = write(api, visitor, place, choices, **({"HTTP_SEC_GPC": "1"} if gpc else {}))
        looked_up = api.get(lookup_url(visitor)).json()  # asked without any region header: the stored one counts
        message = OutboxMessage.objects.filter(payload__visitor_id=visitor).get().payload
        listed = api.get(f"/api/v1/sites/demo/visitors/{visitor}/receipts",
                         HTTP_AUTHORIZATION=f"Bearer {token_of(visitor)}").json()["receipts"][0]
        signed = receipts.verify(listed)  # the JWS's own payload, checked against its signature
        # The webhook and the receipt say what the write answered; the lookup says the same decisions.
        assert message["gpp"] == written["gpp"] == signed["gpp"] == listed["receipt"]["gpp"], name
        assert looked_up["gpp"] == written["gpp"], name
        assert message["decisions"] == written["decisions"] == looked_up["decisions"], name
        made += [(name, place, written), (name, place, looked_up)]
    decoded = iab([{"string": answer["gpp"]["string"], "sections": {}} for _, _, answer in made])
    for (_name, place, answer), result in zip(made, decoded, strict=True):
        check_decoded(place, answer, result["decoded"], sensitive=True)
    by_name = {name: answer for name, _, answer in made}
    # The scenarios reach both answers of the opt-out and GPC fields.
    assert expected_fields(by_name["US-CA rejected"])["SaleOptOut"] == 1
    assert expected_fields(by_name["US-CA accepted"])["SaleOptOut"] == 2
    assert expected_fields(by_name["US-CA accepted with GPC"]) == {
        "SaleOptOut": 1, "SharingOptOut": 1, "TargetedAdvertisingOptOut": 1, "Gpc": True}
    assert by_name["FR accepted"]["gpp"] == {"string": "DBAA", "applicable_sections": [-1]}


def test_the_lookup_string_follows_this_requests_gpc_not_a_cached_one(api, demo_site):
    """The GPP string is made per request from the rule's outcome: the visitor's cached state is shared by
    requests with and without Sec-GPC, and each gets its own string."""
    visitor = new_visitor_id()
    write(api, visitor, "US-CA", True)
    plain = api.get(lookup_url(visitor)).json()
    with_gpc = api.get(lookup_url(visitor), HTTP_SEC_GPC="1").json()
    again = api.get(lookup_url(visitor)).json()
    assert plain["gpp"] == again["gpp"] != with_gpc["gpp"]
    results = iab([{"string": a["gpp"]["string"], "sections": {}} for a in (plain, with_gpc)])
    for answer, result in zip((plain, with_gpc), results, strict=True):
        check_decoded("US-CA", answer, result["decoded"])
    assert expected_fields(plain) == {"SaleOptOut": 2, "SharingOptOut": 2, "TargetedAdvertisingOptOut": 2, "Gpc": False}
    assert expected_fields(with_gpc) == {"SaleOptOut": 1, "SharingOptOut": 1, "TargetedAdvertisingOptOut": 1, "Gpc": True}


def test_an_unknown_visitor_gets_the_string_of_the_regimes_defaults(api, demo_site):
    answers = [api.get(lookup_url(new_visitor_id()), **PLACES[place]).json() for place in ("US-CA", "US-TX", "FR")]
    results = iab([{"string": a["gpp"]["string"], "sections": {}} for a in answers])
    for place, answer, result in zip(("US-CA", "US-TX", "FR"), answers, results, strict=True):
        check_decoded(place, answer, result["decoded"])
    assert expected_fields(answers[0])["SaleOptOut"] == 2  # opt-out regime: sold until the visitor opts out


def test_the_fail_closed_answer_carries_an_opted_out_string(api, demo_site, monkeypatch):
    from django.db import DatabaseError

    from consent import lookups

    api.get(lookup_url(new_visitor_id()))  # the rules are loaded once: enough to fail closed

    def broken(*args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr(lookups, "rules_and_state", broken)
    response = api.get(lookup_url(new_visitor_id()), HTTP_SEC_GPC="1", **PLACES["US-CA"])
    assert response.status_code == 503
    answer = response.json()
    result = iab([{"string": answer["gpp"]["string"], "sections": {}}])[0]["decoded"]
    assert result["sections"]["usca"]["SaleOptOut"] == 1 and result["sections"]["usca"]["Gpc"] is True
    assert re.fullmatch(r"[A-Za-z0-9_~.-]+", answer["gpp"]["string"])


def test_an_expiry_tells_the_webhook_the_string_of_the_decisions_after_it(api, demo_site):
    """A Texan who refused sale: once the choice expires, the opt-out regime's defaults sell again, and the
    expiry's webhook message, event and receipt say so in Texas's sections, as the lookup does."""
    from datetime import timedelta

    from django.utils import timezone

    from consent import expiry

    WebhookEndpoint.objects.create(site=demo_site, url="https://hooks.example.com/consent", secret="s" * 64)
    visitor = new_visitor_id()
    refused = write(api, visitor, "US-TX", False)
    Visitor.objects.filter(uuid=visitor).update(chosen_at=timezone.now() - timedelta(days=400))
    assert expiry.expire_choices() == 1
    message = OutboxMessage.objects.filter(payload__visitor_id=visitor).order_by("created_at").last().payload
    event = ConsentEvent.objects.get(visitor__uuid=visitor, source="expiry")
    looked_up = api.get(lookup_url(visitor)).json()
    assert message["gpp"] == event.gpp == looked_up["gpp"] != refused["gpp"]
    assert message["decisions"]["advertising"] == {"granted": True, "reason": "expired"}  # granted: opt-out regime
    result = iab([{"string": message["gpp"]["string"], "sections": {}}])[0]["decoded"]
    check_decoded("US-TX", looked_up, result)
    assert result["sections"]["ustx"]["SaleOptOut"] == 2

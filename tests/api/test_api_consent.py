"""The consent write and lookup APIs, through HTTP with the real stack."""

import pytest

from consent.models import ConsentEvent, PolicyVersion, Visitor
from tests.support import consent_body, lookup_url, token_of, write_url

pytestmark = pytest.mark.django_db


def post(api, body, **headers):
    return api.post(write_url(), body, format="json", **headers)


def test_first_write_creates_visitor_returns_token_and_decisions(api, demo_site, visitor_id):
    response = post(api, consent_body(visitor_id))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["visitor_id"] == visitor_id
    assert len(body["token"]) >= 32
    assert body["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    assert body["decisions"]["advertising"] == {"granted": False, "reason": "choice"}
    assert body["decisions"]["security"] == {"granted": True, "reason": "essential"}
    assert body["consent_mode"]["analytics_storage"] == "granted"
    assert body["consent_mode"]["ad_storage"] == "denied"
    assert body["regime"] == "opt_in"
    assert body["policy_version"] == "1"
    visitor = Visitor.objects.get(uuid=visitor_id)
    assert visitor.token_hash != body["token"]  # only a hash is stored
    assert visitor.choices == {"analytics": True, "advertising": False, "recognition": False}


def test_every_write_appends_one_event(api, demo_site, visitor_id):
    token = post(api, consent_body(visitor_id)).json()["token"]
    post(api, consent_body(visitor_id, token=token, choices={"analytics": False}))
    events = list(ConsentEvent.objects.filter(visitor__uuid=visitor_id).order_by("id"))
    assert [e.choices for e in events] == [
        {"analytics": True, "advertising": False, "recognition": False},
        {"analytics": False},
    ]
    first = events[0]
    assert first.source == "banner"
    assert first.decisions["analytics"] == {"granted": True, "reason": "choice"}
    assert first.consent_mode["analytics_storage"] == "granted"
    assert (first.policy_version, first.banner_version, first.language, first.regime) == ("1", "1.0.0", "en", "opt_in")


def test_event_records_region_truncated_ip_and_user_agent(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id), HTTP_CF_IPCOUNTRY="fr", REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Firefox/140")
    event = ConsentEvent.objects.get(visitor__uuid=visitor_id)
    assert event.region == "FR"
    assert event.ip_prefix == "203.0.113.0/24"
    assert "77" not in event.ip_prefix
    assert event.user_agent == "Firefox/140"


def test_ipv6_is_truncated_to_48_bits(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id), REMOTE_ADDR="2001:db8:abcd:12:1:2:3:4")
    assert ConsentEvent.objects.get(visitor__uuid=visitor_id).ip_prefix == "2001:db8:abcd::/48"


@pytest.mark.parametrize("token, code", [(None, "token_required"), ("x" * 43, "bad_token")])
def test_later_write_without_the_right_token_is_refused(api, demo_site, visitor_id, token, code):
    post(api, consent_body(visitor_id))
    response = post(api, consent_body(visitor_id, token=token, choices={"analytics": False}))
    assert response.status_code == 403
    assert response.json()["error"] == code
    assert Visitor.objects.get(uuid=visitor_id).choices["analytics"] is True
    assert ConsentEvent.objects.filter(visitor__uuid=visitor_id).count() == 1


def test_later_write_with_token_updates_the_choice(api, demo_site, visitor_id):
    token = post(api, consent_body(visitor_id)).json()["token"]
    response = post(api, consent_body(visitor_id, token=token, choices={"analytics": False, "advertising": True}))
    assert response.status_code == 201
    assert response.json()["token"] == token
    assert response.json()["decisions"]["advertising"] == {"granted": True, "reason": "choice"}


def test_retried_first_write_with_client_made_token_is_accepted(api, demo_site, visitor_id):
    # The banner may propose the token, so a first write whose answer was lost
    # (offline) can be sent again without being refused: no choice is lost.
    token = token_of(visitor_id)  # made in the browser; the id is derived from it
    first = post(api, consent_body(visitor_id, token=token))
    again = post(api, consent_body(visitor_id, token=token))
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["token"] == token
    assert ConsentEvent.objects.filter(visitor__uuid=visitor_id).count() == 2


def test_signal_only_write_keeps_the_earlier_choice(api, demo_site, visitor_id):
    token = post(api, consent_body(visitor_id, choices={"analytics": True, "advertising": True, "recognition": True})).json()["token"]
    response = post(api, {"visitor_id": visitor_id, "token": token, "signals": {"ga_optout": True}})
    assert response.status_code == 201
    body = response.json()
    assert body["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    assert body["decisions"]["analytics"] == {"granted": False, "reason": "ga_optout"}
    event = ConsentEvent.objects.filter(visitor__uuid=visitor_id).latest("id")
    assert event.source == "ga_optout" and event.choices == {} and event.signals["ga_optout"] is True


def test_app_reports_limit_ad_tracking_with_the_site_api_key(api, demo_site, visitor_id):
    from consent.api_keys import issue_key
    from consent.models import ApiKey

    key = issue_key(ApiKey(site=demo_site, name="iOS app"))
    post(api, consent_body(visitor_id, choices={"analytics": True, "advertising": True, "recognition": True}))
    # No visitor token: the site's own server vouches with its key.
    response = post(api, {"visitor_id": visitor_id, "signals": {"lat": True}}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 201
    body = response.json()
    assert body["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    assert body["ad_personalization"] == {"granted": False, "reason": "lat"}
    assert body["consent_mode"]["ad_personalization"] == "denied"
    event = ConsentEvent.objects.filter(visitor__uuid=visitor_id).latest("id")
    assert event.source == "lat" and event.choices == {} and event.signals["lat"] is True


def test_essential_purpose_granted_in_choice_is_accepted_but_not_stored(api, demo_site, visitor_id):
    response = post(api, consent_body(visitor_id, choices={"security": True, "analytics": False}))
    assert response.status_code == 201
    assert Visitor.objects.get(uuid=visitor_id).choices == {"analytics": False}


def test_gpc_header_counts_as_signal_on_write(api, demo_site, visitor_id):
    response = post(api, consent_body(visitor_id, choices={"analytics": True, "advertising": True, "recognition": True}, signals={}), HTTP_SEC_GPC="1")
    body = response.json()
    assert body["signals"]["gpc"] is True
    # Granted while GPC was on, but the conflict was not confirmed: GPC keeps sale and sharing denied.
    assert body["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}


def test_gpc_header_with_other_value_is_ignored(api, demo_site, visitor_id):
    response = post(api, consent_body(visitor_id), HTTP_SEC_GPC="true")
    assert response.json()["signals"]["gpc"] is False


# --- Lookups --------------------------------------------------------------------

def test_unknown_visitor_gets_regime_defaults(api, demo_site, visitor_id):
    response = api.get(lookup_url(visitor_id))
    assert response.status_code == 200
    body = response.json()
    assert body["site"] == "demo" and body["visitor_id"] == visitor_id
    assert body["regime"] == "opt_in"
    assert body["policy_version"] == "1"
    assert body["decisions"]["analytics"] == {"granted": False, "reason": "default_opt_in"}
    assert body["decisions"]["authentication"] == {"granted": True, "reason": "essential"}
    assert body["consent_mode"]["analytics_storage"] == "denied"
    assert body["consent_mode"]["functionality_storage"] == "granted"
    assert body["signals"] == {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False}
    assert body["needs_choice"] is True
    assert response["Cache-Control"] == "no-store"


def test_region_header_selects_the_regime(api, demo_site, visitor_id):
    us = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="US").json()
    assert us["regime"] == "opt_out"
    assert us["decisions"]["analytics"] == {"granted": True, "reason": "default_opt_out"}
    de = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="DE").json()
    assert de["regime"] == "opt_in"
    unknown = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="XX").json()
    assert unknown["regime"] == "opt_in"  # unknown region: the strictest rule


def test_lookup_after_write_is_never_stale(api, demo_site, visitor_id):
    # Warm the cache with "unknown visitor", then write twice; each lookup
    # right after a write must show that write.
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is False
    token = post(api, consent_body(visitor_id)).json()["token"]
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    post(api, consent_body(visitor_id, token=token, choices={"analytics": False}))
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] == {"granted": False, "reason": "choice"}


def test_lookup_of_one_purpose(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id))
    body = api.get(lookup_url(visitor_id) + "?purpose=analytics").json()
    assert (body["purpose"], body["granted"], body["reason"]) == ("analytics", True, "choice")


def test_lookup_applies_gpc_header(api, demo_site, visitor_id):
    body = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="US", HTTP_SEC_GPC="1").json()
    assert body["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}
    assert body["signals"]["gpc"] is True


@pytest.mark.parametrize("material, analytics, needs_choice", [
    (True, {"granted": False, "reason": "policy_changed"}, True),  # a material change makes the earlier choice absent
    (False, {"granted": True, "reason": "choice"}, False),  # another change keeps it
])
def test_a_new_policy_version_asks_again_only_when_material(api, demo_site, visitor_id, material, analytics, needs_choice):
    post(api, consent_body(visitor_id))
    PolicyVersion.objects.create(site=demo_site, version="2", url="https://example.com/p2", material=material)
    body = api.get(lookup_url(visitor_id)).json()
    assert body["decisions"]["analytics"] == analytics
    assert body["policy_version"] == "2"
    assert body["needs_choice"] is needs_choice


def test_same_visitor_id_on_two_sites_is_two_visitors(api, demo_site, visitor_id):
    from consent.models import Site
    from consent.site_setup import create_site

    create_site(Site(key="other", name="Other"), "https://other.example/privacy")
    post(api, consent_body(visitor_id))
    response = api.post(write_url("other"), consent_body(visitor_id, policy_version=None), format="json")
    assert response.status_code == 201  # no token needed: it is a new visitor there
    assert Visitor.objects.filter(uuid=visitor_id).count() == 2


# --- CORS -------------------------------------------------------------------------

def test_cors_allows_only_the_sites_origins(api, demo_site, visitor_id):
    allowed = post(api, consent_body(visitor_id), HTTP_ORIGIN="https://shop.example.com")
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    other = api.get(lookup_url(visitor_id), HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in other


def test_cors_preflight_for_the_write(api, demo_site):
    response = api.options(
        write_url(),
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "content-type" in response["Access-Control-Allow-Headers"]


def test_cors_origin_of_another_site_is_refused(api, demo_site, visitor_id):
    from consent.models import Site

    Site.objects.create(key="other", name="Other", allowed_origins=["https://other.example.org"])
    response = post(api, consent_body(visitor_id), HTTP_ORIGIN="https://other.example.org")
    assert "Access-Control-Allow-Origin" not in response


def test_text_plain_body_is_read_as_json(api, demo_site, visitor_id):
    # The banner may send text/plain to avoid a CORS preflight round trip.
    import json

    response = api.post(write_url(), json.dumps(consent_body(visitor_id)), content_type="text/plain")
    assert response.status_code == 201, response.content
    assert response.json()["visitor_id"] == visitor_id
    assert Visitor.objects.get(uuid=visitor_id).choices == consent_body(visitor_id)["choices"]

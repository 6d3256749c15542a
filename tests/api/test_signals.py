"""Opt-out signals end to end through the API: GPC, NAI, GA opt-out, LAT, DNT."""
import itertools

import pytest
from django.utils import timezone

from consent.api_keys import issue_key
from consent.client import NAI_COOKIE, NAI_OPT_OUT
from consent.models import ApiKey, ConsentEvent, Site, Visitor
from tests.support import consent_body, lookup_url, write_url

pytestmark = pytest.mark.django_db
OPTIONAL = ("analytics", "advertising", "recognition")
REGION = {"opt_in": "FR", "opt_out": "US"}


@pytest.fixture
def api_key(demo_site):
    return issue_key(ApiKey(site=demo_site, name="app"))


def events(visitor_id):
    return list(ConsentEvent.objects.filter(visitor__uuid=visitor_id).order_by("id"))


def send_signal(api, signal, visitor_id, api_key, regime, choices):
    """Make one write that carries ``signal`` the way it reaches us in real life."""
    headers = {"HTTP_CF_IPCOUNTRY": REGION[regime]}
    body = consent_body(visitor_id, signals={})
    if choices is None:
        body.pop("choices")
        body.pop("banner_version")
    else:
        body["choices"] = {k: choices for k in OPTIONAL}
    if signal == "gpc_header":
        headers["HTTP_SEC_GPC"] = "1"
        if choices is None:
            body["signals"] = {"gpc": False}  # a signal-only write needs something in the body
    elif signal == "nai_cookie":
        api.cookies[NAI_COOKIE] = NAI_OPT_OUT
        if choices is None:
            body["signals"] = {"nai_optout": False}
    elif signal == "lat":
        body["signals"] = {"lat": True}
        headers["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
    elif signal == "dnt_header":
        headers["HTTP_DNT"] = "1"
        if choices is None:
            body["signals"] = {"dnt": False}
    else:
        body["signals"] = {signal: True}
    return api.post(write_url(), body, format="json", **headers)


def expected(regime, choices, signal, honor_dnt):
    """The design's rule, written out for one signal and a uniform choice."""
    if choices is None:
        base = {k: (regime == "opt_out", f"default_{regime}") for k in OPTIONAL}
    else:
        base = {k: (choices, "choice") for k in OPTIONAL}
    name = {"gpc_header": "gpc", "nai_cookie": "nai_optout", "dnt_header": "dnt"}.get(signal, signal)
    if name == "ga_optout" and base["analytics"][0]:
        base["analytics"] = (False, "ga_optout")
    # The writes here confirm no conflict: even an explicit grant made under the signal stays denied.
    for key in ("advertising", "recognition"):  # sale or sharing on the demo site
        if name == "gpc" and base[key][0]:
            base[key] = (False, "gpc")
        if name == "dnt" and honor_dnt and base[key][0]:
            base[key] = (False, "dnt")
    personalization = base["advertising"]
    if personalization[0] and name in ("nai_optout", "lat"):
        personalization = (False, name)
    return base, personalization


SIGNALS = ["gpc_header", "gpc", "ga_optout", "nai_optout", "nai_cookie", "lat", "dnt_header", "dnt"]


@pytest.mark.parametrize(
    "signal, regime, choices, honor_dnt",
    [
        (s, r, c, h)
        for s, r, c in itertools.product(SIGNALS, ("opt_in", "opt_out"), (None, True, False))
        for h in ((False, True) if s.startswith("dnt") else (False,))
    ],
)
def test_each_signal_with_each_choice_and_regime(api, demo_site, visitor_id, api_key, signal, regime, choices, honor_dnt):
    if honor_dnt:
        demo_site.honor_dnt = True
        demo_site.save()
    response = send_signal(api, signal, visitor_id, api_key, regime, choices)
    assert response.status_code == 201, response.content
    base, personalization = expected(regime, choices, signal, honor_dnt)
    for answer in (response.json(), api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY=REGION[regime]).json()):
        for key in OPTIONAL:
            assert (answer["decisions"][key]["granted"], answer["decisions"][key]["reason"]) == base[key], key
        assert (answer["ad_personalization"]["granted"], answer["ad_personalization"]["reason"]) == personalization
        assert answer["consent_mode"]["ad_personalization"] == ("granted" if personalization[0] else "denied")
    assert len(events(visitor_id)) == 1


@pytest.mark.parametrize("signal, source", [("gpc", "gpc"), ("nai_optout", "nai"), ("ga_optout", "ga_optout"), ("dnt", "dnt")])
def test_signal_alone_logs_one_event_per_change_not_per_request(api, demo_site, visitor_id, signal, source):
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    body = {"visitor_id": visitor_id, "token": token, "signals": {signal: True}}
    first = api.post(write_url(), body, format="json")
    again = api.post(write_url(), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    logged = events(visitor_id)
    assert [e.source for e in logged] == ["banner", source]
    assert logged[1].signals[signal] is True and logged[1].choices == {}


def test_lat_logs_once_per_change(api, demo_site, visitor_id, api_key):
    api.post(write_url(), consent_body(visitor_id), format="json")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    for value in (True, True, False, False):
        api.post(write_url(), {"visitor_id": visitor_id, "signals": {"lat": value}}, format="json", **auth)
    assert [e.source for e in events(visitor_id)] == ["banner", "lat", "lat"]


def test_gpc_is_recorded_with_first_and_last_seen(api, demo_site, visitor_id):
    token = api.post(write_url(), consent_body(visitor_id), format="json", HTTP_SEC_GPC="1").json()["token"]
    visitor = Visitor.objects.get(uuid=visitor_id)
    first_seen = visitor.gpc_first_seen
    assert first_seen is not None and visitor.gpc_last_seen == first_seen
    api.post(write_url(), {"visitor_id": visitor_id, "token": token, "signals": {"gpc": True}}, format="json")
    visitor.refresh_from_db()
    assert visitor.gpc_first_seen == first_seen
    assert visitor.gpc_last_seen > first_seen


def test_gpc_once_seen_stays_in_force_without_the_signal(api, demo_site, visitor_id):
    # California §7025(c)(5): a later visit without GPC is not consent to opt back in.
    us = {"HTTP_CF_IPCOUNTRY": "US"}
    body = consent_body(visitor_id, choices={"analytics": True}, signals={})
    token = api.post(write_url(), body, format="json", HTTP_SEC_GPC="1", **us).json()["token"]
    later = api.post(write_url(), {**body, "token": token, "signals": {"gpc": False}}, format="json", **us).json()
    assert later["signals"]["gpc"] is True
    assert later["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}
    lookup = api.get(lookup_url(visitor_id), **us).json()
    assert lookup["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}


def test_visitor_may_grant_advertising_while_gpc_is_on(api, demo_site, visitor_id):
    # The banner told them of the conflict and they confirmed: the grant stands.
    body = consent_body(visitor_id, choices={"analytics": False, "advertising": True, "recognition": False},
                        gpc_conflict_confirmed=True)
    answer = api.post(write_url(), body, format="json", HTTP_SEC_GPC="1").json()
    assert answer["decisions"]["advertising"] == {"granted": True, "reason": "choice"}


def test_gpc_header_value_other_than_1_is_ignored(api, demo_site, visitor_id):
    for value in ("0", "true", "1 ", "yes"):
        answer = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="US", HTTP_SEC_GPC=value).json()
        assert answer["signals"]["gpc"] is False, value
        assert answer["decisions"]["advertising"]["granted"] is True


def test_dnt_ignored_by_default(api, demo_site, visitor_id):
    answer = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="US", HTTP_DNT="1").json()
    assert answer["signals"]["dnt"] is True
    assert answer["decisions"]["advertising"] == {"granted": True, "reason": "default_opt_out"}


def test_lookup_names_signals_in_force_and_reasons(api, demo_site, visitor_id):
    api.cookies[NAI_COOKIE] = NAI_OPT_OUT
    answer = api.get(lookup_url(visitor_id), HTTP_CF_IPCOUNTRY="US", HTTP_SEC_GPC="1").json()
    assert answer["signals"] == {"gpc": True, "ga_optout": False, "nai_optout": True, "lat": False, "dnt": False}
    assert answer["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}


# --- API keys ---------------------------------------------------------------------------

def test_lat_from_a_browser_is_refused(api, demo_site, visitor_id):
    response = api.post(write_url(), {"visitor_id": visitor_id, "signals": {"lat": True}}, format="json")
    assert response.status_code == 403 and response.json()["error"] == "api_key_required"


def test_banner_sending_lat_false_cannot_turn_off_what_the_app_reported(api, demo_site, visitor_id, api_key):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    api.post(write_url(), {"visitor_id": visitor_id, "signals": {"lat": True}}, format="json", **auth)
    from_banner = api.post(write_url(), consent_body(visitor_id, token=token), format="json")  # carries lat: false
    assert from_banner.status_code == 201
    assert from_banner.json()["signals"]["lat"] is True
    from_app = api.post(write_url(), {"visitor_id": visitor_id, "signals": {"lat": False}}, format="json", **auth)
    assert from_app.json()["signals"]["lat"] is False


@pytest.mark.parametrize("make_key", ["garbage", "revoked", "other_site", "basic"])
def test_bad_api_keys_are_refused(api, demo_site, visitor_id, api_key, make_key):
    if make_key == "garbage":
        header = "Bearer cmp_not-a-real-key"
    elif make_key == "revoked":
        ApiKey.objects.update(revoked_at=timezone.now())
        header = f"Bearer {api_key}"
    elif make_key == "other_site":
        other = Site.objects.create(key="other", name="Other")
        header = f"Bearer {issue_key(ApiKey(site=other, name='x'))}"
    else:
        header = f"Basic {api_key}"
    response = api.post(write_url(), {"visitor_id": visitor_id, "signals": {"lat": True}}, format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert response.json()["error"] == "bad_api_key"


def test_api_key_is_stored_hashed(demo_site, api_key):
    stored = ApiKey.objects.get()
    assert api_key not in (stored.key_hash, stored.prefix)
    assert api_key.startswith(stored.prefix)


# --- NAI endpoints and gpc.json ---------------------------------------------------------------

def test_nai_optout_sets_a_five_year_cross_site_cookie(client, demo_site):
    response = client.get("/nai/optout")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    cookie = response.cookies[NAI_COOKIE]
    assert cookie.value == NAI_OPT_OUT
    assert int(cookie["max-age"]) >= 5 * 365 * 24 * 3600
    assert cookie["samesite"] == "None" and cookie["secure"] and cookie["httponly"]


def test_nai_status_json_and_image(client, demo_site):
    def gif_width(response):
        assert response.content.startswith(b"GIF89a")
        return int.from_bytes(response.content[6:8], "little")

    assert client.get("/nai/status").json() == {"opted_out": False, "cookie": "none"}
    assert gif_width(client.get("/nai/status.gif")) == 1
    client.cookies["sessionid"] = "abc"
    assert client.get("/nai/status").json()["cookie"] == "identifying"
    assert gif_width(client.get("/nai/status.gif")) == 2
    client.get("/nai/optout")
    assert client.get("/nai/status").json() == {"opted_out": True, "cookie": "opt_out"}
    assert gif_width(client.get("/nai/status.gif")) == 3
    client.get("/nai/optin")
    assert client.get("/nai/status").json()["opted_out"] is False


def test_nai_optout_redirects_only_to_the_sites_own_origins(client, demo_site):
    ok = client.get("/nai/optout", {"return": "https://shop.example.com/thanks?x=1"})
    assert ok.status_code == 302 and ok["Location"] == "https://shop.example.com/thanks?x=1"
    assert NAI_COOKIE in ok.cookies


@pytest.mark.parametrize("target", [
    "https://evil.example.net/",
    "//evil.example.net/",
    "https://shop.example.com.evil.net/",
    "https://shop.example.com@evil.example.net/",
    "javascript:alert(1)",
    "https:\\\\evil.example.net",
    "http://shop.example.com/",  # wrong scheme: not the allowed origin
    "",
])
def test_nai_optout_refuses_other_return_urls(client, demo_site, target):
    response = client.get("/nai/optout", {"return": target})
    assert response.status_code == 400
    assert response.json()["error"] == "return_not_allowed"
    assert NAI_COOKIE not in response.cookies


def test_nai_cookie_on_a_write_is_recorded_and_denies_personalised_ads(api, demo_site, visitor_id):
    api.cookies[NAI_COOKIE] = NAI_OPT_OUT
    body = consent_body(visitor_id, choices={"analytics": True, "advertising": True, "recognition": True})
    answer = api.post(write_url(), body, format="json").json()
    assert answer["signals"]["nai_optout"] is True
    assert answer["decisions"]["advertising"]["granted"] is True
    assert answer["ad_personalization"] == {"granted": False, "reason": "nai_optout"}
    assert events(visitor_id)[0].signals["nai_optout"] is True


def test_nai_endpoints_refuse_post(client, demo_site):
    assert client.post("/nai/optout").status_code == 405


def test_gpc_json(client):
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    body = response.json()
    assert body["gpc"] is True
    assert len(body["lastUpdate"]) == 10  # YYYY-MM-DD


def test_gpc_on_a_lookup_shapes_that_answer_and_is_never_stored(api, demo_site, visitor_id):
    """A lookup is a read: anyone can send Sec-GPC with it, so it changes nothing for good."""
    body = consent_body(visitor_id, choices={"analytics": True, "advertising": True, "recognition": True})
    api.post(write_url(), body, format="json")
    before = Visitor.objects.values().get(uuid=visitor_id)
    for _ in range(3):
        answer = api.get(lookup_url(visitor_id), HTTP_SEC_GPC="1").json()
        assert answer["signals"]["gpc"] is True
        assert answer["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}
    assert Visitor.objects.values().get(uuid=visitor_id) == before  # not stored
    assert [e.source for e in events(visitor_id)] == ["banner"]  # not logged
    answer = api.get(lookup_url(visitor_id)).json()  # the next lookup without it: the visitor's own choice
    assert answer["signals"]["gpc"] is False and answer["decisions"]["advertising"]["granted"] is True


def test_gpc_stays_in_force_once_a_write_carried_it(api, demo_site, visitor_id):
    api.post(write_url(), consent_body(visitor_id), format="json", HTTP_SEC_GPC="1")
    assert api.get(lookup_url(visitor_id)).json()["signals"]["gpc"] is True  # sticky, from the write


def test_gpc_on_lookup_of_unknown_visitor_records_nothing(api, demo_site, visitor_id):
    api.get(lookup_url(visitor_id), HTTP_SEC_GPC="1")
    assert not Visitor.objects.filter(uuid=visitor_id).exists()

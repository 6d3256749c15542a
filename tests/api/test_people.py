"""Consent that follows the person, through the HTTP API: linking, the merged decision, and what is refused.

Two visitor ids stand for two devices (or two brand sites); the site's back
end is played by ``consent.people.make_assertion``'s format, rebuilt here from
the README's description so a change to the format fails these tests.
"""
import hashlib
import json
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.verify import verify
from consent.api_keys import issue_key
from consent.models import ApiKey, ConsentEvent, Person, PolicyVersion, Site, SiteGroup, UsedAssertion, Visitor
from consent.site_setup import create_site
from tests.support import consent_body, lookup_url, new_visitor, write_url
from tests.support.people import b64, signed, signed_assertion

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"


def assertion(site, subject="account-42", minutes=5, secret=None, nonce=None, **claims):
    """What a site's back end makes, as the README states it."""
    return signed_assertion(site.key, secret or site.identity_secret, subject, minutes, nonce, **claims)


def identify(api, site, visitor, token, proof, origin=ORIGIN):
    return api.post(f"/api/v1/sites/{site.key}/people/link",
                    {"visitor_id": visitor, "token": token, "assertion": proof}, format="json", HTTP_ORIGIN=origin)


def choose(api, visitor, site="demo", **choices):
    answer = api.post(write_url(site), consent_body(visitor, choices=choices), format="json",
                      HTTP_CF_IPCOUNTRY="FR")
    assert answer.status_code == 201, answer.content
    return answer


def decisions_of(api, visitor, site="demo"):
    answer = api.get(lookup_url(visitor, site), HTTP_CF_IPCOUNTRY="FR")
    assert answer.status_code == 200, answer.content
    return {key: value["granted"] for key, value in answer.json()["decisions"].items()}, answer.json()


@pytest.fixture
def devices():
    return new_visitor(), new_visitor()


def test_a_refusal_on_one_device_applies_on_the_other_after_identify(api, demo_site, devices):
    (phone, phone_token), (laptop, laptop_token) = devices
    choose(api, laptop, analytics=True, advertising=True, recognition=True)
    assert identify(api, demo_site, laptop, laptop_token, assertion(demo_site)).status_code in (200, 201)
    choose(api, phone, analytics=False, advertising=False, recognition=False)
    assert decisions_of(api, laptop)[0]["analytics"] is True  # the phone is not linked yet

    linked = identify(api, demo_site, phone, phone_token, assertion(demo_site))
    assert linked.status_code == 201, linked.content
    assert linked.json()["decisions"]["analytics"] == {"granted": False, "reason": "choice"}
    # The laptop's next lookup (its next page view) answers the person's latest choice.
    decisions, body = decisions_of(api, laptop)
    assert decisions == {"authentication": True, "security": True, "analytics": False, "advertising": False,
                         "recognition": False}
    assert body["needs_choice"] is False


def test_linking_is_an_event_in_each_browsers_chain_and_the_chains_verify(api, demo_site, devices):
    (phone, phone_token), _ = devices
    identify(api, demo_site, phone, phone_token, assertion(demo_site))
    api.post(f"/api/v1/sites/{demo_site.key}/people/unlink", {"visitor_id": phone, "token": phone_token},
             format="json")
    assert list(ConsentEvent.objects.filter(visitor__uuid=phone).order_by("id").values_list("source", flat=True)) == \
        ["link", "unlink"]
    assert verify(checkpoints=False).ok


def test_the_platform_keeps_only_a_keyed_hash_of_the_subject(api, demo_site, devices):
    (phone, phone_token), _ = devices
    identify(api, demo_site, phone, phone_token, assertion(demo_site, subject="alice@example.com"))
    person = Person.objects.get()
    assert "alice" not in person.subject_hash and len(person.subject_hash) == 64
    assert person.subject_hash != hashlib.sha256(b"alice@example.com").hexdigest()  # keyed, not a plain hash
    event = ConsentEvent.objects.get(visitor__uuid=phone)
    assert "alice" not in json.dumps([event.choices, event.signals, event.decisions, event.user_agent])


def test_linking_again_to_the_same_person_changes_nothing(api, demo_site, devices):
    (phone, phone_token), _ = devices
    assert identify(api, demo_site, phone, phone_token, assertion(demo_site)).status_code == 201
    again = identify(api, demo_site, phone, phone_token, assertion(demo_site))
    assert again.status_code == 200
    assert ConsentEvent.objects.filter(visitor__uuid=phone).count() == 1


@pytest.mark.parametrize("forge, code, status", [
    ("other_secret", "bad_assertion", 403),
    ("other_site", "bad_assertion", 403),
    ("expired", "assertion_expired", 403),
    ("hours", "assertion_too_long", 400),
    ("tampered", "bad_assertion", 403),
    ("garbage", "malformed_assertion", 400),
    ("no_nonce", "malformed_assertion", 400),
    ("exp_not_a_time", "malformed_assertion", 400),
    ("nested", "bad_assertion", 403),
    ("nested_signed", "malformed_assertion", 400),
])
def test_a_forged_expired_or_malformed_assertion_is_refused_with_its_reason(api, demo_site, devices, forge, code,
                                                                            status):
    (phone, phone_token), _ = devices
    other = Site.objects.create(key="sister", name="Sister")
    proof = {
        "other_secret": lambda: assertion(demo_site, secret="not-the-sites-secret"),
        "other_site": lambda: assertion(other, secret=demo_site.identity_secret),
        "expired": lambda: assertion(demo_site, minutes=-1),
        "hours": lambda: assertion(demo_site, minutes=120),
        "tampered": lambda: b64(json.dumps({"site": "demo", "sub": "mallory", "exp": 2**31, "nonce": "x" * 16})
                                .encode()) + "." + assertion(demo_site).split(".")[1],
        "garbage": lambda: "not an assertion",
        "no_nonce": lambda: assertion(demo_site, nonce=""),
        "exp_not_a_time": lambda: assertion(demo_site, exp=10**30),
        # Nested deeper than Python's decoder can recurse: refused unread when anyone sends it (only what the
        # site signed is parsed), and as malformed when the site signed it.
        "nested": lambda: b64(b"[" * 1500) + ".AAAA",
        "nested_signed": lambda: signed(b"[" * 1500, demo_site.identity_secret),
    }[forge]()
    answer = identify(api, demo_site, phone, phone_token, proof)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"] == code and answer.json()["detail"]
    assert not Visitor.objects.filter(uuid=phone).exists() and not Person.objects.exists()


def test_a_replayed_assertion_is_refused(api, demo_site, devices):
    (phone, phone_token), (laptop, laptop_token) = devices
    proof = assertion(demo_site)
    assert identify(api, demo_site, phone, phone_token, proof).status_code == 201
    replayed = identify(api, demo_site, laptop, laptop_token, proof)
    assert replayed.status_code == 403 and replayed.json()["error"] == "assertion_replayed"
    assert not Visitor.objects.filter(uuid=laptop).exists()


def test_a_refused_link_leaves_its_assertion_unused(api, demo_site, devices):
    (phone, phone_token), _ = devices
    proof = assertion(demo_site)
    refused = identify(api, demo_site, phone, "x" * 43, proof)  # not the phone's token
    assert refused.status_code == 403 and refused.json()["error"] == "bad_token"
    assert not UsedAssertion.objects.exists()
    assert identify(api, demo_site, phone, phone_token, proof).status_code == 201


def test_someone_who_knows_only_a_visitor_id_cannot_link_it(api, demo_site, devices):
    (phone, phone_token), _ = devices
    choose(api, phone, analytics=False)
    body = {"visitor_id": phone, "assertion": assertion(demo_site, subject="mallory")}
    answer = api.post(f"/api/v1/sites/{demo_site.key}/people/link", body, format="json")
    assert answer.status_code == 403 and answer.json()["error"] == "token_required"
    assert Visitor.objects.get(uuid=phone).person_id is None


def test_a_page_cannot_link_by_subject_without_the_sites_api_key(api, demo_site, devices):
    (phone, phone_token), _ = devices
    answer = api.post(f"/api/v1/sites/{demo_site.key}/people/link",
                      {"visitor_id": phone, "token": phone_token, "subject": "account-42"}, format="json")
    assert answer.status_code == 403 and answer.json()["error"] == "api_key_required"
    neither = api.post(f"/api/v1/sites/{demo_site.key}/people/link", {"visitor_id": phone, "token": phone_token},
                       format="json")
    assert neither.status_code == 400 and neither.json()["error"] == "assertion_required"


def test_a_sites_server_links_by_subject_and_looks_the_person_up(api, demo_site, devices):
    (phone, _), (laptop, laptop_token) = devices
    key = issue_key(ApiKey(site=demo_site, name="app"))
    choose(api, laptop, analytics=True, advertising=False, recognition=False)
    identify(api, demo_site, laptop, laptop_token, assertion(demo_site, subject="account-42"))
    linked = api.post(f"/api/v1/sites/{demo_site.key}/people/link", {"visitor_id": phone, "subject": "account-42"},
                      format="json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert linked.status_code == 201, linked.content
    assert linked.json()["decisions"]["analytics"]["granted"] is True  # the app's browser takes the person's choice

    url = f"/api/v1/sites/{demo_site.key}/people/decisions"
    person = api.post(url, {"subject": "account-42"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert person["known_person"] is True and person["decisions"]["analytics"]["granted"] is True
    assert person["decisions"]["advertising"]["granted"] is False and person["needs_choice"] is False
    stranger = api.post(url, {"subject": "nobody"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert stranger["known_person"] is False and stranger["decisions"]["analytics"]["reason"] == "default_opt_in"
    anonymous = api.post(url, {"subject": "account-42"}, format="json")
    assert anonymous.status_code == 403 and anonymous.json()["error"] == "api_key_required"


def test_unlinking_gives_the_browser_back_its_own_choice(api, demo_site, devices):
    (phone, phone_token), (laptop, laptop_token) = devices
    choose(api, laptop, analytics=True)
    identify(api, demo_site, laptop, laptop_token, assertion(demo_site))
    identify(api, demo_site, phone, phone_token, assertion(demo_site))
    choose(api, phone, analytics=False)
    assert decisions_of(api, laptop)[0]["analytics"] is False
    answer = api.post(f"/api/v1/sites/{demo_site.key}/people/unlink", {"visitor_id": laptop, "token": laptop_token},
                      format="json")
    assert answer.status_code == 201 and answer.json()["decisions"]["analytics"]["granted"] is True
    assert decisions_of(api, laptop)[0]["analytics"] is True


def test_a_material_policy_change_asks_the_person_once_and_the_answer_reaches_every_device(api, demo_site, devices):
    (phone, phone_token), (laptop, laptop_token) = devices
    choose(api, laptop, analytics=True, advertising=True, recognition=True)
    identify(api, demo_site, laptop, laptop_token, assertion(demo_site))
    identify(api, demo_site, phone, phone_token, assertion(demo_site))
    PolicyVersion.objects.create(site=demo_site, version="2", url="https://example.com/p2", material=True)

    asked = identify(api, demo_site, phone, phone_token, assertion(demo_site)).json()  # the next login
    assert asked["needs_choice"] is True and asked["decisions"]["analytics"]["reason"] == "policy_changed"
    assert decisions_of(api, laptop)[1]["needs_choice"] is True
    answer = api.post(write_url(), consent_body(phone, policy_version="2",
                                                choices={"analytics": False, "advertising": True, "recognition": True}),
                      format="json", HTTP_CF_IPCOUNTRY="FR")
    assert answer.status_code == 201
    decisions, body = decisions_of(api, laptop)
    assert body["needs_choice"] is False and decisions["analytics"] is False and decisions["advertising"] is True


def test_sites_of_a_group_share_a_signed_in_persons_consent_and_others_do_not(api, demo_site, devices):
    group = SiteGroup.objects.create(key="brands", name="Brands")
    sister = create_site(Site(key="sister", name="Sister", group=group, allowed_origins=[ORIGIN]),
                         "https://example.com/sister-policy")
    loner = create_site(Site(key="loner", name="Loner", allowed_origins=[ORIGIN]), "https://example.com/loner")
    Site.objects.filter(pk=demo_site.pk).update(group=group)
    demo_site.refresh_from_db()
    (on_demo, demo_token), (on_sister, sister_token) = devices
    on_loner, loner_token = new_visitor()

    choose(api, on_demo, site="demo", analytics=False, advertising=False, recognition=False)
    identify(api, demo_site, on_demo, demo_token, assertion(demo_site))
    linked = identify(api, sister, on_sister, sister_token, assertion(sister)).json()
    assert linked["decisions"]["analytics"] == {"granted": False, "reason": "choice"}
    assert linked["needs_choice"] is False
    identify(api, loner, on_loner, loner_token, assertion(loner))  # same subject id, another company's site
    assert decisions_of(api, on_loner, site="loner")[0]["analytics"] is False  # opt-in default, not the choice
    assert decisions_of(api, on_loner, site="loner")[1]["decisions"]["analytics"]["reason"] == "default_opt_in"
    assert Person.objects.count() == 2


def test_a_lookup_is_never_older_than_a_linked_browsers_last_write(api, demo_site, devices):
    (phone, phone_token), (laptop, laptop_token) = devices
    choose(api, laptop, analytics=True)
    identify(api, demo_site, laptop, laptop_token, assertion(demo_site))
    identify(api, demo_site, phone, phone_token, assertion(demo_site))
    for granted in (False, True, False):
        assert decisions_of(api, laptop)[0]["analytics"] is not granted  # cached now
        choose(api, phone, analytics=granted)
        assert decisions_of(api, laptop)[0]["analytics"] is granted


def test_link_routes_answer_only_the_sites_own_origins(api, demo_site, devices):
    (phone, phone_token), _ = devices
    answer = identify(api, demo_site, phone, phone_token, assertion(demo_site), origin="https://evil.example")
    assert "access-control-allow-origin" not in {k.lower() for k in answer.headers}
    allowed = identify(api, demo_site, phone, phone_token, assertion(demo_site))
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_erasure_by_request_removes_every_linked_browser_and_the_person_and_the_log_verifies(api, demo_site, devices):
    from audit.purge import erase_visitor

    (phone, phone_token), (laptop, laptop_token) = devices
    bystander, _ = new_visitor()
    for visitor, token in devices:
        choose(api, visitor, analytics=True)
        identify(api, demo_site, visitor, token, assertion(demo_site))
    choose(api, bystander, analytics=True)
    erased = erase_visitor(demo_site, phone, reason="data subject request")
    assert erased == 4  # two choices and two links
    assert not Visitor.objects.filter(uuid__in=[phone, laptop]).exists() and not Person.objects.exists()
    assert Visitor.objects.filter(uuid=bystander).exists()
    assert decisions_of(api, laptop)[1]["needs_choice"] is True
    assert verify(checkpoints=False).ok


@pytest.fixture
def sister(demo_site):
    group = SiteGroup.objects.create(key="brands", name="Brands")
    Site.objects.filter(pk=demo_site.pk).update(group=group)
    return create_site(Site(key="sister", name="Sister", group=group, allowed_origins=["https://sister.example.com"]),
                       "https://example.com/sister-policy")


def hand_off(api, visitor, token, to="sister"):
    return api.post("/api/v1/sites/demo/people/handoff", {"visitor_id": visitor, "token": token, "to": to},
                    format="json", HTTP_ORIGIN=ORIGIN)


def redeem(api, handoff, visitor, token, site="sister"):
    return api.post(f"/api/v1/sites/{site}/people/redeem", {"handoff": handoff, "visitor_id": visitor, "token": token},
                    format="json")


def test_a_hand_off_carries_an_anonymous_choice_to_the_sister_site_once(api, sister, devices):
    (here, here_token), (there, there_token) = devices
    choose(api, here, analytics=True, advertising=False, recognition=False)
    made = hand_off(api, here, here_token)
    assert made.status_code == 201, made.content
    assert made.headers["Access-Control-Allow-Origin"] == ORIGIN
    taken = redeem(api, made.json()["handoff"], there, there_token)
    assert taken.status_code == 201, taken.content
    decisions, body = decisions_of(api, there, site="sister")
    assert decisions["analytics"] is True and decisions["advertising"] is False and body["needs_choice"] is False
    event = ConsentEvent.objects.get(visitor__uuid=there)
    assert event.source == "handoff" and event.site_id == sister.pk and event.policy_version == "1"
    assert not Person.objects.exists()  # anonymous: nobody is linked

    replayed = redeem(api, made.json()["handoff"], *new_visitor())
    assert replayed.status_code == 403 and replayed.json()["error"] == "handoff_used"


@pytest.mark.parametrize("case, code, status", [
    ("forged", "bad_handoff", 403),
    ("made_for_another_site", "bad_handoff", 403),
    ("expired", "handoff_expired", 403),
])
def test_a_forged_misdirected_or_expired_hand_off_is_refused(api, sister, devices, case, code, status):
    from consent import people
    from consent.sites import require_rules

    (here, here_token), (there, there_token) = devices
    choose(api, here, analytics=True)
    if case == "forged":
        handoff = secrets.token_urlsafe(24)
    elif case == "expired":
        handoff, _ = people.hand_off(require_rules("demo"), here, here_token, "sister",
                                     now=timezone.now() - timedelta(minutes=3))
    else:
        handoff = hand_off(api, here, here_token).json()["handoff"]
    answer = redeem(api, handoff, there, there_token, site="demo" if case == "made_for_another_site" else "sister")
    assert answer.status_code == status and answer.json()["error"] == code, answer.content
    assert not Visitor.objects.filter(uuid=there).exists()


def test_only_the_browser_itself_can_hand_off_its_choice_and_only_to_a_sister_site(api, sister, devices):
    (here, here_token), (other, other_token) = devices
    loner = create_site(Site(key="loner", name="Loner"), "https://example.com/loner")
    assert hand_off(api, here, here_token).json()["error"] == "nothing_to_carry"
    choose(api, here, analytics=True)
    stolen = hand_off(api, here, other_token)
    assert stolen.status_code == 403 and stolen.json()["error"] == "bad_token"
    for target in (loner.key, "demo", "no-such-site"):
        refused = hand_off(api, here, here_token, to=target)
        assert refused.status_code == 400 and refused.json()["error"] == "not_a_sister_site", target


@pytest.mark.parametrize("domain, origins, error", [
    ("example.com", ["https://shop.example.com", "https://example.com"], None),
    (".Example.com", ["https://shop.example.com"], None),
    ("example.com", ["https://shop.example.com", "https://other.test"], "other.test is not example.com"),
    ("com", ["https://shop.example.com"], "not a domain like example.com"),
    ("https://example.com", ["https://shop.example.com"], "not a domain like example.com"),
    ("example.com", [], "no allowed origin"),
])
def test_a_cookie_domain_must_be_a_parent_of_every_allowed_origin(demo_site, domain, origins, error):
    from django.core.exceptions import ValidationError

    demo_site.cookie_domain, demo_site.allowed_origins = domain, origins
    if error is None:
        demo_site.full_clean()
        assert demo_site.cookie_domain == "example.com"
    else:
        with pytest.raises(ValidationError) as refused:
            demo_site.full_clean()
        assert error in str(refused.value.message_dict["cookie_domain"])


def test_the_config_names_the_cookie_domain_and_the_people_routes(api, demo_site):
    demo_site.cookie_domain = "example.com"
    demo_site.save()
    config = api.get("/api/v1/sites/demo/config").json()
    assert config["cookie_domain"] == "example.com"
    assert config["endpoints"]["people"] == "/api/v1/sites/demo/people/"
    assert api.post(config["endpoints"]["people"] + "link", {}, format="json").status_code == 400

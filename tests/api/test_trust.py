"""Knowing a visitor id changes nothing (issue 14, points 1, 3, 4 and 7), through HTTP with the real stack.

Each test sends what an outsider could send: a page script, a vendor's tag or
a stranger with curl who has learnt a visitor's id, a server in another
country, an API client's "accept all" over GPC, an admin rewriting a policy
version that consents were given under.
"""
import re
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent.models import ConsentEvent, PolicyVersion, Purpose, Visitor, hash_token
from tests.support import consent_body, lookup_url, new_token, new_visitor, self_certifying_id, write_url

pytestmark = pytest.mark.django_db

ALL = {"analytics": True, "advertising": True, "recognition": True}
NONE = {"analytics": False, "advertising": False, "recognition": False}


def post(api, body, **headers):
    return api.post(write_url(), body, format="json", **headers)


def lookup(api, visitor, **headers):
    return api.get(lookup_url(visitor), **headers).json()


# 1. A visitor id can be claimed by a stranger.

def test_a_stranger_who_knows_only_the_id_cannot_create_the_visitor(api, demo_site):
    """The stranger writes "grant all" for an id the banner exposed, before the visitor chooses."""
    visitor, token = new_visitor()
    without = post(api, consent_body(visitor, token=None, choices=ALL))
    with_own = post(api, consent_body(visitor, token=new_token(), choices=ALL))
    assert (without.status_code, without.json()["error"]) == (403, "token_required")
    assert (with_own.status_code, with_own.json()["error"]) == (403, "bad_token")
    assert not Visitor.objects.filter(uuid=visitor).exists()
    # The visitor's own Reject all is recorded, and is what every lookup answers.
    own = post(api, consent_body(visitor, token=token, choices=NONE))
    assert own.status_code == 201, own.content
    assert lookup(api, visitor, HTTP_CF_IPCOUNTRY="US")["decisions"]["advertising"] == {"granted": False, "reason": "choice"}


def test_a_stranger_cannot_change_or_lock_the_visitor_after_the_first_write(api, demo_site):
    visitor, token = new_visitor()
    assert post(api, consent_body(visitor, choices=NONE)).status_code == 201
    for stranger_token in (None, new_token(), "x" * 43):
        refused = post(api, consent_body(visitor, token=stranger_token, choices=ALL))
        assert refused.status_code == 403
    assert Visitor.objects.get(uuid=visitor).choices == NONE
    assert Visitor.objects.get(uuid=visitor).holds_token(token)
    assert post(api, consent_body(visitor, token=token, choices={"analytics": True})).status_code == 201


def test_a_first_write_needs_the_token_its_id_is_derived_from(api, demo_site):
    token = new_token()
    visitor = self_certifying_id(token)
    answer = post(api, consent_body(visitor, token=token))
    assert answer.status_code == 201 and answer.json()["token"] == token
    # A random UUID (no token certifies it) cannot start a visitor any more.
    random_id = str(uuid.uuid4())
    assert post(api, consent_body(random_id, token=None)).json()["error"] == "token_required"
    assert post(api, consent_body(random_id, token=new_token())).json()["error"] == "bad_token"
    assert not Visitor.objects.filter(uuid=random_id).exists()


def test_a_visitor_stored_under_an_old_random_id_keeps_its_token(api, demo_site):
    """Ids made before self-certifying ones (random UUIDs) keep working for whoever holds their token."""
    old_id, token = str(uuid.uuid4()), new_token()
    Visitor.objects.create(site=demo_site, uuid=old_id, token_hash=hash_token(token))
    assert post(api, consent_body(old_id, token=new_token(), choices=ALL)).json()["error"] == "bad_token"
    assert post(api, consent_body(old_id, token=None, choices=ALL)).json()["error"] == "token_required"
    answer = post(api, consent_body(old_id, token=token, choices=NONE))
    assert answer.status_code == 201 and answer.json()["token"] == token


def test_the_site_api_key_may_still_start_a_visitor_for_its_app(api, demo_site):
    from consent.api_keys import issue_key
    from consent.models import ApiKey

    key = issue_key(ApiKey(site=demo_site, name="iOS app"))
    app_id = str(uuid.uuid4())
    answer = post(api, {"visitor_id": app_id, "signals": {"lat": True}}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 201, answer.content


# 3. A grant over GPC needs the conflict confirmed.

def test_an_accept_all_over_gpc_without_confirmation_leaves_sale_and_sharing_denied(api, demo_site, visitor_id):
    answer = post(api, consent_body(visitor_id, choices=ALL), HTTP_SEC_GPC="1", HTTP_CF_IPCOUNTRY="US").json()
    assert answer["decisions"]["advertising"] == {"granted": False, "reason": "gpc"}
    assert answer["decisions"]["recognition"] == {"granted": False, "reason": "gpc"}
    assert answer["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    assert lookup(api, visitor_id, HTTP_CF_IPCOUNTRY="US")["decisions"]["advertising"]["reason"] == "gpc"


def test_a_grant_over_gpc_counts_with_the_confirmation(api, demo_site, visitor_id):
    body = consent_body(visitor_id, choices=ALL, gpc_conflict_confirmed=True)
    answer = post(api, body, HTTP_SEC_GPC="1").json()
    assert answer["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    assert answer["decisions"]["recognition"] == {"granted": True, "reason": "choice"}
    assert lookup(api, visitor_id)["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    event = ConsentEvent.objects.get(visitor__uuid=visitor_id)
    assert event.gpc_conflict_confirmed is True


def test_which_purposes_gpc_denies_is_a_setting_of_each_purpose(api, demo_site, visitor_id):
    assert set(Purpose.objects.filter(site=demo_site, sale_or_sharing=True).values_list("key", flat=True)) == {
        "advertising", "recognition"}
    Purpose.objects.filter(site=demo_site, key="recognition").update(sale_or_sharing=False)
    Purpose.objects.filter(site=demo_site, key="analytics").update(sale_or_sharing=True)
    demo_site.save()  # retires the cached rules
    answer = post(api, consent_body(visitor_id, choices=ALL), HTTP_SEC_GPC="1").json()
    assert answer["decisions"]["recognition"] == {"granted": True, "reason": "choice"}
    assert answer["decisions"]["analytics"] == {"granted": False, "reason": "gpc"}
    config = api.get("/api/v1/sites/demo/config").json()
    assert {p["key"]: p["sale_or_sharing"] for p in config["purposes"]}["analytics"] is True


# 4. The regime is the visitor's, not the requester's.

def test_a_lookup_answers_with_the_region_of_the_visitors_first_contact(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id, choices={"analytics": False}), HTTP_CF_IPCOUNTRY="FR")
    answer = lookup(api, visitor_id, HTTP_CF_IPCOUNTRY="US")  # a US server asks about an EU visitor
    assert answer["regime"] == "opt_in"
    assert answer["decisions"]["advertising"] == {"granted": False, "reason": "default_opt_in"}
    # A later write from elsewhere does not move the visitor.
    post(api, consent_body(visitor_id, choices={"analytics": True}), HTTP_CF_IPCOUNTRY="US")
    assert Visitor.objects.get(uuid=visitor_id).region == "FR"
    assert lookup(api, visitor_id, HTTP_CF_IPCOUNTRY="US")["regime"] == "opt_in"


def test_a_visitor_never_seen_gets_the_regime_of_the_request(api, demo_site, visitor_id):
    assert lookup(api, visitor_id, HTTP_CF_IPCOUNTRY="US")["regime"] == "opt_out"
    assert lookup(api, visitor_id)["regime"] == "opt_in"  # unknown region: the strictest


def test_a_first_contact_without_a_country_stays_opt_in(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id, choices={"analytics": False}))
    assert Visitor.objects.get(uuid=visitor_id).region == ""
    assert lookup(api, visitor_id, HTTP_CF_IPCOUNTRY="US")["regime"] == "opt_in"


# 7. A published policy version can be rewritten.

def test_a_policy_version_in_force_is_frozen(demo_site):
    policy = PolicyVersion.objects.get(site=demo_site, version="1")
    for field, value in (("url", "https://evil.example/privacy"), ("material", not policy.material),
                         ("effective_at", timezone.now() + timedelta(days=3))):
        changed = PolicyVersion.objects.get(pk=policy.pk)
        setattr(changed, field, value)
        with pytest.raises(ValidationError):
            changed.save()
    # A version not yet in force may still be corrected.
    later = PolicyVersion.objects.create(site=demo_site, version="2", url="https://example.com/p2",
                                         effective_at=timezone.now() + timedelta(days=7))
    later.url = "https://example.com/privacy-2"
    later.save()


def test_a_policy_version_an_event_names_cannot_be_deleted(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id))
    policy = PolicyVersion.objects.get(site=demo_site, version="1")
    with pytest.raises(ValidationError):
        policy.delete()
    assert PolicyVersion.objects.filter(pk=policy.pk).exists()


def test_receipts_name_the_url_recorded_with_the_event(api, demo_site, visitor_id):
    token = post(api, consent_body(visitor_id)).json()["token"]
    event = ConsentEvent.objects.get(visitor__uuid=visitor_id)
    assert event.policy_url == "https://example.com/privacy"
    PolicyVersion.objects.filter(site=demo_site, version="1").update(url="https://evil.example/rewritten")
    receipt = api.get(f"/api/v1/sites/demo/visitors/{visitor_id}/receipts?latest=1",
                      HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert receipt["receipt"]["policyUrl"] == "https://example.com/privacy"


def test_the_site_page_keeps_a_version_in_force_frozen_and_refuses_its_deletion(client, api, demo_site, visitor_id):
    from django.contrib.auth.models import User

    from tests.support import form_fields

    post(api, consent_body(visitor_id))
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.login(username="admin", password="pw")
    url = f"/admin/consent/site/{demo_site.pk}/change/"
    page = client.get(url).content.decode()
    row = re.search(r'<input[^>]*name="(policy_versions-\d+)-url"[^>]*disabled', page)[1]  # shown frozen
    rewrite = {**form_fields(page), f"{row}-url": "https://evil.example/rewritten", f"{row}-version": "9"}
    rewrite.pop(f"{row}-material", None)
    assert client.post(url, rewrite).status_code == 302  # saved, the frozen fields as they were
    policy = PolicyVersion.objects.get(site=demo_site)
    assert (policy.version, policy.url, policy.material) == ("1", "https://example.com/privacy", True)
    page = client.get(url).content.decode()
    deleting = client.post(url, {**form_fields(page), f"{row}-DELETE": "on"})
    assert deleting.status_code == 200 and "cannot be deleted: consent events name it" in deleting.content.decode()
    assert PolicyVersion.objects.filter(site=demo_site, version="1").exists()
    assert client.post(f"/admin/consent/policyversion/{policy.pk}/delete/", {"post": "yes"}).status_code == 403

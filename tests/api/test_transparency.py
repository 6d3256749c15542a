"""Each site's log as outsiders see it: the published keys and tree heads, proofs, webhooks, and tampering caught.

The outsider here (tests/support/outsider.py) holds only a receipt and a
tree head saved earlier, checks signatures with PyJWT against the published
JWKS and proofs with RFC 9162's recursive definitions, and gets everything
through the HTTP API: never the platform's own verifier, never the database.
"""
import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit import receipts
from audit.log import extend_logs
from audit.models import LogLeaf, LogNode, TreeHead
from audit.purge import guard_lifted
from consent.models import ConsentEvent, Visitor
from delivery.models import OutboxMessage, WebhookEndpoint, WebhookEvent
from tests.support import consent_body, new_visitor_id, write_url
from tests.support.outsider import Caught, Outsider
from tests.support.receiver import Receiver

LOG = "/api/v1/sites/demo/log"


def write(api, visitor, token=None, **choices):
    body = consent_body(visitor, choices={"analytics": True, "advertising": False, "recognition": False, **choices})
    if token:
        body["token"] = token
    response = api.post(write_url(), body, format="json", HTTP_CF_IPCOUNTRY="FR")
    assert response.status_code == 201, response.content
    return response.json()["token"] or token


@pytest.fixture
def world(api, demo_site):
    """Three visitors with two events each, logged under a first tree head that the outsider saved;
    the receipt of the first visitor's latest choice; two later events under a second head."""
    visitors = [new_visitor_id() for _ in range(3)]
    tokens = {v: write(api, v) for v in visitors}
    for v in visitors:
        write(api, v, tokens[v], advertising=True)
    extend_logs(lag_seconds=0)
    saved = api.get(LOG).json()["tree_head"]
    receipt = api.get(f"/api/v1/sites/demo/visitors/{visitors[0]}/receipts", {"latest": "1"},
                      HTTP_AUTHORIZATION=f"Bearer {tokens[visitors[0]]}").json()
    later = new_visitor_id()
    write(api, later, write(api, later), recognition=True)
    extend_logs(lag_seconds=0)
    return {"visitors": visitors, "saved": saved, "receipt": receipt, "outsider": Outsider(api)}


def events_of(visitor):
    return list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))


def tamper(sql, params=()):
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def operator_rewrites_the_log():
    """The strongest attacker: the operator itself, holding the key, rebuilds the site's log from the
    tampered events and signs new heads."""
    for model in (LogLeaf, LogNode, TreeHead):
        model.objects.all().delete()
    extend_logs(lag_seconds=0)


# --- What is published ------------------------------------------------------------------

def test_an_honest_log_passes_the_outsiders_check(world):
    head = world["outsider"].check(world["receipt"], world["saved"])
    assert head["tree_size"] == 8 and head["site"] == "demo"
    assert world["outsider"].check(world["receipt"]) == head


def test_the_latest_tree_head_is_published_signed(api, world):
    response = api.get(LOG)
    assert response.status_code == 200 and response["Cache-Control"] == "no-cache"
    body = response.json()
    signed = world["outsider"].signed(body["tree_head"], "cmp-tree-head+jws")
    assert signed == {name: body[name] for name in ("site", "tree_size", "root_hash", "timestamp", "complete_until")}
    head = TreeHead.objects.order_by("-tree_size").first()
    assert signed["tree_size"] == head.tree_size == 8 and signed["complete_until"] <= signed["timestamp"]


def test_log_errors_say_what_is_wrong(api, demo_site):
    assert api.get(LOG).json()["error"] == "no_tree_head"
    assert api.get("/api/v1/sites/nope/log").json()["error"] == "unknown_site"
    assert api.get(LOG + "/consistency", {"first": 1, "second": 1}).status_code == 404
    assert api.post(LOG).status_code == 405


def test_an_inclusion_proof_needs_the_events_hash(api, world):
    entry = world["receipt"]["receipt"]["auditLog"]
    good = api.get(LOG + "/inclusion", {"event_id": entry["eventId"], "event_hash": entry["eventHash"]})
    assert good.status_code == 200 and good.json()["tree_size"] == 8
    # Knowing an id is not enough to learn anything about the event (ids are sequential).
    wrong = api.get(LOG + "/inclusion", {"event_id": entry["eventId"], "event_hash": "0" * 64})
    assert wrong.status_code == 404 and wrong.json()["error"] == "not_in_log"
    assert "event_hash" not in json.dumps(wrong.json()) or entry["eventHash"] not in json.dumps(wrong.json())
    other_site = api.get("/api/v1/sites/nope/log/inclusion", {"event_id": entry["eventId"], "event_hash": entry["eventHash"]})
    assert other_site.status_code == 404 and other_site.json()["error"] == "unknown_site"
    older = api.get(LOG + "/inclusion", {"event_id": entry["eventId"], "event_hash": entry["eventHash"], "tree_size": 6})
    assert older.status_code == 200 and older.json()["tree_head"]["tree_head"] == world["saved"]
    assert api.get(LOG + "/inclusion", {"event_id": entry["eventId"], "event_hash": entry["eventHash"],
                                        "tree_size": 7}).json()["error"] == "no_tree_head"


@pytest.mark.parametrize("params, field", [
    ({}, "event_id"),
    ({"event_id": "x", "event_hash": "a" * 64}, "event_id"),
    ({"event_id": "0", "event_hash": "a" * 64}, "event_id"),
    ({"event_id": str(2**63), "event_hash": "a" * 64}, "event_id"),
    ({"event_id": "1", "event_hash": "A" * 64}, "event_hash"),
    ({"event_id": "1", "event_hash": "a" * 63}, "event_hash"),
    ({"event_id": "1", "event_hash": "a" * 64, "tree_size": "-1"}, "tree_size"),
])
def test_malformed_inclusion_queries_are_400s(api, world, params, field):
    response = api.get(LOG + "/inclusion", params)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert field in response.json()["detail"]


@pytest.mark.parametrize("params", [{"first": 0, "second": 8}, {"first": 7, "second": 6}, {"first": 1, "second": 9},
                                    {"first": 1}, {"first": "a", "second": 8}, {"first": 1, "second": 2**63}])
def test_malformed_consistency_queries_are_400s(api, world, params):
    response = api.get(LOG + "/consistency", params)
    assert response.status_code == 400, response.content
    assert response.json()["error"] in ("invalid_request", "bad_tree_size") and response.json()["detail"]


def test_the_keys_are_public_to_any_origin(api, world):
    response = api.get("/.well-known/jwks.json", HTTP_ORIGIN="https://regulator.example")
    assert response["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in response


# --- Tampering, caught by the outsider -------------------------------------------------------

def test_a_changed_event_before_the_saved_head_is_caught(world):
    other = events_of(world["visitors"][1])[0]
    tamper("UPDATE consent_consentevent SET region = 'US', event_hash = %s WHERE id = %s", ["e" * 64, other.pk])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="does not extend the saved one"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_the_receipts_own_event_changed_is_caught_even_without_a_saved_head(world):
    own = world["receipt"]["receipt"]["auditLog"]["eventId"]
    tamper("UPDATE consent_consentevent SET choices = '{}', event_hash = %s WHERE id = %s", ["d" * 64, own])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="not in the log"):
        world["outsider"].check(world["receipt"])


def test_a_deleted_event_is_caught(world):
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [events_of(world["visitors"][2])[1].pk])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="does not extend the saved one"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_the_receipts_own_event_deleted_is_caught(world):
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [world["receipt"]["receipt"]["auditLog"]["eventId"]])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="not in the log"):
        world["outsider"].check(world["receipt"])


def test_reordered_events_are_caught(world):
    a, b = events_of(world["visitors"][1])[0], events_of(world["visitors"][2])[0]
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [-a.pk, a.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [a.pk, b.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [b.pk, -a.pk])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="does not extend the saved one"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_an_event_inserted_before_the_saved_head_is_caught(world):
    copy = events_of(world["visitors"][1])[1]  # the fifth of the six saved: the receipt's event (fourth) keeps its id
    # Make room right after it, as an attacker slotting an event in would: every later id moves up one.
    tamper("UPDATE consent_consentevent SET id = -id WHERE id > %s", [copy.pk])
    tamper("UPDATE consent_consentevent SET id = 1 - id WHERE id < 0")
    tamper("INSERT INTO consent_consentevent (id, site_id, visitor_id, source, choices, signals, decisions, consent_mode, "
           "regime, policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash) "
           "SELECT %s, site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, policy_version, "
           "banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, %s "
           "FROM consent_consentevent WHERE id = %s", [copy.pk + 1, "f" * 64, copy.pk])
    operator_rewrites_the_log()
    with pytest.raises(Caught, match="does not extend the saved one"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_a_backdated_consent_logged_later_is_caught(api, world):
    """The operator forges a choice dated before the saved head; the platform logs it (as new) and signs its receipt."""
    victim = Visitor.objects.get(uuid=world["visitors"][1])
    before = timezone.now() - timedelta(hours=1)
    tamper("INSERT INTO consent_consentevent (site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, "
           "policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash) "
           "SELECT site_id, visitor_id, source, '{\"advertising\": true}', signals, decisions, consent_mode, regime, "
           "policy_version, banner_version, language, region, ip_prefix, user_agent, %s, prev_hash, %s "
           "FROM consent_consentevent WHERE id = %s", [before, "c" * 64, events_of(victim.uuid)[0].pk])
    extend_logs(lag_seconds=0)
    forged = receipts.build(ConsentEvent.objects.order_by("-id").first())
    world["outsider"].check(forged)  # in the log, signed: without an earlier head it looks fine
    with pytest.raises(Caught, match="backdated"):
        world["outsider"].check(forged, world["saved"])


def test_a_rewritten_tree_head_is_caught(world):
    TreeHead.objects.filter(tree_size=8).update(root_hash="0" * 64)  # no key: the signature no longer matches
    with pytest.raises(Caught, match="bad signature"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_a_re_signed_fork_of_the_saved_head_is_caught(api, world):
    """The operator changes an event and signs a head of the very size the outsider saved: two roots, one size."""
    for event in ConsentEvent.objects.order_by("-id")[:2]:  # back to the saved head's six events
        tamper("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])
    tamper("UPDATE consent_consentevent SET event_hash = %s WHERE id = %s", ["a" * 64, events_of(world["visitors"][2])[0].pk])
    operator_rewrites_the_log()
    assert api.get(LOG).json()["tree_size"] == 6
    with pytest.raises(Caught, match="two different roots"):
        world["outsider"].check(world["receipt"], world["saved"])


def test_a_rolled_back_log_is_caught(api, world):
    latest = api.get(LOG).json()["tree_head"]
    for head in TreeHead.objects.filter(tree_size=8):  # the latest head and its leaves, gone
        LogLeaf.objects.filter(site_id=head.site_id, index__gte=6).delete()
        head.delete()
    with pytest.raises(Caught, match="shrank"):
        world["outsider"].check(world["receipt"], latest)


def test_erasure_keeps_the_others_proofs_valid(api, world):
    from audit.purge import erase_visitor

    victim = Visitor.objects.get(uuid=world["visitors"][1])
    erase_visitor(victim.site, victim.uuid, reason="right to delete")
    write(api, new_visitor_id())
    extend_logs(lag_seconds=0)
    assert world["outsider"].check(world["receipt"], world["saved"])["tree_size"] == 9


# --- Copies outside: a webhook per new head -------------------------------------------------

@pytest.mark.django_db(transaction=True)  # deliveries are queued on commit
def test_each_new_tree_head_is_sent_to_its_subscribers_only(api, demo_site):
    heads, decisions = Receiver().start(), Receiver().start()
    try:
        WebhookEndpoint.objects.create(site=demo_site, url=heads.url, event_type=WebhookEvent.TREE_HEAD)
        WebhookEndpoint.objects.create(site=demo_site, url=decisions.url)
        visitor = new_visitor_id()
        write(api, visitor)
        assert len(decisions.received) == 1 and heads.received == []
        [head] = extend_logs(lag_seconds=0)
        assert len(heads.received) == 1 and len(decisions.received) == 1
        _, _, body = heads.received[0]
        assert body["type"] == "audit.tree_head" and body["site"] == "demo" and body["tree_size"] == 1
        assert Outsider(api).signed(body["tree_head"], "cmp-tree-head+jws")["root_hash"] == head.root_hash
        assert visitor not in json.dumps(body)  # no personal data goes to the log's keepers
        assert OutboxMessage.objects.filter(status="delivered").count() == 2
    finally:
        heads.stop()
        decisions.stop()

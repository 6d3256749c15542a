"""The tamper-evident log: every kind of tampering is reported by verify_audit (the operator's check).

To tamper, the tests play an attacker with database access: raw SQL inside
``guard_lifted()`` (the documented bypass of the PostgreSQL trigger;
on SQLite the ORM guard is the only one, and raw SQL passes it). What an
outsider holding a receipt and an earlier tree head catches is shown in
tests/api/test_transparency.py.
"""
import base64
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import log as audit_log
from audit import purge, retention, tasks
from audit.log import extend_logs
from audit.models import AuditCheckpoint, AuditPurge, TreeHead
from audit.purge import guard_lifted, purge_visitors
from consent.chain import CONTENT_FIELDS, OPTIONAL_FIELDS, canonical_content, canonical_json, event_hash
from consent.models import AppendOnlyError, ConsentEvent, Visitor
from tests.support import consent_body, new_visitor_id
from tests.support.audit import history, post, tamper, verify_fails, verify_passes


class Log(list):
    """The visitors' ids, in order, with each one's token (``tokens``)."""

    def __init__(self, visitors, tokens):
        super().__init__(visitors)
        self.tokens = tokens


@pytest.fixture
def log(api, demo_site):
    """Three visitors, three events each, interleaved."""
    visitors = [new_visitor_id() for _ in range(3)]
    tokens = {}
    for step in range(3):
        for v in visitors:
            body = consent_body(v, choices={"analytics": step % 2 == 0, "advertising": False, "recognition": step == 2})
            if v in tokens:
                body["token"] = tokens[v]
            tokens[v] = post(api, body, HTTP_CF_IPCOUNTRY="FR")["token"] or tokens.get(v)
    return Log(visitors, tokens)


def events_of(visitor):
    return list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))


def test_each_event_links_to_the_previous_one_of_its_visitor(log):
    for visitor in log:
        events = events_of(visitor)
        assert events[0].prev_hash == ""
        for before, after in zip(events, events[1:], strict=False):
            assert after.prev_hash == before.event_hash
        assert all(len(e.event_hash) == 64 for e in events)
    assert "9 events in 3 visitor chains" in verify_passes()


def test_hash_covers_canonical_content(log):
    event = events_of(log[0])[0]
    content = canonical_content(
        site_key="demo", visitor_uuid=event.visitor.uuid, created_at=event.created_at, prev_hash=event.prev_hash,
        **{name: getattr(event, name) for name in (*CONTENT_FIELDS, *OPTIONAL_FIELDS)},
    )
    assert event_hash(content) == event.event_hash
    assert content["policy_url"] == "https://example.com/privacy"  # covered once recorded
    raw = canonical_json(content)
    assert b" " not in raw.replace(b"Mozilla", b"").split(b'"user_agent"')[0]  # no whitespace between tokens
    assert raw.index(b'"banner_version"') < raw.index(b'"choices"') < raw.index(b'"visitor"')  # sorted keys


def test_altered_event_is_reported(log):
    target = events_of(log[1])[1]
    tamper("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", [target.pk])
    output = verify_fails()
    assert f"event {target.pk}" in output and "altered" in output


def test_altered_choice_is_reported(log):
    target = events_of(log[2])[0]
    tamper("UPDATE consent_consentevent SET policy_version = '9' WHERE id = %s", [target.pk])
    assert f"event {target.pk}" in verify_fails()


def test_deleted_event_is_reported(log):
    middle = events_of(log[0])[1]
    after = events_of(log[0])[2]
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [middle.pk])
    output = verify_fails()
    assert f"event {after.pk}" in output and "deleted, inserted or reordered" in output


def test_reordered_events_are_reported(log):
    first, second, _ = events_of(log[0])
    # Swap the two events' places in the log (their ids).
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [-first.pk, first.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [first.pk, second.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [second.pk, -first.pk])
    output = verify_fails()
    assert "reordered" in output


def test_reordered_events_across_visitors_are_reported_by_the_log(log):
    # Two first events of different visitors swap places: each chain still
    # links, but each leaf of the site's log binds an event id to its hash.
    a, b = events_of(log[0])[0], events_of(log[1])[0]
    assert extend_logs(lag_seconds=0)
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [-a.pk, a.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [a.pk, b.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [b.pk, -a.pk])
    output = verify_fails("--all")
    assert f"event {a.pk} differs from its leaf" in output and f"event {b.pk} differs from its leaf" in output


def test_deleted_whole_visitor_chain_is_reported_by_the_log(log):
    [head] = extend_logs(lag_seconds=0)
    assert head.tree_size == 9 and head.site.key == "demo"
    verify_passes()
    victim = Visitor.objects.get(uuid=log[1])
    doomed = [e.pk for e in events_of(log[1])]
    tamper("DELETE FROM consent_consentevent WHERE visitor_id = %s", [victim.pk])
    output = verify_fails("--all")
    assert all(f"event {pk} (leaf" in output for pk in doomed) and "without a tombstone" in output


def test_deleted_last_event_of_a_chain_is_reported_by_the_log(log):
    extend_logs(lag_seconds=0)
    last = events_of(log[2])[-1]
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [last.pk])
    assert f"event {last.pk} (leaf" in verify_fails()


def test_an_event_inserted_behind_the_log_is_reported(api, log):
    extend_logs(lag_seconds=0)
    forged = events_of(log[0])[0]
    tamper("INSERT INTO consent_consentevent (site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, "
           "policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash) "
           "SELECT site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, policy_version, banner_version, "
           "language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash FROM consent_consentevent WHERE id = %s",
           [forged.pk])
    inserted = ConsentEvent.objects.order_by("-id").first().pk
    extend_logs(lag_seconds=0)  # the platform logs it as a new event (caught by outsiders: backdated)
    verify_fails()  # its chain no longer links
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [inserted])
    tamper("DELETE FROM audit_logleaf WHERE event_id = %s", [inserted])
    tamper("DELETE FROM audit_treehead WHERE tree_size = 10")
    # An old id, below what the log has taken: in no tree head.
    tamper("INSERT INTO consent_consentevent (id, site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, "
           "policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash) "
           "SELECT %s, site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime, policy_version, "
           "banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash "
           "FROM consent_consentevent WHERE id = %s", [-5, forged.pk])
    # A negative id sorts first, as an id freed by a deleted event would.
    assert "event -5 of site demo is in no tree head" in verify_fails("--all")


def test_tree_heads_extend_each_other_and_cover_only_new_events(api, log):
    [first] = extend_logs(lag_seconds=0)
    assert extend_logs(lag_seconds=0) == []  # nothing new
    history(api, new_visitor_id(), steps=2)
    [second] = extend_logs(lag_seconds=0)
    assert (first.tree_size, second.tree_size) == (9, 11) and second.last_event_id > first.last_event_id
    assert "2 tree heads" in verify_passes()


def test_tree_heads_wait_for_the_lag(log):
    assert extend_logs(lag_seconds=3600) == []
    [head] = extend_logs(now=timezone.now() + timedelta(hours=2), lag_seconds=3600)
    assert head.tree_size == 9 and head.complete_until == head.created_at - timedelta(hours=1)


def test_two_runs_at_once_extend_a_log_once(log):
    [first] = extend_logs(lag_seconds=0)
    # A run that started from the same head loses on the unique leaf positions and changes nothing.
    assert audit_log._extend(first.site_id, "demo", first.last_event_id + 1, timezone.now(), timezone.now()) is None
    TreeHead.objects.filter(pk=first.pk).update(last_event_id=0)  # as the loser saw it
    assert audit_log._extend(first.site_id, "demo", first.last_event_id, timezone.now(), timezone.now()) is None
    assert TreeHead.objects.count() == 1


def test_forged_or_removed_tree_head_is_reported(api, log):
    extend_logs(lag_seconds=0)
    history(api, new_visitor_id(), steps=1)
    [second] = extend_logs(lag_seconds=0)
    verify_passes()
    with connection.cursor() as cursor:  # heads have no trigger: their signatures protect them
        cursor.execute("UPDATE audit_treehead SET root_hash = %s WHERE id = %s", ["0" * 64, second.pk])
    output = verify_fails("--all")
    assert "tree head 10 does not match its signature" in output and "no longer make the root of tree head 10" in output
    TreeHead.objects.filter(pk=second.pk).delete()
    assert "1 leaves are beyond the latest tree head (9): a head was deleted" in verify_fails("--all")


def test_changed_stored_subtree_is_reported(api, demo_site):
    from audit.models import LogNode
    from consent.models import ConsentEvent as Event

    visitor = Visitor.objects.create(site=demo_site, uuid=uuid.uuid4(), token_hash="0" * 64)
    Event.objects.bulk_create(Event(site=demo_site, visitor=visitor, source="api", regime="opt_in", event_hash=f"{i:064x}")
                              for i in range(300))
    extend_logs(lag_seconds=0)
    LogNode.objects.filter(level=8, index=0).update(hash="0" * 64)
    assert "stored subtree 0 of level 8 differs from its leaves" in verify_fails("--all")


def test_checkpoints_of_before_the_logs_still_verify(log):
    """Rows made by the former checkpoints (an HMAC of CMP_RECEIPT_KEYS): built here as they were, by hand."""
    import hashlib
    import hmac

    from consent.chain import iso_utc

    rows = list(ConsentEvent.objects.order_by("id").values_list("id", "event_hash"))
    level = [hashlib.sha256(b"\x00" + f"{i}:{h}".encode()).digest() for i, h in rows]
    while len(level) > 1:  # 9 leaves: RFC 6962 splits 8 + 1, which pairing with a carried odd node also gives
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    cp = AuditCheckpoint(created_at=timezone.now(), after_event_id=0, first_event_id=rows[0][0], last_event_id=rows[-1][0],
                         event_count=9, merkle_root=level[0].hex(), prev_root="", key_id="dev")
    payload = {"kind": "cmp-audit-checkpoint", "created_at": iso_utc(cp.created_at), "after_event_id": 0,
               "first_event_id": cp.first_event_id, "last_event_id": cp.last_event_id, "event_count": 9,
               "merkle_root": cp.merkle_root, "prev_root": ""}
    secret = dict(settings.CMP_RECEIPT_KEYS)["dev"]
    cp.signature = base64.urlsafe_b64encode(hmac.new(secret, canonical_json(payload), hashlib.sha256).digest()).rstrip(b"=").decode()
    cp.save()
    assert "1 checkpoints" in verify_passes()
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [rows[4][0]])
    assert "Merkle root differs" in verify_fails("--all")
    AuditCheckpoint.objects.update(merkle_root="0" * 64)
    assert f"checkpoint {cp.pk}: signature does not match" in verify_fails("--all")


def test_purge_path_leaves_a_tombstone_and_the_log_still_verifies(api, log):
    extend_logs(lag_seconds=0)
    victim = Visitor.objects.get(uuid=log[0])

    assert purge.erase_visitor(victim.site, victim.uuid, reason="test erasure") == 3
    tombstone = AuditPurge.objects.get()
    assert tombstone.event_count == 3 and tombstone.visitor_count == 1 and tombstone.sites == ["demo"]
    assert str(log[0]) not in str(tombstone.leaves)  # no visitor id kept
    history(api, new_visitor_id(), steps=2)
    [head] = extend_logs(lag_seconds=0)
    assert head.tree_size == 11  # the purged events keep their leaves
    assert "1 tombstones" in verify_passes()


def test_events_purged_before_they_were_logged_join_the_log_from_their_tombstone(api, log):
    victim = Visitor.objects.get(uuid=log[0])
    purged = [(e.pk, e.event_hash) for e in events_of(log[0])]
    purge.erase_visitor(victim.site, victim.uuid, reason="test erasure")
    [head] = extend_logs(lag_seconds=0)
    assert head.tree_size == 9
    from audit.models import LogLeaf

    assert set(LogLeaf.objects.filter(event_id__in=[pk for pk, _ in purged]).values_list("event_id", "event_hash")) == set(purged)
    verify_passes()


def test_retention_goes_through_the_purge_path(api, log):
    extend_logs(lag_seconds=0)
    old = Visitor.objects.get(uuid=log[2])
    tamper("UPDATE consent_consentevent SET created_at = %s WHERE visitor_id = %s", [timezone.now() - timedelta(days=800), old.pk])
    tamper("UPDATE consent_consentevent SET created_at = %s WHERE visitor_id = %s", [timezone.now() - timedelta(days=800), old.pk])
    assert retention.purge_expired_visitors() == 1
    assert AuditPurge.objects.get().reason == "retention"
    # The aged events were altered before their purge; what is left verifies,
    # and the checkpoint still matches through the tombstone's hashes.
    verify_passes()


def test_forged_tombstone_is_reported(log):
    extend_logs(lag_seconds=0)
    purge_visitors([Visitor.objects.get(uuid=log[0])], reason="erasure")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditpurge SET reason = 'retention'")
    assert "tombstone" in verify_fails()


def test_deleting_a_tombstone_is_reported(log):
    extend_logs(lag_seconds=0)
    purge_visitors([Visitor.objects.get(uuid=log[0])], reason="erasure")
    AuditPurge.objects.all().delete()
    assert "without a tombstone" in verify_fails()


def test_verify_audit_site_and_since(api, log):
    output = verify_passes("--site", "demo", "--since", (timezone.now() - timedelta(days=1)).date().isoformat())
    assert "9 events" in output
    later = timezone.now() + timedelta(days=1)
    assert "0 events" in verify_passes("--since", later.isoformat())
    target = events_of(log[0])[2]
    tamper("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", [target.pk])
    assert f"event {target.pk}" in verify_fails("--site", "demo")
    with pytest.raises(CommandError, match="No site"):
        call_command("verify_audit", "--site", "nope")
    with pytest.raises(CommandError, match="not a date"):
        call_command("verify_audit", "--since", "yesterday")


def test_verify_since_trusts_the_chain_before_it(api, log):
    visitor = log[0]
    cut = timezone.now()
    for choice in (True, False):  # the same visitor's chain goes on across the cut
        post(api, consent_body(visitor, token=log.tokens[visitor], choices={"analytics": choice}), HTTP_CF_IPCOUNTRY="FR")
    before, after = [e for e in events_of(visitor) if e.created_at < cut], [e for e in events_of(visitor) if e.created_at >= cut]
    assert len(before) == 3 and len(after) == 2 and after[0].prev_hash == before[-1].event_hash
    # The first event after the cut links to the stored hash before it: checked from there, not from the start.
    assert "2 events" in verify_passes("--since", cut.isoformat())
    # What lies before the cut is trusted, not checked: altering it fails the whole check only.
    tamper("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", [before[0].pk])
    assert "2 events" in verify_passes("--since", cut.isoformat())
    assert f"event {before[0].pk}" in verify_fails()
    # The link across the cut is checked.
    tamper("UPDATE consent_consentevent SET prev_hash = %s WHERE id = %s", [before[0].event_hash, after[0].pk])
    assert f"event {after[0].pk}" in verify_fails("--since", cut.isoformat())


def test_the_orm_refuses_to_change_or_delete_events(log):
    event = events_of(log[0])[0]
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).update(region="US")
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        event.save()


def test_guard_lifted_needs_a_transaction(transactional_db):
    with pytest.raises(RuntimeError):
        with guard_lifted():
            pass


def test_audit_checkpoint_command_and_task(log):
    from io import StringIO

    out = StringIO()
    call_command("audit_checkpoint", "--lag", "0", stdout=out)
    assert "Site demo: tree head of 9 leaves" in out.getvalue()
    call_command("audit_checkpoint", "--lag", "0", stdout=out)
    assert "Nothing new" in out.getvalue()
    assert tasks.audit_checkpoint.apply().get() == []  # default lag: nothing old enough and new


# --- The PostgreSQL trigger ------------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The append-only trigger exists on PostgreSQL only; run with DATABASE_URL=postgres://… to test it "
    "(on SQLite the ORM guard, tested above, is the protection).",
)


@pytest.mark.guarantee
@needs_postgres
def test_trigger_blocks_raw_update_and_delete(log):
    from django.db import IntegrityError, InternalError, ProgrammingError

    event = events_of(log[0])[0]
    for sql in ("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", "DELETE FROM consent_consentevent WHERE id = %s"):
        with pytest.raises((InternalError, IntegrityError, ProgrammingError)) as refused:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [event.pk])
        assert "append-only" in str(refused.value)
    assert ConsentEvent.objects.get(pk=event.pk).region == "FR"


@pytest.mark.guarantee
@needs_postgres
def test_trigger_bypass_is_transaction_local(log):
    event = events_of(log[0])[0]
    tamper("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", [event.pk])
    from django.db import IntegrityError, InternalError

    with pytest.raises((InternalError, IntegrityError)):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE consent_consentevent SET region = 'DE' WHERE id = %s", [event.pk])

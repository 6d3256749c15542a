"""The tamper-evident log: every kind of tampering is reported by verify_audit.

To tamper, the tests play an attacker with database access: raw SQL inside
``guard_lifted()`` (the documented bypass of the PostgreSQL trigger;
on SQLite the ORM guard is the only one, and raw SQL passes it).
"""
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import purge, retention, tasks
from audit.checkpoints import MerkleBuilder, checkpoint, merkle_leaf
from audit.models import AuditCheckpoint, AuditPurge
from audit.purge import guard_lifted, purge_visitors
from consent.chain import CONTENT_FIELDS, canonical_content, canonical_json, event_hash
from consent.models import AppendOnlyError, ConsentEvent, Visitor
from tests.support import consent_body, write_url


def post(api, body, **headers):
    response = api.post(write_url(), body, format="json", **headers)
    assert response.status_code in (200, 201), response.content
    return response.json()


def history(api, visitor, steps=3):
    """One visitor making ``steps`` choices; returns the token."""
    token = None
    for i in range(steps):
        body = consent_body(visitor, choices={"analytics": i % 2 == 0, "advertising": i % 3 == 0, "recognition": False})
        if token:
            body["token"] = token
        token = post(api, body, HTTP_CF_IPCOUNTRY="FR")["token"] or token
    return token


@pytest.fixture
def log(api, demo_site):
    """Three visitors, three events each, interleaved."""
    visitors = [str(uuid.uuid4()) for _ in range(3)]
    tokens = {}
    for step in range(3):
        for v in visitors:
            body = consent_body(v, choices={"analytics": step % 2 == 0, "advertising": False, "recognition": step == 2})
            if v in tokens:
                body["token"] = tokens[v]
            tokens[v] = post(api, body, HTTP_CF_IPCOUNTRY="FR")["token"] or tokens.get(v)
    return visitors


def events_of(visitor):
    return list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))


def tamper(sql, params=()):
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify_fails(*args):
    """verify_audit exits non-zero; returns what it printed."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    assert failure.value.returncode == 1
    return out.getvalue() + err.getvalue()


def verify_passes(*args):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=out)
    assert "Audit log intact." in out.getvalue()
    return out.getvalue()


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
        **{name: getattr(event, name) for name in CONTENT_FIELDS},
    )
    assert event_hash(content) == event.event_hash
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


def test_reordered_events_across_visitors_are_reported_by_the_checkpoint(log):
    # Two first events of different visitors swap places: each chain still
    # links, but the Merkle root over (id, hash) in id order changes.
    a, b = events_of(log[0])[0], events_of(log[1])[0]
    assert checkpoint(lag_seconds=0)
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [-a.pk, a.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [a.pk, b.pk])
    tamper("UPDATE consent_consentevent SET id = %s WHERE id = %s", [b.pk, -a.pk])
    output = verify_fails("--all")
    assert "Merkle root differs" in output


def test_deleted_whole_visitor_chain_is_reported_by_the_checkpoint(log):
    cp = checkpoint(lag_seconds=0)
    assert cp.event_count == 9 and cp.after_event_id == 0 and cp.prev_root == ""
    verify_passes()
    victim = Visitor.objects.get(uuid=log[1])
    tamper("DELETE FROM consent_consentevent WHERE visitor_id = %s", [victim.pk])
    output = verify_fails()
    assert "Merkle root differs" in output and "6 events now, 9 when checkpointed" in output


def test_deleted_last_event_of_a_chain_is_reported_by_the_checkpoint(log):
    checkpoint(lag_seconds=0)
    last = events_of(log[2])[-1]
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [last.pk])
    assert "Merkle root differs" in verify_fails()


def test_checkpoints_chain_and_cover_only_new_events(api, log):
    first = checkpoint(lag_seconds=0)
    assert checkpoint(lag_seconds=0) is None  # nothing new
    history(api, str(uuid.uuid4()), steps=2)
    second = checkpoint(lag_seconds=0)
    assert second.after_event_id == first.last_event_id
    assert second.prev_root == first.merkle_root
    assert second.event_count == 2
    assert "2 checkpoints" in verify_passes()


def test_checkpoint_waits_for_the_lag(log):
    assert checkpoint(lag_seconds=3600) is None
    assert checkpoint(now=timezone.now() + timedelta(hours=2), lag_seconds=3600).event_count == 9


def test_forged_or_removed_checkpoint_is_reported(api, log):
    checkpoint(lag_seconds=0)
    history(api, str(uuid.uuid4()), steps=1)
    second = checkpoint(lag_seconds=0)
    history(api, str(uuid.uuid4()), steps=1)
    checkpoint(lag_seconds=0)
    verify_passes()
    with connection.cursor() as cursor:  # checkpoints have no trigger: signatures and links protect them
        cursor.execute("UPDATE audit_auditcheckpoint SET merkle_root = %s WHERE id = %s", ["0" * 64, second.pk])
    assert "signature does not match" in verify_fails("--all")
    AuditCheckpoint.objects.filter(pk=second.pk).delete()
    assert f"starts after event {second.last_event_id}, but the previous one ends at" in verify_fails("--all")


def test_purge_path_leaves_a_tombstone_and_the_log_still_verifies(api, log):
    checkpoint(lag_seconds=0)
    victim = Visitor.objects.get(uuid=log[0])

    assert purge.erase_visitor(victim.site, victim.uuid, reason="test erasure") == 3
    tombstone = AuditPurge.objects.get()
    assert tombstone.event_count == 3 and tombstone.visitor_count == 1 and tombstone.sites == ["demo"]
    assert str(log[0]) not in str(tombstone.leaves)  # no visitor id kept
    history(api, str(uuid.uuid4()), steps=2)
    checkpoint(lag_seconds=0)
    assert "1 tombstones" in verify_passes()


def test_retention_goes_through_the_purge_path(api, log):
    checkpoint(lag_seconds=0)
    old = Visitor.objects.get(uuid=log[2])
    tamper("UPDATE consent_consentevent SET created_at = %s WHERE visitor_id = %s", [timezone.now() - timedelta(days=800), old.pk])
    tamper("UPDATE consent_consentevent SET created_at = %s WHERE visitor_id = %s", [timezone.now() - timedelta(days=800), old.pk])
    assert retention.purge_expired_visitors() == 1
    assert AuditPurge.objects.get().reason == "retention"
    # The aged events were altered before their purge; what is left verifies,
    # and the checkpoint still matches through the tombstone's hashes.
    verify_passes()


def test_forged_tombstone_is_reported(log):
    checkpoint(lag_seconds=0)
    purge_visitors([Visitor.objects.get(uuid=log[0])], reason="erasure")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditpurge SET reason = 'retention'")
    assert "tombstone" in verify_fails()


def test_deleting_a_tombstone_is_reported(log):
    checkpoint(lag_seconds=0)
    purge_visitors([Visitor.objects.get(uuid=log[0])], reason="erasure")
    AuditPurge.objects.all().delete()
    assert "Merkle root differs" in verify_fails()


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
    cut = timezone.now()
    token = history(api, log[0] and str(uuid.uuid4()), steps=2)
    assert token
    assert "2 events" in verify_passes("--since", cut.isoformat())


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
    assert "Checkpoint" in out.getvalue() and "(9)" in out.getvalue()
    call_command("audit_checkpoint", "--lag", "0", stdout=out)
    assert "Nothing new" in out.getvalue()
    assert tasks.audit_checkpoint.apply().get() is None  # default lag: nothing old enough and new


def test_merkle_root_is_rfc6962_shaped():
    import hashlib

    builder = MerkleBuilder()
    for i in range(1, 4):
        builder.add(i, f"{i:064x}")
    leaf = [merkle_leaf(i, f"{i:064x}") for i in range(1, 4)]
    node = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    assert builder.root() == node(node(leaf[0], leaf[1]), leaf[2]).hex()


# --- The PostgreSQL trigger ------------------------------------------------------------

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="The append-only trigger exists on PostgreSQL only; run with DATABASE_URL=postgres://… to test it "
    "(on SQLite the ORM guard, tested above, is the protection).",
)


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


@needs_postgres
def test_trigger_bypass_is_transaction_local(log):
    event = events_of(log[0])[0]
    tamper("UPDATE consent_consentevent SET region = 'US' WHERE id = %s", [event.pk])
    from django.db import IntegrityError, InternalError

    with pytest.raises((InternalError, IntegrityError)):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE consent_consentevent SET region = 'DE' WHERE id = %s", [event.pk])

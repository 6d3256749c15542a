"""The event table's monthly partitions on PostgreSQL, and retention dropping whole months (consent/partitions.py,
audit/retention.py): the log verifies after, chains start at their anchors, and a deletion is still caught."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit import retention
from audit.log import extend_logs
from audit.models import AuditPurge
from audit.verify import chain_status
from consent import partitions
from consent.models import ConsentEvent, Visitor
from tests.support import another_session, lookup_url, needs_postgresql, new_visitor_id
from tests.support.audit import history, tamper, verify_fails, verify_passes

pytestmark = [pytest.mark.django_db, pytest.mark.guarantee]

LONG_AGO = timedelta(days=800)  # past the demo site's retention (730 days) and consent lifetime


@pytest.fixture(autouse=True)
def postgresql():
    needs_postgresql()


def partition_of(event) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM consent_consentevent WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def test_events_land_in_their_months_partition_and_the_next_months_are_made_ahead(api, demo_site):
    now = timezone.now()
    names = {m.name for m in partitions.months()}
    assert {partitions.month_of(now, k).name for k in range(partitions.AHEAD + 1)} <= names
    history(api, new_visitor_id(), steps=1)
    assert partition_of(ConsentEvent.objects.get()) == partitions.month_of(now).name
    assert partitions.ensure_ahead(now) == []  # made once


def test_an_event_of_a_month_without_partition_goes_to_the_default_one(api, demo_site):
    history(api, new_visitor_id(), steps=1)
    tamper("UPDATE consent_consentevent SET created_at = created_at - interval '3000 days'")
    assert partition_of(ConsentEvent.objects.get()) == partitions.DEFAULT
    # A month the default partition has events of cannot be made, and is skipped without an error.
    long_ago = ConsentEvent.objects.get().created_at
    assert partitions.ensure_months(long_ago, long_ago) == []


def age(visitor_uuid, events, days_back=LONG_AGO):
    """Move the first ``events`` of a visitor (and, if that is all of them, the visitor) into a month long past."""
    visitor = Visitor.objects.get(uuid=visitor_uuid)
    ids = list(ConsentEvent.objects.filter(visitor=visitor).order_by("id").values_list("id", flat=True)[:events])
    tamper("UPDATE consent_consentevent SET created_at = created_at - %s WHERE id = ANY(%s)", [days_back, ids])
    if not ConsentEvent.objects.filter(visitor=visitor).exclude(id__in=ids).exists():
        Visitor.objects.filter(pk=visitor.pk).update(updated_at=timezone.now() - days_back)


@pytest.fixture
def old_month(api, demo_site):
    """Visitors A (3 events, the first 2 long ago), C (2 events, recent) and B (2 events, both long ago), written in
    that order, in a month that has its own partition; their log extended."""
    long_ago = timezone.now() - LONG_AGO
    assert partitions.ensure_months(long_ago, long_ago) == [partitions.month_of(long_ago).name]
    a, c, b = new_visitor_id(), new_visitor_id(), new_visitor_id()
    tokens = {a: history(api, a, steps=3), c: history(api, c, steps=2)}
    history(api, b, steps=2)
    extend_logs(lag_seconds=0)  # logged with the hashes they were written with; aging changes only created_at
    age(a, 2)
    age(b, 2)
    assert {partition_of(e) for e in ConsentEvent.objects.filter(visitor__uuid__in=[a, b], created_at__lt=long_ago + timedelta(days=40))} \
        == {partitions.month_of(long_ago).name}
    return {"a": a, "b": b, "c": c, "tokens": tokens, "month": partitions.month_of(long_ago)}


def test_retention_drops_a_past_month_whole_and_the_log_still_verifies(api, old_month):
    a, b, c = old_month["a"], old_month["b"], old_month["c"]
    a_last = ConsentEvent.objects.filter(visitor__uuid=a).order_by("-id").first()

    dropped, purged = retention.apply_retention()

    assert (dropped, purged) == (4, 1)  # A's first two and B's two events; B, left with none, purged
    assert old_month["month"].name not in {m.name for m in partitions.months()}
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [old_month["month"].name])
        assert cursor.fetchone()[0] is None  # the table is gone, not emptied
    tombstone = AuditPurge.objects.get()
    assert tombstone.partition == old_month["month"].name and tombstone.event_count == 4 and tombstone.visitor_count == 2
    assert [leaf[2] for leaf in tombstone.leaves] == [a_last.prev_hash]  # A's chain now starts at its anchor
    assert not Visitor.objects.filter(uuid=b).exists()
    assert ConsentEvent.objects.filter(visitor__uuid=a).count() == 1 and ConsentEvent.objects.filter(visitor__uuid=c).count() == 2
    assert "1 tombstones" in verify_passes()
    assert chain_status(Visitor.objects.get(uuid=a))["ok"]
    # A keeps their current choice, and the lookup answers it.
    assert api.get(lookup_url(a)).json()["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    # Nothing left to drop: a second run changes nothing.
    assert retention.apply_retention() == (0, 0)
    assert "1 tombstones" in verify_passes()
    # New events keep being written and logged.
    history(api, new_visitor_id(), steps=2)
    extend_logs(lag_seconds=0)
    verify_passes()


def test_an_event_deleted_inside_a_dropped_months_id_range_is_still_reported(api, old_month):
    retention.apply_retention()
    # C's last event: deleting it breaks no chain, so only the log's count can tell.
    c_last = ConsentEvent.objects.filter(visitor__uuid=old_month["c"]).order_by("id").last()
    tombstone = AuditPurge.objects.get()
    assert tombstone.first_event_id < c_last.pk < tombstone.last_event_id  # C wrote between A and B
    tamper("DELETE FROM consent_consentevent WHERE id = %s", [c_last.pk])
    out = verify_fails()
    assert "4 logged events are gone within the id ranges of the dropped months, whose tombstones account for 3" in out
    assert "chain" not in out.lower().replace("chains", "")


def test_a_forged_month_tombstone_is_reported(old_month):
    retention.apply_retention()
    tamper("UPDATE audit_auditpurge SET event_count = event_count + 1")
    assert "tombstone" in verify_fails()


def test_a_month_is_kept_while_a_site_keeps_events_longer(old_month, demo_site):
    demo_site.retention_days = 900
    demo_site.save()
    assert retention.drop_expired_months(timezone.now()) == 0
    assert old_month["month"].name in {m.name for m in partitions.months()}


def test_a_month_whose_events_are_in_no_tree_head_is_not_dropped(api, demo_site):
    long_ago = timezone.now() - LONG_AGO
    partitions.ensure_months(long_ago, long_ago)
    v = new_visitor_id()
    history(api, v, steps=1)
    age(v, 1)
    # The retention checkpoint logs only events older than the lag: here, not this one.
    with override_settings(CMP_AUDIT_CHECKPOINT_LAG_SECONDS=LONG_AGO.total_seconds() * 2):
        assert retention.drop_expired_months(timezone.now()) == 0
    assert ConsentEvent.objects.filter(visitor__uuid=v).exists()


WRITE = """
from django.test import Client
from tests.support import consent_body, new_visitor_id, write_url
assert Client().post(write_url(), consent_body(new_visitor_id()), content_type="application/json").status_code == 201
"""

# Two visitors with an event each, as an installation of before has them (raw SQL: today's models are ahead of
# that schema); the second visitor's event is its latest.
BEFORE = """
INSERT INTO consent_visitor (site_id, uuid, token_hash, created_at, updated_at, choices, chosen_at, policy_version,
    choice_signals, signals, banner_version, language)
SELECT id, gen_random_uuid(), 'x', now(), now(), '{}', now(), '1', '{}', '{}', '1', 'en' FROM consent_site, generate_series(1, 2);
INSERT INTO consent_consentevent (site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime,
    policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, event_hash, prev_hash)
SELECT site_id, id, 'api', '{}', '{}', '{}', '{}', 'opt_in', '1', '1', 'en', 'FR', '', '', now(), 'h' || id, ''
FROM consent_visitor ORDER BY id;
"""


def test_the_migration_makes_the_table_as_it_was_the_default_partition_and_ids_go_on(tmp_path):
    """An installation with events migrates: they stay where they are (the default partition), new ones continue
    their ids, and the next months get partitions; the indexes, keys and trigger are the partitioned table's; each
    visitor's chain goes on from its latest event."""
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    name = "cmp_partition_migration"
    admin = connection.settings_dict

    def psql(sql, db="postgres", check=True):
        run = subprocess.run(["psql", "-h", admin["HOST"] or "127.0.0.1", "-p", str(admin["PORT"] or 5432), "-U",
                              admin["USER"] or "postgres", "-d", db, "-XAtqc", sql], check=check, capture_output=True,
                             text=True)
        return run.stdout.strip() if check else run.stderr

    def manage(*args):
        run = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr

    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"postgres://{admin['USER'] or 'postgres'}@{admin['HOST'] or '127.0.0.1'}:"
           f"{admin['PORT'] or 5432}/{name}", "CELERY_TASK_ALWAYS_EAGER": "1"}
    env.pop("REDIS_URL", None)
    try:
        manage("migrate", "-v0", "consent", "0018")
        for app in ("admin", "audit", "auth", "contenttypes", "delivery", "privacy_requests", "scanner", "sessions"):
            manage("migrate", "-v0", app)  # none of them needs the partitioning
        assert psql("SELECT relkind FROM pg_class WHERE relname = 'consent_consentevent'", name) == "r"
        manage("seed_demo")
        psql(BEFORE, name)
        before = psql("SELECT string_agg(id::text || ':' || event_hash, ',' ORDER BY id) FROM consent_consentevent", name)
        manage("migrate", "-v0")
        assert psql("SELECT relkind FROM pg_class WHERE relname = 'consent_consentevent'", name) == "p"
        assert psql("SELECT string_agg(id::text || ':' || event_hash, ',' ORDER BY id) FROM "
                    "consent_consentevent_default", name) == before  # the same rows, where they were
        # Each visitor of before goes on from its latest event.
        assert psql("SELECT string_agg(last_event_hash, ',' ORDER BY id) FROM consent_visitor", name) == "h1,h2"
        manage("shell", "-c", WRITE)
        ids = psql("SELECT string_agg(id::text || ' ' || tableoid::regclass::text, ',' ORDER BY id) FROM "
                   "consent_consentevent", name).split(",")
        assert [i.split()[0] for i in ids] == ["1", "2", "3"]
        # This month already had events in the table, so it stays in the default partition; the next months have theirs.
        assert {i.split()[1] for i in ids} == {partitions.DEFAULT}
        made = psql("SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON "
                    "c.oid = i.inhrelid WHERE i.inhparent = 'consent_consentevent'::regclass", name).split(",")
        assert made == sorted([partitions.DEFAULT] + [partitions.month_of(timezone.now(), k).name for k in (1, 2, 3)])
        assert psql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = "
                    "'consent_consentevent'", name) == ("consent_consentevent_created_at_ddb75d05,"
                                                        "consent_consentevent_pkey,consent_consentevent_site_id_784ed53b,"
                                                        "event_visitor_history")
        assert psql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'consent_consentevent'::regclass AND contype = 'f'",
                    name) == "2"
        assert "append-only" in psql("DELETE FROM consent_consentevent", name, check=False)
        assert psql("SELECT count(*) FROM consent_consentevent", name) == "3"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def reader():
    """Another session of the database, to hold a lock on a table as a long reader (an export) would."""
    with another_session() as session:
        yield session


def test_a_busy_event_table_postpones_the_drop_and_loses_nothing(old_month, reader, monkeypatch):
    monkeypatch.setattr(retention, "DETACH_LOCK_TIMEOUT", "200ms")
    reader.execute("LOCK TABLE ONLY consent_consentevent IN ACCESS SHARE MODE")  # its transaction stays open
    assert retention.drop_expired_months(timezone.now()) == 0
    assert old_month["month"].name in {m.name for m in partitions.months()}
    assert not AuditPurge.objects.exists() and ConsentEvent.objects.count() == 7
    reader.rollback()
    assert retention.drop_expired_months(timezone.now()) == 4
    assert "1 tombstones" in verify_passes()


def test_a_busy_default_partition_postpones_a_new_month_without_blocking_writes(api, demo_site, reader, monkeypatch):
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    later = partitions.month_of(timezone.now(), partitions.AHEAD + 1)
    reader.execute(f"LOCK TABLE {partitions.DEFAULT} IN ACCESS SHARE MODE")
    assert partitions.ensure_months(later.start, later.start) == []
    history(api, new_visitor_id(), steps=2)  # writes go on meanwhile
    reader.rollback()
    assert partitions.ensure_months(later.start, later.start) == [later.name]

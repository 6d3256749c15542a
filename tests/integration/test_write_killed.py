"""The web process killed in the middle of a consent write leaves nothing of it (PostgreSQL).

A real gunicorn takes a visitor's first write. The write inserts the visitor
and its first event, then the webhook outbox row; a trigger on the outbox
makes that insert wait for an advisory lock the test holds, so the write is
caught between its steps with the visitor and the event already written in
its transaction. The test then SIGKILLs the gunicorn worker and lets the
insert go on: PostgreSQL loses the client, and the transaction never
commits. Had the visitor and the event been committed before the outbox
row, they would be in the database now.
"""
import os
import signal
import threading
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from consent.models import ConsentEvent, Visitor
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, database_url, http, needs_postgresql, new_visitor_id, product_server_process, wait_until

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]
LOCK = 424242


@pytest.fixture
def outbox_waits_for_the_test():
    """While the test holds advisory lock LOCK (on a connection of its own), every outbox insert waits for it."""
    needs_postgresql()
    table = OutboxMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN PERFORM pg_advisory_xact_lock({LOCK}); RETURN NEW; END $$")
        cursor.execute(f'CREATE TRIGGER wait_for_test BEFORE INSERT ON "{table}" FOR EACH ROW EXECUTE FUNCTION wait_for_test()')
    holder = psycopg.connect(database_url(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    try:
        yield holder
    finally:
        holder.close()  # releases the lock, if the test did not
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TRIGGER IF EXISTS wait_for_test ON "{table}"')
            cursor.execute("DROP FUNCTION IF EXISTS wait_for_test()")


def waiting_for_the_lock() -> list[int]:
    """The backends waiting for LOCK: a write stopped inside its outbox insert."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted", [LOCK])
        return [row[0] for row in cursor.fetchall()]


def backend_alive(pid) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def gunicorn_workers(master) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_the_web_process_killed_between_the_event_and_the_outbox_row_leaves_nothing(outbox_waits_for_the_test, tmp_path):
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    from consent.models import Site

    WebhookEndpoint.objects.create(site=Site.objects.get(key="demo"), url="http://127.0.0.1:9/hooks")
    visitor = new_visitor_id()
    with product_server_process(tmp_path / "gunicorn.log", ) as (base, master):
        (worker,) = gunicorn_workers(master)
        answer = {}

        def write():
            try:
                answer["status"] = http("POST", f"{base}/api/v1/sites/demo/consents", consent_body(visitor))[0]
            except OSError as error:  # the connection dies with the worker
                answer["error"] = error

        client = threading.Thread(target=write)
        client.start()
        try:
            wait_until(waiting_for_the_lock, 30, "the write to reach its outbox insert")
            (backend,) = waiting_for_the_lock()
            # Caught between its steps: the visitor and its event are written, in the write's open transaction.
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'transactionid' AND granted",
                               [backend])
                written_in_its_transaction = cursor.fetchone()[0] >= 1
            os.kill(worker, signal.SIGKILL)
            client.join(timeout=30)
        finally:
            outbox_waits_for_the_test.execute("SELECT pg_advisory_unlock(%s)", [LOCK])  # the insert goes on, to a lost client
        assert "status" not in answer, answer  # the client got no answer: the process died mid-write
        wait_until(lambda: not backend_alive(backend), 30, "PostgreSQL to end the dead worker's session")

    assert not Visitor.objects.filter(uuid=visitor).exists()
    assert not ConsentEvent.objects.filter(visitor__uuid=visitor).exists()
    assert not OutboxMessage.objects.exists()
    assert written_in_its_transaction, "the write's transaction held no transaction id: it was caught before writing"

"""A Celery worker killed in the middle of a batch task: the task runs again, and
its effect happens once.

tests/integration/test_worker_crash.py kills a worker inside a webhook delivery (one HTTP
call, one row). This one kills it inside ``expire_choices``, a task that works
through many visitors in batches, each batch its own transaction: the whole
worker (main process and pool child) gets SIGKILL after some batches were
committed and while another is open. The open batch must roll back whole; the
message, never acknowledged (acks_late), is handed out again once the broker's
visibility timeout (CELERY_VISIBILITY_TIMEOUT, set short here) has passed; a
new worker continues where the committed batches stopped. In the end every
expired choice has exactly one ``expiry`` event, none twice, none missing, and
every visitor's audit chain still verifies.

Runs where PostgreSQL, Redis and redis-server run (CI's PostgreSQL pass).
"""
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from audit.verify import verify
from cmp.celery import app as celery_app
from consent import expiry
from consent.models import ConsentEvent, Visitor
from consent.tasks import expire_choices
from tests.support import wait_until
from tests.support.workers import idle, stop_workers, use_broker
from tests.support.workers import start_worker as start_celery_worker

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]
VISITORS = 4000  # eight batches of expiry.BATCH: several seconds of work, so the kill lands mid-task
VISIBILITY_TIMEOUT = 8  # longer than the rerun takes, so the new worker does not hand it out a third time


def start_worker(broker, log_path):
    return start_celery_worker(broker, log_path, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))


def other_transactions() -> int:
    """Transactions open on the test database in other sessions than this one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
        return cursor.fetchone()[0]


def expiry_events():
    return ConsentEvent.objects.filter(source="expiry").count()


def test_worker_killed_mid_batch_task_reruns_and_logs_each_expiry_once(demo_site, broker, tmp_path):
    assert VISITORS > 2 * expiry.BATCH
    chosen_at = timezone.now() - timedelta(days=demo_site.consent_lifetime_days + 30)
    Visitor.objects.bulk_create([
        Visitor(site=demo_site, uuid=uuid.uuid4(), token_hash="0" * 64, chosen_at=chosen_at, policy_version="1",
                choices={"analytics": True, "advertising": True, "recognition": False})
        for _ in range(VISITORS)
    ])
    saved = use_broker(broker)
    first = start_worker(broker, tmp_path / "first.log")
    second = None
    try:
        wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the first worker to answer ping")
        expire_choices.delay()

        # Kill as soon as the first batch is committed: the task is certainly in flight.
        deadline = time.monotonic() + 30
        while expiry_events() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        # PostgreSQL sees the dropped connection and rolls the open batch back: wait until no other transaction is open.
        wait_until(lambda: not other_transactions(), 30, "the killed worker's transaction to end")
        done_before = expiry_events()
        assert 0 < done_before < VISITORS, f"the kill did not land mid-task ({done_before} of {VISITORS} logged)"
        assert done_before % expiry.BATCH == 0, "an interrupted batch is rolled back whole"

        second = start_worker(broker, tmp_path / "second.log")
        wait_until(lambda: expiry_events() >= VISITORS, VISIBILITY_TIMEOUT + 45, "the task to run again to the end")
        log = tmp_path / "second.log"
        wait_until(lambda: "succeeded" in log.read_text(), 20, "the rerun to finish")
        wait_until(lambda: idle(broker), 30, "the worker to have nothing left to do")  # a duplicate run would have begun

        # The rerun picked up where the committed batches stopped.
        assert "succeeded in" in log.read_text() and f": {VISITORS - done_before}" in log.read_text()
        assert expiry_events() == VISITORS
        assert not (ConsentEvent.objects.filter(source="expiry").values("visitor")
                    .annotate(n=Count("id")).filter(n__gt=1).exists()), "an expiry logged twice"
        assert not Visitor.objects.exclude(expiry_logged_for=chosen_at).exists(), "an expiry not marked as logged"
        report = verify(site="demo", checkpoints=False)
        assert report.ok, report.problems[:5]
        assert report.events == VISITORS
    finally:
        stop_workers(saved, first, second)

"""A Celery worker killed in the middle of a task: the task runs again, and its
effect happens once.

The task is a webhook delivery whose receiver stalls, so the worker is
certainly inside it when the whole worker (main process and pool) gets
SIGKILL. The message was not acknowledged (acks_late), so once the broker's
visibility timeout has passed a new worker runs it again; the outbox row,
locked while delivering, was never marked, so the delivery happens and is
recorded exactly once. Runs where PostgreSQL, Redis and redis-server run (CI).
"""
import os
import signal

import pytest

from cmp.celery import app as celery_app
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, wait_until, write_url
from tests.support.receiver import Receiver
from tests.support.workers import idle, start_worker, stop_workers, use_broker

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]
VISIBILITY_TIMEOUT = 4


def start_crashable_worker(broker, log_path):
    return start_worker(broker, log_path, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))


def test_worker_killed_mid_delivery_delivers_once_after_restart(api, demo_site, broker, visitor_id, tmp_path):
    receiver = Receiver(stall_first=30).start()
    saved = use_broker(broker)
    first = start_crashable_worker(broker, tmp_path / "worker.log")
    second = None
    try:
        wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to answer ping")
        WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
        assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
        wait_until(lambda: receiver.received, 30, "the worker to be inside the delivery")

        os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool child, mid-task
        first.wait(timeout=10)
        message = OutboxMessage.objects.get()
        assert message.status == "pending" and message.attempts == 0  # the killed attempt left no mark

        second = start_crashable_worker(broker, tmp_path / "worker.log")
        wait_until(lambda: len(receiver.received) >= 2, VISIBILITY_TIMEOUT + 40, "the task to run again")
        wait_until(lambda: OutboxMessage.objects.get().status == "delivered", 20, "the delivery to be recorded")
        wait_until(lambda: idle(broker), 30, "the worker to have nothing left to do")  # a third run would have started
        message = OutboxMessage.objects.get()
        assert message.attempts == 1, "the delivery is recorded once"
        # The receiver saw the same event id twice (the killed try and the rerun) and dedupes on it.
        assert receiver.event_ids() == [str(message.id)] * 2
    finally:
        stop_workers(saved, first, second)
        receiver.stop()

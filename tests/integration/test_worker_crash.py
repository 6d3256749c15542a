"""A Celery worker killed in the middle of a task: the task runs again, and its
effect happens once.

The task is a webhook delivery whose receiver stalls, so the worker is
certainly inside it when the whole worker (main process and pool) gets
SIGKILL. The delivery had claimed the message (committed before the POST, so
no row lock is held while posting) but recorded no result. The message was
not acknowledged (acks_late), so once the broker's visibility timeout has
passed a new worker runs it again, and leaves it while the dead worker's
claim lasts; once the claim has run out, the sweep (beat, every 30 s) hands
it over and the delivery happens and is recorded exactly once. Runs where
PostgreSQL, Redis and redis-server run (CI).
"""
import os
import signal

import pytest
from django.utils import timezone

from cmp.celery import app as celery_app
from delivery.models import OutboxMessage, WebhookEndpoint
from delivery.tasks import sweep_outbox
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
        # The killed attempt left its claim and no result.
        assert (message.status, message.attempts, message.last_status_code, message.last_error) == ("pending", 1, None, "")
        assert message.next_attempt_at > timezone.now()

        second = start_crashable_worker(broker, tmp_path / "worker.log")
        wait_until(lambda: timezone.now() > message.next_attempt_at, 60, "the dead worker's claim to run out")
        assert len(receiver.received) == 1  # the rerun of the task left the claimed message alone
        assert sweep_outbox() == 1  # what beat does every 30 s: hands the message to the broker again
        wait_until(lambda: len(receiver.received) >= 2, 40, "the task to run again")
        wait_until(lambda: OutboxMessage.objects.get().status == "delivered", 20, "the delivery to be recorded")
        wait_until(lambda: idle(broker), 30, "the worker to have nothing left to do")  # a third run would have started
        message = OutboxMessage.objects.get()
        assert message.attempts == 2 and message.delivered_at is not None, "the killed try and the one recorded"
        # The receiver saw the same event id twice (the killed try and the rerun) and dedupes on it.
        assert receiver.event_ids() == [str(message.id)] * 2
    finally:
        stop_workers(saved, first, second)
        receiver.stop()

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
import subprocess
import sys
import time

import pytest
from django.db import connection

from delivery.models import OutboxMessage, WebhookEndpoint

from .conftest import consent_body, write_url
from .receiver import Receiver
from .test_celery_worker import ROOT, broker, reset_connections, wait_until  # noqa: F401  (broker is a fixture)
from cmp.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)
VISIBILITY_TIMEOUT = 4


def start_worker(broker, log_path, visibility_timeout=VISIBILITY_TIMEOUT):  # noqa: F811
    """A real worker in its own process group, so one killpg reaches its pool child too."""
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": broker.url, "CELERY_TASK_ALWAYS_EAGER": "0",
           "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout)}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cmp", "worker", "-l", "info", "-c", "1", "--without-gossip",
         "--without-mingle", "-n", f"crash-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=open(log_path, "a"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def use_broker(broker) -> dict:
    """Send this process's tasks to ``broker`` for real workers; returns what :func:`stop_workers` restores."""
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url=broker.url, task_always_eager=False)
    reset_connections()
    return saved


def stop_workers(saved_conf, *procs):
    """Kill what is left of the workers, and point this process back at its own broker."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    celery_app.conf.update(**saved_conf)
    reset_connections()


def test_worker_killed_mid_delivery_delivers_once_after_restart(api, demo_site, broker, visitor_id, tmp_path):  # noqa: F811
    receiver = Receiver(stall_first=30).start()
    saved = use_broker(broker)
    first = start_worker(broker, tmp_path / "worker.log")
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

        second = start_worker(broker, tmp_path / "worker.log")
        wait_until(lambda: len(receiver.received) >= 2, VISIBILITY_TIMEOUT + 40, "the task to run again")
        wait_until(lambda: OutboxMessage.objects.get().status == "delivered", 20, "the delivery to be recorded")
        time.sleep(2)  # a third run would show up by now
        message = OutboxMessage.objects.get()
        assert message.attempts == 1, "the delivery is recorded once"
        # The receiver saw the same event id twice (the killed try and the rerun) and dedupes on it.
        assert receiver.event_ids() == [str(message.id)] * 2
    finally:
        stop_workers(saved, first, second)
        receiver.stop()

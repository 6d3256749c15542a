"""Webhooks through a real Celery worker and a real Redis broker.

Runs where PostgreSQL and Redis run (CI's second pass); the worker is a
separate process sharing the test database. The broker is a redis-server this
test starts on its own port, so it can be stopped and started again.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection

from cmp.celery import app as celery_app
from delivery.models import OutboxMessage, WebhookEndpoint

from .conftest import consent_body, write_url
from .receiver import Receiver, free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, seconds=30, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def reset_connections():
    """Make this process's Celery app reconnect with its current settings.

    kombu keeps producer pools in a global registry keyed by the broker
    address; it must be cleared along with the app's own pool, or a later
    task (even an eager one: Celery 5.7 acquires a producer for those too)
    gets a pool that was closed here.
    """
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


class Broker:
    def __init__(self, workdir):
        self.port, self.workdir, self.proc = free_port(), workdir, None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True).stdout.strip() == "PONG",
                   10, "the broker to start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL or not shutil.which("redis-server"):
        pytest.skip("needs PostgreSQL, Redis and redis-server: run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (CI does)")
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc.poll() is None:
        b.stop()


@pytest.fixture
def worker(broker, tmp_path):
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": broker.url, "CELERY_TASK_ALWAYS_EAGER": "0", "REDIS_URL": settings.REDIS_URL}
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cmp", "worker", "-l", "info", "-c", "2", "--without-gossip",
         "--without-mingle", "-n", f"test-{broker.port}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    saved = dict(broker_url=celery_app.conf.broker_url, task_always_eager=celery_app.conf.task_always_eager)
    celery_app.conf.update(broker_url=broker.url, task_always_eager=False)
    reset_connections()
    try:
        wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to answer ping")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        celery_app.conf.update(**saved)
        reset_connections()
        log.close()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_webhook_delivered_once_with_valid_signature(api, demo_site, worker, receiver, visitor_id):
    from delivery.webhooks import verify

    endpoint = WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
    assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
    wait_until(lambda: receiver.received, 30, "the delivery")
    time.sleep(1.5)  # a duplicate would have arrived by now
    assert len(receiver.received) == 1
    headers, raw, body = receiver.received[0]
    assert verify(endpoint.secret, headers["X-CMP-Timestamp"], raw, headers["X-CMP-Signature"])
    assert body["visitor_id"] == visitor_id
    assert OutboxMessage.objects.get().status == "delivered"


def test_receiver_down_is_retried_and_delivered_when_back(api, demo_site, worker, receiver, visitor_id):
    from delivery.tasks import sweep_outbox

    WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
    receiver.stop()
    api.post(write_url(), consent_body(visitor_id), format="json")
    wait_until(lambda: OutboxMessage.objects.filter(attempts__gte=1).exists(), 30, "the first failed attempt")
    message = OutboxMessage.objects.get()
    assert message.status == "pending" and message.last_error
    receiver.start()
    OutboxMessage.objects.update(next_attempt_at=message.created_at)  # let the backoff pass
    sweep_outbox.delay()
    wait_until(lambda: receiver.received, 30, "the retried delivery")
    wait_until(lambda: OutboxMessage.objects.get().status == "delivered", 10, "the delivered status")
    assert receiver.event_ids() == [str(message.id)]


def test_broker_down_during_writes_loses_nothing(api, demo_site, worker, broker, receiver):
    import uuid

    from delivery.tasks import sweep_outbox

    WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
    broker.stop()
    visitors = [str(uuid.uuid4()) for _ in range(5)]
    for visitor in visitors:
        assert api.post(write_url(), consent_body(visitor), format="json").status_code == 201
    assert OutboxMessage.objects.filter(status="pending").count() == 5
    broker.start()  # the worker and this process reconnect by themselves
    wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to reconnect")
    sweep_outbox.delay()
    wait_until(lambda: len(receiver.received) >= 5, 60, "all five deliveries")
    time.sleep(1.5)
    assert sorted(body["visitor_id"] for _, _, body in receiver.received) == sorted(visitors)
    assert OutboxMessage.objects.filter(status="delivered").count() == 5

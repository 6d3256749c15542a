"""Webhooks through a real Celery worker and a real Redis broker.

Runs where PostgreSQL and Redis run (CI's second pass); the worker is a
separate process sharing the test database. The broker is a redis-server this
test starts on its own port, so it can be stopped and started again.
"""

import pytest

from cmp.celery import app as celery_app
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, new_visitor_id, wait_until, write_url
from tests.support.workers import idle

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]


def test_webhook_delivered_once_with_valid_signature(api, demo_site, worker, broker, receiver, visitor_id):
    from delivery.webhooks import verify

    endpoint = WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
    assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
    wait_until(lambda: receiver.received, 30, "the delivery")
    wait_until(lambda: idle(broker), 30, "the worker to have nothing left to do")  # a duplicate would have come by then
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
    # A delivery claims its message (attempts + 1) before it posts, and records the error after.
    wait_until(lambda: OutboxMessage.objects.exclude(last_error="").exists(), 30, "the first failed attempt")
    message = OutboxMessage.objects.get()
    assert message.status == "pending" and message.last_error
    receiver.start()
    OutboxMessage.objects.update(next_attempt_at=message.created_at)  # let the backoff pass
    sweep_outbox.delay()
    wait_until(lambda: receiver.received, 30, "the retried delivery")
    wait_until(lambda: OutboxMessage.objects.get().status == "delivered", 10, "the delivered status")
    assert receiver.event_ids() == [str(message.id)]


def test_broker_down_during_writes_loses_nothing(api, demo_site, worker, broker, receiver):
    from delivery.tasks import sweep_outbox

    WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)
    broker.stop()
    visitors = [new_visitor_id() for _ in range(5)]
    for visitor in visitors:
        assert api.post(write_url(), consent_body(visitor), format="json").status_code == 201
    assert OutboxMessage.objects.filter(status="pending").count() == 5
    broker.start()  # the worker and this process reconnect by themselves
    wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to reconnect")
    sweep_outbox.delay()
    wait_until(lambda: len(receiver.received) >= 5, 60, "all five deliveries")
    wait_until(lambda: idle(broker), 30, "the worker to have nothing left to do")  # no duplicate is still on its way
    assert sorted(body["visitor_id"] for _, _, body in receiver.received) == sorted(visitors)
    assert OutboxMessage.objects.filter(status="delivered").count() == 5

"""Policy versions, expiry, retention and webhooks on the embedded default (eager Celery).

The same behaviour through a real Celery worker and Redis broker is in
tests/integration/test_celery_worker.py.
"""
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit import retention
from audit.log import extend_logs
from audit.purge import guard_lifted
from audit.verify import verify
from consent import expiry
from consent.models import ConsentEvent, PolicyVersion, Visitor
from delivery import tasks, webhooks
from delivery.models import OutboxMessage, WebhookEndpoint
from privacy_requests import service as request_service
from tests.support import consent_body, lookup_url, new_visitor_id, write_url

pytestmark = pytest.mark.django_db(transaction=True)  # deliveries are queued on commit


@pytest.fixture
def endpoint(demo_site, receiver):
    return WebhookEndpoint.objects.create(site=demo_site, url=receiver.url)


def post(api, body, **headers):
    return api.post(write_url(), body, format="json", **headers)


def test_change_is_delivered_once_signed(api, endpoint, receiver, visitor_id):
    assert post(api, consent_body(visitor_id)).status_code == 201
    assert len(receiver.received) == 1
    headers, raw, body = receiver.received[0]
    assert webhooks.verify(endpoint.secret, headers["X-CMP-Timestamp"], raw, headers["X-CMP-Signature"])
    assert not webhooks.verify("another-secret", headers["X-CMP-Timestamp"], raw, headers["X-CMP-Signature"])
    assert body["type"] == "consent.decisions_changed"
    assert body["visitor_id"] == visitor_id and body["site"] == "demo"
    assert body["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    assert body["previous_decisions"]["analytics"] == {"granted": False, "reason": "default_opt_in"}
    assert headers["X-CMP-Event-Id"] == body["id"]
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_status_code) == ("delivered", 1, 200)


def test_no_change_no_webhook(api, endpoint, receiver, visitor_id):
    token = post(api, consent_body(visitor_id)).json()["token"]
    post(api, consent_body(visitor_id, token=token))  # the same choice again
    assert len(receiver.received) == 1
    assert OutboxMessage.objects.count() == 1


def test_receiver_down_then_back_is_retried_and_delivered(api, endpoint, receiver, visitor_id):
    receiver.stop()
    post(api, consent_body(visitor_id))
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts, message.last_status_code) == ("pending", 1, None)
    assert message.next_attempt_at > timezone.now() + timedelta(seconds=20)  # backoff, not a hot loop
    receiver.start()
    later = timezone.now() + timedelta(seconds=31)
    assert webhooks.due_message_ids(now=later) == [str(message.id)]
    assert webhooks.deliver(message.id, now=later) == "delivered"
    assert receiver.event_ids() == [str(message.id)]
    assert webhooks.deliver(message.id, now=later + timedelta(hours=1)) == "delivered"  # idempotent
    assert len(receiver.received) == 1


def test_server_error_is_retried_with_growing_backoff_and_given_up_after_a_day(api, endpoint, receiver, visitor_id):
    receiver.status = 500
    post(api, consent_body(visitor_id))
    message = OutboxMessage.objects.get()
    waits = []
    moment = timezone.now()
    while message.status == "pending":
        moment = message.next_attempt_at
        webhooks.deliver(message.id, now=moment)
        message.refresh_from_db()
        if message.status == "pending":
            waits.append(message.next_attempt_at - moment)
    assert message.status == "failed" and message.last_status_code == 500
    assert waits[0] < waits[1] < waits[2] and max(waits) <= timedelta(hours=1, seconds=5)
    assert moment - message.created_at <= timedelta(hours=24)
    assert message.attempts == len(receiver.received) > 20


def test_backoff_schedule():
    start = timezone.now()
    assert webhooks.next_attempt_after(1, start, start) == start + timedelta(seconds=30)
    assert webhooks.next_attempt_after(2, start, start) == start + timedelta(seconds=60)
    assert webhooks.next_attempt_after(20, start, start) == start + timedelta(hours=1)
    assert webhooks.next_attempt_after(3, start, start + timedelta(hours=23, minutes=59)) is None


def test_outbox_row_is_written_with_the_change_even_if_the_broker_is_down(api, endpoint, receiver, visitor_id, monkeypatch):
    # What the broker outage does to enqueue(): the send raises. The write must
    # still succeed and the message wait in the outbox for the sweep.

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.deliver_webhook, "delay", broker_down)
    assert post(api, consent_body(visitor_id)).status_code == 201
    assert OutboxMessage.objects.get().status == "pending"
    monkeypatch.undo()
    assert tasks.sweep_outbox() == 1
    assert len(receiver.received) == 1


def test_material_policy_asks_again_and_non_material_does_not(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id))
    PolicyVersion.objects.create(site=demo_site, version="1.1", url="https://example.com/p", material=False)
    answer = api.get(lookup_url(visitor_id)).json()
    assert answer["decisions"]["analytics"] == {"granted": True, "reason": "choice"} and not answer["needs_choice"]
    assert api.get("/api/v1/sites/demo/config").json()["policy"]["versions_in_force"] == ["1", "1.1"]
    PolicyVersion.objects.create(site=demo_site, version="2", url="https://example.com/p2", material=True)
    answer = api.get(lookup_url(visitor_id)).json()
    assert answer["decisions"]["analytics"] == {"granted": False, "reason": "policy_changed"}
    assert answer["needs_choice"] and answer["policy_version"] == "2"
    assert api.get("/api/v1/sites/demo/config").json()["policy"]["versions_in_force"] == ["2"]


def test_future_policy_version_takes_effect_on_its_date(api, demo_site, visitor_id):
    post(api, consent_body(visitor_id))
    PolicyVersion.objects.create(site=demo_site, version="3", url="https://example.com/p3", material=True,
                                 effective_at=timezone.now() + timedelta(days=7))
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["reason"] == "choice"


def test_expiry_is_logged_once_per_choice_and_delivered(api, demo_site, endpoint, receiver, visitor_id):
    post(api, consent_body(visitor_id))
    old = timezone.now() - timedelta(days=400)
    Visitor.objects.filter(uuid=visitor_id).update(chosen_at=old)
    assert expiry.expire_choices() == 1
    assert expiry.expire_choices() == 0
    event = ConsentEvent.objects.filter(visitor__uuid=visitor_id, source="expiry").get()
    assert event.decisions["analytics"] == {"granted": False, "reason": "expired"}
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["reason"] == "expired"
    assert receiver.received[-1][2]["decisions"]["analytics"]["reason"] == "expired"


def test_expiry_works_in_batches(api, demo_site, visitor_id):

    for _ in range(7):
        post(api, consent_body(new_visitor_id()))
    Visitor.objects.update(chosen_at=timezone.now() - timedelta(days=400))
    assert expiry.expire_choices(batch=3) == 7
    assert ConsentEvent.objects.filter(source="expiry").count() == 7


def test_retention_deletes_old_visitors_and_keeps_recent_ones(api, demo_site, visitor_id):

    old_visitor = new_visitor_id()
    post(api, consent_body(old_visitor))
    post(api, consent_body(visitor_id))
    assert ConsentEvent.objects.filter(visitor__uuid=old_visitor).exists()

    # Age the old visitor's log past 24 months (on PostgreSQL the append-only
    # trigger allows it only inside the documented purge bypass).
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE consent_consentevent SET created_at = %s WHERE visitor_id = (SELECT id FROM consent_visitor WHERE uuid = %s)",
            [timezone.now() - timedelta(days=800), old_visitor.replace("-", "") if connection.vendor == "sqlite" else old_visitor],
        )
    assert retention.purge_expired_visitors() == 1
    assert not Visitor.objects.filter(uuid=old_visitor).exists()
    assert not ConsentEvent.objects.filter(visitor__uuid=old_visitor).exists()
    assert Visitor.objects.filter(uuid=visitor_id).exists()
    assert api.get(lookup_url(old_visitor)).json()["decisions"]["analytics"]["reason"] == "default_opt_in"

    extend_logs(lag_seconds=0)
    assert verify().ok, str(verify())  # the log still verifies after retention


def test_retention_keeps_request_records_24_months(demo_site):
    from privacy_requests.models import DataSubjectRequest

    DataSubjectRequest.objects.create(site=demo_site, kind="know", email="old@example.org",
                                      received_at=timezone.now() - timedelta(days=731))
    DataSubjectRequest.objects.create(site=demo_site, kind="know", email="new@example.org",
                                      received_at=timezone.now() - timedelta(days=700))
    assert request_service.purge_old_records() == 1
    assert list(DataSubjectRequest.objects.values_list("email", flat=True)) == ["new@example.org"]


def test_delivered_and_failed_webhook_messages_are_pruned_after_30_days(demo_site):
    endpoint = WebhookEndpoint.objects.create(site=demo_site, url="http://127.0.0.1:9/hooks")
    now = timezone.now()
    kept, pruned = [], []
    for status in (OutboxMessage.DELIVERED, OutboxMessage.FAILED, OutboxMessage.PENDING):
        for age in (timedelta(days=30, minutes=1), timedelta(days=29, hours=23)):
            message = OutboxMessage.objects.create(endpoint=endpoint, created_at=now - age, next_attempt_at=now - age,
                                                   status=status, payload={"age": str(age)})
            (pruned if status != OutboxMessage.PENDING and age > timedelta(days=30) else kept).append(message.id)
    assert tasks.prune_messages.apply().get() == 2  # the scheduled job (README: daily 03:40)
    assert sorted(OutboxMessage.objects.values_list("id", flat=True)) == sorted(kept)  # pending ones are never pruned
    assert len(kept) == 4

"""Filling the outbox: one message per active endpoint, in the transaction of the change.

The consent core announces every change of a visitor's decisions
(``consent.signals.decisions_changed``) inside its transaction; this
receiver inserts the messages there, so they commit, or roll back, with the
change. After the commit they are handed to Celery; if the broker is down
they wait in the table for the sweep (``delivery/tasks.py``). Other apps send
their own events the same way with :func:`queue_event` (the scanner's
findings); an endpoint gets only the event types it lists.
"""
import functools

from django.db import transaction
from django.utils import timezone

from .models import DECISIONS_CHANGED, EVENT_TYPES, OutboxMessage, WebhookEndpoint
from .tasks import enqueue
from .webhooks import decisions_fields, payload


def changed(before, after) -> bool:
    """True when a visitor's decisions differ (what tags and back ends act on)."""
    return before.decisions_dict() != after.decisions_dict() or before.ad_personalization != after.ad_personalization


def _subscribed(site_id: int, event_type: str) -> tuple[int, ...]:
    endpoints = WebhookEndpoint.objects.filter(site_id=site_id, active=True).values_list("id", "events")
    return tuple(endpoint_id for endpoint_id, events in endpoints if event_type in (events or ()))


@functools.lru_cache(maxsize=1024)
def _decision_endpoints(rules) -> tuple[int, ...]:
    # Kept per loaded version of the site's rules: a change to an endpoint
    # retires the rules (delivery/apps.py), and the next write loads new ones.
    return _subscribed(rules.id, DECISIONS_CHANGED)


def _insert(endpoint_ids, event_type: str, site_key: str, fields: dict, at) -> list[str]:
    messages = []
    for endpoint_id in endpoint_ids:
        message = OutboxMessage(endpoint_id=endpoint_id, created_at=at, next_attempt_at=at)
        message.payload = payload(message.id, event_type, site_key, at, fields)
        messages.append(message)
    OutboxMessage.objects.bulk_create(messages)
    ids = [str(m.id) for m in messages]
    transaction.on_commit(lambda: enqueue(ids))
    return ids


def queue_change(sender, *, rules, visitor_uuid, before, after, policy_version, at, **kwargs) -> list[str]:
    """Receiver of ``decisions_changed``: insert the messages; returns their ids."""
    endpoints = _decision_endpoints(rules)
    if not endpoints or not changed(before, after):
        return []
    fields = decisions_fields(visitor_uuid, before.decisions_dict(), after.decisions_dict(), after.consent_mode, policy_version)
    return _insert(endpoints, DECISIONS_CHANGED, rules.key, fields, at)


def queue_event(site, event_type: str, fields: dict, at=None) -> list[str]:
    """Send ``event_type`` with ``fields`` to the site's active endpoints that take it; returns the message ids.

    Call it inside the transaction of what the event reports: the messages
    commit or roll back with it, and are handed to Celery after the commit.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}: add it to delivery.models.EVENT_TYPES")
    endpoints = _subscribed(site.id, event_type)
    return _insert(endpoints, event_type, site.key, fields, at or timezone.now()) if endpoints else []

"""Filling the outbox: one message per subscribed endpoint, in the transaction of what it reports.

The consent core announces every change of a visitor's decisions
(``consent.signals.decisions_changed``), and the audit app every new signed
head of a site's log (``consent.signals.tree_head_signed``), inside their
transactions; these receivers insert the messages there, for the endpoints
subscribed to that type, so they commit, or roll back, with the change. Apps
above (the scanner's findings) send their own events the same way with
:func:`queue_event`. After the commit the messages are handed to Celery; if
the broker is down they wait in the table for the sweep (``delivery/tasks.py``).
"""
import functools

from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage, WebhookEndpoint, WebhookEvent
from .tasks import enqueue
from .webhooks import decisions_fields, payload


def changed(before, after) -> bool:
    """True when a visitor's decisions differ (what tags and back ends act on)."""
    return before.decisions_dict() != after.decisions_dict() or before.ad_personalization != after.ad_personalization


@functools.lru_cache(maxsize=1024)
def _decision_endpoints(rules) -> tuple[int, ...]:
    # Kept per loaded version of the site's rules: a change to an endpoint
    # retires the rules (delivery/apps.py), and the next write loads new ones.
    return _subscribed(rules.id, WebhookEvent.DECISIONS_CHANGED)


def _subscribed(site_id, event_type) -> tuple[int, ...]:
    endpoints = WebhookEndpoint.objects.filter(site_id=site_id, active=True, event_type=event_type)
    return tuple(endpoints.values_list("id", flat=True))


def _insert(endpoint_ids, event_type: str, site_key: str, fields: dict, at) -> list[str]:
    """Insert one message per endpoint in the current transaction; hand them to Celery once it commits."""
    messages = []
    for endpoint_id in endpoint_ids:
        message = OutboxMessage(endpoint_id=endpoint_id, created_at=at, next_attempt_at=at)
        message.payload = payload(message.id, event_type, site_key, at, fields)
        messages.append(message)
    OutboxMessage.objects.bulk_create(messages)
    ids = [str(m.id) for m in messages]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return ids


def queue_change(sender, *, rules, visitor_uuid, before, after, policy_version, at, gpp=None, **kwargs) -> list[str]:
    """Receiver of ``decisions_changed``: insert the messages; returns their ids."""
    endpoints = _decision_endpoints(rules)
    if not endpoints or not changed(before, after):
        return []
    fields = decisions_fields(visitor_uuid, before.decisions_dict(), after.decisions_dict(), after.consent_mode,
                              policy_version, gpp)
    return _insert(endpoints, WebhookEvent.DECISIONS_CHANGED, rules.key, fields, at)


def queue_tree_head(sender, *, site_id, tree_head, at, **kwargs) -> list[str]:
    """Receiver of ``tree_head_signed``: one message per endpoint subscribed to the site's tree heads."""
    endpoints = _subscribed(site_id, WebhookEvent.TREE_HEAD)
    return _insert(endpoints, WebhookEvent.TREE_HEAD, tree_head.get("site", ""), tree_head, at) if endpoints else []


def queue_event(site, event_type: str, fields: dict, at=None) -> list[str]:
    """Send ``event_type`` with ``fields`` to the site's active endpoints that take it; returns the message ids.

    Call it inside the transaction of what the event reports: the messages
    commit or roll back with it, and are handed to Celery after the commit.
    """
    if event_type not in WebhookEvent.values:
        raise ValueError(f"unknown event type {event_type!r}: add it to delivery.models.WebhookEvent")
    endpoints = _subscribed(site.id, event_type)
    return _insert(endpoints, event_type, site.key, fields, at or timezone.now()) if endpoints else []

"""Filling the outbox: one message per active endpoint, in the transaction of the change.

The consent core announces every change of a visitor's decisions
(``consent.signals.decisions_changed``), and the audit app every new signed
head of a site's log (``consent.signals.tree_head_signed``), inside their
transactions; these receivers insert the messages there, for the endpoints
subscribed to that type, so they commit, or roll back, with the change. After
the commit they are handed to Celery; if the broker is down they wait in the
table for the sweep (``delivery/tasks.py``).
"""
import functools

from django.db import transaction

from .models import OutboxMessage, WebhookEndpoint, WebhookEvent
from .tasks import enqueue
from .webhooks import payload, tree_head_payload


def changed(before, after) -> bool:
    """True when a visitor's decisions differ (what tags and back ends act on)."""
    return before.decisions_dict() != after.decisions_dict() or before.ad_personalization != after.ad_personalization


@functools.lru_cache(maxsize=1024)
def _active_endpoints(rules) -> tuple[int, ...]:
    # Kept per loaded version of the site's rules: a change to an endpoint
    # retires the rules (delivery/apps.py), and the next write loads new ones.
    return tuple(_subscribed(rules.id, WebhookEvent.DECISIONS_CHANGED))


def _subscribed(site_id, event_type):
    return WebhookEndpoint.objects.filter(site_id=site_id, active=True, event_type=event_type).values_list("id", flat=True)


def queue_change(sender, *, rules, visitor_uuid, before, after, policy_version, at, **kwargs) -> list[str]:
    """Receiver of ``decisions_changed``: insert the messages; returns their ids."""
    endpoints = _active_endpoints(rules)
    if not endpoints or not changed(before, after):
        return []
    messages = []
    for endpoint_id in endpoints:
        message = OutboxMessage(endpoint_id=endpoint_id, created_at=at, next_attempt_at=at)
        message.payload = payload(
            message.id, rules.key, visitor_uuid, before.decisions_dict(), after.decisions_dict(),
            after.consent_mode, policy_version, at,
        )
        messages.append(message)
    return _queue(messages)


def queue_tree_head(sender, *, site_id, tree_head, at, **kwargs) -> list[str]:
    """Receiver of ``tree_head_signed``: one message per endpoint subscribed to the site's tree heads."""
    messages = []
    for endpoint_id in _subscribed(site_id, WebhookEvent.TREE_HEAD):
        message = OutboxMessage(endpoint_id=endpoint_id, created_at=at, next_attempt_at=at)
        message.payload = tree_head_payload(message.id, tree_head, at)
        messages.append(message)
    return _queue(messages)


def _queue(messages) -> list[str]:
    """Insert the messages in the current transaction, and hand them to Celery once it commits."""
    OutboxMessage.objects.bulk_create(messages)
    ids = [str(m.id) for m in messages]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return ids

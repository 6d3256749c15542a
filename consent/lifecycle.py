"""Consent over time: expiry of old choices and retention of old records.

Both run daily on Celery (consent/tasks.py) and work in small batches, each
in its own short transaction, so the tables are never locked for long and an
interrupted run simply continues next time.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from . import decisions, lookups, webhooks
from .models import ConsentEvent, OutboxMessage, Site, Visitor
from .sites import site_rules
from .writes import log_event

BATCH = 500
REQUEST_RECORDS_KEPT = timedelta(days=730)  # CCPA regulations §7101: 24 months
DELIVERED_WEBHOOKS_KEPT = timedelta(days=30)


def expire_choices(now=None, batch=BATCH) -> int:
    """Log an ``expired`` event for each choice that outlived its site's consent lifetime."""
    now = now or timezone.now()
    logged = 0
    for site in Site.objects.all():
        rules = site_rules(site.key)
        cutoff = now - timedelta(days=rules.lifetime_days)
        while True:
            done = _expire_batch(rules, cutoff, now, batch)
            logged += done
            if done < batch:
                break
    return logged


def _expire_batch(rules, cutoff, now, batch) -> int:
    with transaction.atomic():
        pending = list(
            Visitor.objects.select_for_update(skip_locked=True)
            .filter(site_id=rules.id, chosen_at__lte=cutoff)
            .filter(Q(expiry_logged_for__isnull=True) | ~Q(expiry_logged_for=F("chosen_at")))
            .order_by("chosen_at")[:batch]
        )
        for visitor in pending:
            _log_expiry(rules, visitor, now)
        lookups.forget_visitors(rules.key, *(visitor.uuid for visitor in pending))
        return len(pending)


def _log_expiry(rules, visitor, now) -> None:
    last = ConsentEvent.objects.filter(visitor=visitor).order_by("-id").values("regime", "region").first() or {}
    regime = last.get("regime") or rules.default_regime
    signals = decisions.Signals.from_mapping(visitor.signals)
    choice = visitor.choice()
    before = decisions.decide(rules.context(now=choice.made_at, regime=regime, choice=choice, signals=signals))
    after = decisions.decide(rules.context(now=now, regime=regime, choice=choice, signals=signals))
    log_event(rules, visitor, source="expiry", choices={}, signals=signals, outcome=after, regime=regime,
              now=now, region=last.get("region") or "")
    webhooks.queue_change(rules, visitor.uuid, before, after, visitor.policy_version, now)
    Visitor.objects.filter(pk=visitor.pk).update(expiry_logged_for=visitor.chosen_at)


def apply_retention(now=None, batch=BATCH) -> dict:
    """Delete what is past its retention period: old visitors with their events,
    request records older than 24 months, and delivered webhook messages."""
    now = now or timezone.now()
    purged_visitors = 0
    for site in Site.objects.all():
        cutoff = now - timedelta(days=site.retention_days)
        while True:
            done = _purge_batch(site, cutoff, batch)
            purged_visitors += done
            if done < batch:
                break
    return {
        "visitors": purged_visitors,
        "requests": _purge_request_records(now - REQUEST_RECORDS_KEPT),
        "webhooks": OutboxMessage.objects.filter(
            status__in=[OutboxMessage.DELIVERED, OutboxMessage.FAILED], created_at__lt=now - DELIVERED_WEBHOOKS_KEPT
        ).delete()[0],
    }


def _purge_batch(site, cutoff, batch) -> int:
    from . import purge

    with transaction.atomic():
        stale = list(
            Visitor.objects.filter(site=site)
            .annotate(last_event=Max("events__created_at"))
            .filter(Q(last_event__lt=cutoff) | Q(last_event__isnull=True, updated_at__lt=cutoff))
            .order_by("id")[:batch]
        )
        if stale:
            purge.purge_visitors(stale, reason="retention")
        lookups.forget_visitors(site.key, *(visitor.uuid for visitor in stale))
        return len(stale)


def _purge_request_records(cutoff) -> int:
    from .dsr.models import DataSubjectRequest

    old = DataSubjectRequest.objects.filter(received_at__lt=cutoff)
    count = 0
    for request in old:
        if request.agent_document:
            request.agent_document.delete(save=False)
        request.delete()
        count += 1
    return count

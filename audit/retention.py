"""Retention: visitors whose last event is older than their site's ``retention_days`` are purged.

A daily task (audit/tasks.py) works in batches, each its own short
transaction, through the one purge path (:mod:`audit.purge`), so the log
keeps verifying and an interrupted run simply continues next time.
"""
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from consent.lookups import forget_visitors
from consent.models import Site, Visitor

from .purge import purge_visitors

BATCH = 500


def purge_expired_visitors(now=None, batch=BATCH) -> int:
    """Purge every visitor past its site's retention period; returns how many."""
    now = now or timezone.now()
    purged = 0
    for site in Site.objects.all():
        cutoff = now - timedelta(days=site.retention_days)
        while True:
            done = _purge_batch(site, cutoff, batch)
            purged += done
            if done < batch:
                break
    return purged


def _purge_batch(site, cutoff, batch) -> int:
    with transaction.atomic():
        stale = list(
            Visitor.objects.filter(site=site)
            .annotate(last_event=Max("events__created_at"))
            .filter(Q(last_event__lt=cutoff) | Q(last_event__isnull=True, updated_at__lt=cutoff))
            .order_by("id")[:batch]
        )
        if stale:
            purge_visitors(stale, reason="retention")
        forget_visitors(site.key, *(visitor.uuid for visitor in stale))
        return len(stale)

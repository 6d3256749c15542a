"""Retention: what is older than its site's retention period leaves the log.

Two steps, both through signed tombstones so the log keeps verifying
(``manage.py verify_audit``):

1. On PostgreSQL, whole months of events (``consent/partitions.py``) once the
   month ended more than every site's retention period ago (and consent
   lifetime, so no choice still in force loses its event). The month's events
   must all be leaves of their sites' logs (the retention checkpoint: the logs
   are extended first); the tombstone of each site counts them and names the
   events that later events of the same visitors link to, and the partition is
   detached and dropped: no row is deleted one by one. A visitor who has
   chosen again since keeps their later events; their chain now starts at the
   anchor. Visitors left with no event go in step 2.
2. Visitors whose last event is older than their site's retention period are
   purged with all their events (``audit/purge.py``), in batches, each its own
   short transaction, so an interrupted run simply continues next time.
"""
import logging
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from consent import partitions
from consent.lookups import forget_visitors
from consent.models import Site, Visitor

from .log import extend_logs
from .models import AuditCheckpoint, TreeHead
from .purge import purge_visitors, save_tombstone

logger = logging.getLogger("audit")
BATCH = 500
LOCK_NOT_AVAILABLE = "55P03"
# Detaching a partition takes the event table's strongest lock (PostgreSQL detaches concurrently only without a
# default partition), which waits for every transaction reading the table (a long export) while new writes queue
# behind it: give up after this long, and try again the next day.
DETACH_LOCK_TIMEOUT = "2s"


def apply_retention(now=None) -> tuple[int, int]:
    """Drop the expired months, then purge the expired visitors; returns (events dropped with months, visitors purged)."""
    now = now or timezone.now()
    return drop_expired_months(now), purge_expired_visitors(now)


def drop_expired_months(now) -> int:
    """Drop each month of events that every site's retention period has passed; returns the events dropped."""
    keep = Site.objects.aggregate(days=Max("retention_days"), lifetime=Max("consent_lifetime_days"))
    if keep["days"] is None:
        return 0
    cutoff = now - timedelta(days=max(keep["days"], keep["lifetime"]))
    expired = [month for month in partitions.months() if month.end <= cutoff]
    if not expired:
        return 0
    extend_logs(now)
    return sum(_drop_month(month) for month in expired)


def _drop_month(month) -> int:
    try:
        return _drop(month)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        logger.warning("month %s not dropped this time: the event table was busy for %s (%s)", month.name,
                       DETACH_LOCK_TIMEOUT, error)
        return 0


def _drop(month) -> int:
    name = f'"{month.name}"'
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a table with deferred checks pending cannot be dropped
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [DETACH_LOCK_TIMEOUT])
        cursor.execute(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE")  # its events are fixed from here on
        cursor.execute(f"SELECT site_id, min(id), max(id), count(*), count(DISTINCT visitor_id) FROM {name} GROUP BY site_id")
        per_site = cursor.fetchall()
        logged = dict(TreeHead.objects.order_by("site_id", "-tree_size").distinct("site_id").values_list("site_id", "last_event_id"))
        unlogged = [site_id for site_id, _first, last, _count, _visitors in per_site if logged.get(site_id, 0) < last]
        if per_site and (unlogged or AuditCheckpoint.objects.filter(last_event_id__gte=min(row[1] for row in per_site)).exists()):
            # Never drop an event that no log or checkpoint stands for: step 2 purges these visitors as before.
            logger.warning("month %s not dropped: events of sites %s are in no tree head, or in a checkpoint", month.name, unlogged)
            return 0
        # The events that later events of the same visitors link to: each chain's new beginning.
        cursor.execute(
            f"SELECT p.site_id, p.id, p.visitor_id, p.event_hash FROM {name} p JOIN {partitions.TABLE} e "
            f"ON e.visitor_id = p.visitor_id AND e.prev_hash = p.event_hash AND e.tableoid <> %s::regclass ORDER BY p.id",
            [month.name])
        anchors: dict[int, list] = {}
        for site_id, event_id, visitor_id, hash_hex in cursor.fetchall():
            anchors.setdefault(site_id, []).append([event_id, visitor_id, hash_hex])
        keys = dict(Site.objects.values_list("id", "key"))
        for site_id, first, last, count, visitors in per_site:
            save_tombstone(reason=f"retention: events of {month.start:%Y-%m}", sites=[keys[site_id]],
                           visitor_count=visitors, event_count=count, first_event_id=first, last_event_id=last,
                           leaves=anchors.get(site_id, []), partition=month.name)
        cursor.execute(f"ALTER TABLE {partitions.TABLE} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    logger.info("month %s dropped: %s events", month.name, sum(row[3] for row in per_site))
    return sum(row[3] for row in per_site)


def purge_expired_visitors(now=None, batch=BATCH) -> int:
    """Purge every visitor past its site's retention period (step 2); returns how many."""
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

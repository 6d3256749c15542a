"""A scan's life: queued (one per site at a time), claimed under a lease, run page by page,
then recorded in one transaction.

Nothing a scan saw is written until it has seen every page: :func:`record`
writes the inventory, the violations, the scan's result and the webhook
messages together, so a scan that dies half-way (a killed worker, a crashed
Chromium) leaves the inventory exactly as it was. A worker renews the scan's
lease after each page; a scan whose lease ran out is abandoned and may be
taken over by the task's redelivery, or closed when a new scan is asked for.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from consent.sites import site_rules
from delivery.outbox import queue_event

from .classify import classify
from .inventory import forget
from .kinds import GUARDED_PHASES
from .models import Scan, ScanSettings, Tracker, Violation

logger = logging.getLogger(__name__)
VIOLATIONS_FOUND = "scanner.violations_found"
PAGES_KEPT = 10          # pages listed on an inventory item
NOTES_KEPT = 200
WEBHOOK_VIOLATIONS = 100  # listed in one webhook message (the count is always complete)


class ScanRunning(Exception):
    """The site already has a scan queued or running."""


def lease():
    return timedelta(seconds=settings.CMP_SCANNER_LEASE_SECONDS)


def create_scan(site, trigger: str) -> Scan:
    """A new queued scan of ``site``; ScanRunning when one is already queued or running."""
    with transaction.atomic():
        abandon_stale(site)
        try:
            with transaction.atomic():
                return Scan.objects.create(site=site, trigger=trigger)
        except IntegrityError:
            active = Scan.objects.filter(site=site, status__in=Scan.ACTIVE).first()
            raise ScanRunning(f"Site '{site.key}' already has scan {active.pk if active else '?'} "
                              f"{active.status if active else 'active'}; one scan per site at a time.")


def abandon_stale(site, now=None) -> int:
    """Close the site's scans whose worker stopped renewing them (or that no worker ever took)."""
    now = now or timezone.now()
    stale = Scan.objects.filter(site=site).filter(
        Q(status=Scan.RUNNING, lease_until__lt=now) | Q(status=Scan.QUEUED, created_at__lt=now - lease()))
    return stale.update(status=Scan.FAILED, finished_at=now, error="Abandoned: its worker stopped before the end.")


def claim(scan_id: int) -> Scan | None:
    """Take a queued scan, or a running one whose worker stopped; None if it is done, failed or in other hands."""
    now = timezone.now()
    taken = Scan.objects.filter(pk=scan_id).filter(
        Q(status=Scan.QUEUED) | Q(status=Scan.RUNNING, lease_until__lt=now)
    ).update(status=Scan.RUNNING, started_at=now, lease_until=now + lease(), attempts=F("attempts") + 1, pages_done=0)
    return Scan.objects.select_related("site").get(pk=scan_id) if taken else None


def lease_left(scan_id: int) -> float | None:
    """Seconds until a running scan's lease ends; None when it is not running."""
    lease_until = Scan.objects.filter(pk=scan_id, status=Scan.RUNNING).values_list("lease_until", flat=True).first()
    return None if lease_until is None else max(0.0, (lease_until - timezone.now()).total_seconds())


def renew(scan: Scan, pages_done: int) -> bool:
    """Extend the lease after a page; False if the scan was taken from this worker (abandoned meanwhile)."""
    return bool(Scan.objects.filter(pk=scan.pk, status=Scan.RUNNING).update(
        pages_done=pages_done, lease_until=timezone.now() + lease()))


def targets(site) -> tuple[list[str], bool, int]:
    """(listed URLs, whether to read sitemaps, page limit); without settings, the home page of each allowed origin."""
    config = ScanSettings.objects.filter(site=site).first()
    if config is None:
        return [origin + "/" for origin in site.allowed_origins], True, 50
    return list(config.urls) or [origin + "/" for origin in site.allowed_origins], config.use_sitemap, config.page_limit


def run(scan_id: int, open_browser) -> str:
    """Run one scan; ``open_browser()`` gives the browser as a context manager
    (scanner.chromium.Chromium: ``plan`` and ``visit``), opened only once the scan is claimed. Returns its status."""
    scan = claim(scan_id)
    if scan is None:
        return "not_claimed"
    try:
        urls, use_sitemap, limit = targets(scan.site)
        if not urls:
            raise ValueError("no page to open: list URLs in the site's scan settings, or give it an allowed origin")
        with open_browser() as browser:
            pages = browser.plan(urls, use_sitemap, limit)
            Scan.objects.filter(pk=scan.pk).update(pages_planned=len(pages))
            passes = []
            for done, page in enumerate(pages, start=1):
                passes += browser.visit(page)
                if not renew(scan, done):
                    return "abandoned"
        record(scan, passes)
        return Scan.DONE
    except Exception as error:
        # A scan that cannot finish writes nothing of what it saw; say why it stopped.
        logger.exception("scan %s of %s failed", scan.pk, scan.site.key)
        Scan.objects.filter(pk=scan.pk, status=Scan.RUNNING).update(
            status=Scan.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {error}"[:500])
        return Scan.FAILED


@dataclass
class Seen:
    item: object                      # the last observations.Item seen under this key
    pages: list[str] = field(default_factory=list)
    guarded: list[tuple[str, str, str]] = field(default_factory=list)   # (page, phase, set_by) before a choice or after Reject all


def gather(passes) -> dict[tuple, Seen]:
    seen: dict[tuple, Seen] = {}
    for page_pass in passes:
        for item in page_pass.items:
            entry = seen.setdefault(item.key, Seen(item))
            entry.item = item if item.set_by or not entry.item.set_by else entry.item
            if page_pass.page not in entry.pages:
                entry.pages.append(page_pass.page)
            if page_pass.phase in GUARDED_PHASES:
                entry.guarded.append((page_pass.page, page_pass.phase, item.set_by))
    return seen


def record(scan: Scan, passes) -> None:
    """Write what the scan saw: inventory, violations, result and webhook, in one transaction."""
    site, now = scan.site, timezone.now()
    rules = site_rules(site.key)
    essential = {p.key for p in rules.purposes if p.essential}
    seen = gather(passes)
    notes = [note for page_pass in passes for note in page_pass.notes][:NOTES_KEPT]
    with transaction.atomic():
        known = {(t.kind, t.name, t.domain): t for t in Tracker.objects.select_for_update().filter(site=site)}
        trackers = {}
        for key, entry in seen.items():
            tracker = known.get(key) or Tracker(site=site, kind=key[0], name=key[1], domain=key[2], first_seen=now)
            describe(tracker, entry, classify(*key, entry.item.set_by, rules))
            tracker.last_seen = now
            tracker.save()
            trackers[key] = tracker
        violations = [
            Violation(scan=scan, site=site, tracker=tracker, page=page[:2000], phase=phase, purpose=tracker.purpose,
                      set_by=set_by[:500], found_at=now)
            for key, tracker in trackers.items() if tracker.purpose not in essential
            for page, phase, set_by in dict.fromkeys(seen[key].guarded)
        ]
        Violation.objects.bulk_create(violations)
        Scan.objects.filter(pk=scan.pk).update(
            status=Scan.DONE, finished_at=now, items_seen=len(seen), violation_count=len(violations), notes=notes,
            pages_done=len({p.page for p in passes}))
        transaction.on_commit(lambda: forget(site.key))
        if violations:
            queue_event(site, VIOLATIONS_FOUND, {
                "scan": scan.pk,
                "violation_count": len(violations),
                "violations": [violation_fields(v) for v in violations[:WEBHOOK_VIOLATIONS]],
            }, at=now)


def describe(tracker: Tracker, entry: Seen, found) -> None:
    """Bring an inventory item up to date with what this scan saw; the owner's classification stands."""
    item = entry.item
    if tracker.classified_by != Tracker.OWNER:
        tracker.purpose, tracker.classified_by = found.purpose, found.classified_by
    tracker.category = found.category or tracker.category
    tracker.vendor = found.vendor or tracker.vendor
    tracker.description = found.description or tracker.description
    tracker.prefix = found.prefix
    tracker.first_party = item.first_party
    tracker.lifetime_seconds, tracker.secure, tracker.same_site, tracker.http_only = (
        item.lifetime_seconds, item.secure, item.same_site, item.http_only)
    tracker.resource_type, tracker.initiator = item.resource_type, item.initiator
    tracker.set_by = item.set_by or tracker.set_by
    tracker.pages = list(dict.fromkeys(entry.pages + list(tracker.pages or [])))[:PAGES_KEPT]


def violation_fields(violation: Violation) -> dict:
    tracker = violation.tracker
    return {"page": violation.page, "phase": violation.phase, "kind": tracker.kind, "name": tracker.name,
            "domain": tracker.domain, "purpose": violation.purpose or None, "set_by": violation.set_by}

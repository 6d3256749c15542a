"""Celery tasks of the scanner. Each is idempotent and safe to retry (``acks_late``)."""
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from consent.models import Site

from . import scans
from .models import ScanSettings

logger = logging.getLogger(__name__)


def start_scan(site, trigger: str):
    """Queue a scan of ``site`` and hand it to a worker after the commit; ScanRunning if one is active."""
    scan = scans.create_scan(site, trigger)
    transaction.on_commit(lambda: scan_site.delay(scan.pk))
    return scan


@shared_task(bind=True, acks_late=True, max_retries=None)
def scan_site(self, scan_id: int) -> str:
    # Playwright is the worker's optional extra: the web process imports this
    # module to send the task and must not need it, so it is imported here.
    from .chromium import Chromium

    status = scans.run(scan_id, lambda: Chromium(private_networks=settings.CMP_SCANNER_PRIVATE_NETWORKS,
                                                 hosts=settings.CMP_SCANNER_HOSTS))
    left = scans.lease_left(scan_id) if status == "not_claimed" and not self.request.is_eager else None
    if left is not None:
        # Another worker holds the scan, or held it and died (this is the redelivery):
        # look again when its lease ends, and take it over if nobody renewed it.
        raise self.retry(countdown=left + 1)
    return status


@shared_task(acks_late=True)
def schedule_weekly_scans() -> int:
    """Queue a scan of every site that has weekly scans on (the default); a site with one active is skipped."""
    off = set(ScanSettings.objects.filter(weekly=False).values_list("site_id", flat=True))
    started = 0
    for site in Site.objects.exclude(pk__in=off):
        if not scans.targets(site)[0]:
            continue  # nothing to open: no listed page, no allowed origin
        try:
            with transaction.atomic():
                start_scan(site, "schedule")
            started += 1
        except scans.ScanRunning:
            logger.info("weekly scan of %s skipped: one is already active", site.key)
    return started

"""A Celery worker killed in the middle of a scan: nothing half-written, and the scan
runs again to the end on the next worker.

The worker (its pool child, Playwright's driver and Chromium, all in its process
group) gets SIGKILL once the scan has opened its first page. What the scan saw
so far was never written: the inventory is exactly as the previous scan left it.
The task, never acknowledged (acks_late), is handed out again after the broker's
visibility timeout; the new worker takes the scan over once its lease has run
out, and writes it whole.

Runs where PostgreSQL, Redis and redis-server run (CI's PostgreSQL pass).
"""
import os
import signal
from functools import partial

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from cmp.celery import app as celery_app
from scanner import scans
from scanner.chromium import Chromium
from scanner.models import Scan, Tracker, Violation
from scanner.tasks import start_scan
from tests.support import needs_postgresql_and_redis, wait_until
from tests.support.proof_shop import ProofShop, aim_scanner
from tests.support.workers import start_worker, stop_workers, use_broker

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]
LEASE, VISIBILITY = 10, 12


@pytest.fixture
def shop(live_server, settings):
    needs_postgresql_and_redis()
    shop = ProofShop(live_server.url, pages=3)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    site = aim_scanner(shop, settings, live_server.url, use_sitemap=True, page_limit=4)
    yield shop, site
    shop.stop()


def scanner_environment():
    return {
        "CMP_PUBLIC_URL": django_settings.CMP_PUBLIC_URL,
        "CMP_SCANNER_PRIVATE_NETWORKS": ",".join(str(n) for n in django_settings.CMP_SCANNER_PRIVATE_NETWORKS),
        "CMP_SCANNER_HOSTS": ",".join(f"{h}={a}" for h, a in django_settings.CMP_SCANNER_HOSTS.items()),
        "CMP_SCANNER_LEASE_SECONDS": str(LEASE), "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
    }


def test_a_worker_killed_mid_scan_writes_nothing_and_the_scan_reruns_whole(shop, broker, tmp_path, settings):
    server, site = shop
    settings.CMP_SCANNER_LEASE_SECONDS = LEASE
    first_scan = scans.create_scan(site, "command")
    aimed = partial(Chromium, private_networks=settings.CMP_SCANNER_PRIVATE_NETWORKS, hosts=settings.CMP_SCANNER_HOSTS)
    assert scans.run(first_scan.pk, aimed) == Scan.DONE
    inventory = list(Tracker.objects.order_by("pk").values())
    violations = Violation.objects.count()

    saved = use_broker(broker)
    first = start_worker(broker, tmp_path / "first.log", **scanner_environment())
    second = None
    try:
        wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the first worker to answer ping")
        scan = start_scan(site, "task")  # outside a transaction: handed to the broker at once
        wait_until(lambda: Scan.objects.get(pk=scan.pk).pages_done >= 1, 90, "the scan to open its first page")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed = Scan.objects.get(pk=scan.pk)
        assert killed.status == Scan.RUNNING and killed.pages_done < killed.pages_planned == 4
        assert list(Tracker.objects.order_by("pk").values()) == inventory  # nothing half-written
        assert Violation.objects.count() == violations
        with pytest.raises(scans.ScanRunning):  # still one scan per site while its lease runs
            scans.create_scan(site, "admin")

        second = start_worker(broker, tmp_path / "second.log", **scanner_environment())
        wait_until(lambda: Scan.objects.get(pk=scan.pk).status != Scan.RUNNING, VISIBILITY + LEASE + 120,
                   "the scan to be taken over and finished")
        done = Scan.objects.get(pk=scan.pk)
        assert done.status == Scan.DONE, done.error
        assert done.attempts == 2 and done.pages_done == 4
        assert Violation.objects.filter(scan=done).count() == done.violation_count > 0
        assert Tracker.objects.filter(site=site, last_seen=done.finished_at).count() == done.items_seen
    finally:
        stop_workers(saved, first, second)

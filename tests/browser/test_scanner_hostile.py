"""The scanner against a hostile site: internal addresses, endless redirects, a huge page,
a sitemap of a million URLs; and a scan whose Chromium crashes half-way."""
import ipaddress
import os
import signal
import time
from functools import partial
from pathlib import Path

import pytest
from django.core.management import call_command

from consent.models import Site
from scanner import scans
from scanner.chromium import Chromium
from scanner.models import Scan, ScanSettings, Tracker, Violation
from tests.support.hostile_site import INTERNAL, INTERNAL_ADDRESS, SITE, SITE_ADDRESS, HostileSite

pytestmark = pytest.mark.browser


@pytest.fixture
def hostile(db, settings):
    site_server = HostileSite()
    settings.CMP_SCANNER_PRIVATE_NETWORKS = (ipaddress.ip_network(f"{SITE_ADDRESS}/32"),)
    settings.CMP_SCANNER_HOSTS = {SITE: SITE_ADDRESS, INTERNAL: INTERNAL_ADDRESS}
    site = Site.objects.create(key="hostile", name="Hostile")
    yield site_server, site
    site_server.stop()


def test_a_hostile_site_cannot_make_the_scanner_reach_inside_or_run_away(hostile):
    server, site = hostile
    listed = [f"{server.origin}/", f"{server.origin}/loop", f"{server.origin}/huge"]
    ScanSettings.objects.create(site=site, urls=listed, use_sitemap=True, page_limit=6)
    started = time.monotonic()
    call_command("scan_site", "hostile", "--here", stdout=open(os.devnull, "w"))
    elapsed = time.monotonic() - started
    scan = Scan.objects.get()
    assert scan.status == Scan.DONE, scan.error
    # Listed pages first, then the sitemap's, up to the limit: a million URLs cost six pages.
    assert scan.pages_planned == 6 and scan.pages_done == 6
    assert server.sitemap_cut or server.server.requests.count("/sitemap.xml") == 1
    # The internal server was never reached: not by name, by address, by IPv6 loopback, nor by a redirect.
    assert server.internal.requests == []
    notes = "\n".join(scan.notes)
    assert f"refused to connect to {INTERNAL} ({INTERNAL_ADDRESS})" in notes
    assert f"refused to connect to {INTERNAL_ADDRESS} ({INTERNAL_ADDRESS})" in notes
    assert "ERR_TOO_MANY_REDIRECTS" in notes
    assert "no consent banner" in notes
    assert server.huge_cut  # the guard hung up on the huge page
    assert elapsed < 120  # bounded: a page load, a settle and the body are each capped


def chromium_pids(guard_port):
    """Chromium's processes started for this guard (their command line names its port)."""
    mine = f"socks5://127.0.0.1:{guard_port}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mine in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class CrashesOnSecondPage(Chromium):
    """The real browser; its Chromium is killed (SIGKILL) as the second page starts."""

    def visit(self, url):
        if url.endswith("?second"):
            for pid in chromium_pids(self.guard.port):
                os.kill(pid, signal.SIGKILL)
        return super().visit(url)


def test_a_scan_whose_chromium_crashes_leaves_the_inventory_as_it_was(proof, settings):
    aimed = {"private_networks": settings.CMP_SCANNER_PRIVATE_NETWORKS, "hosts": settings.CMP_SCANNER_HOSTS}
    site = Site.objects.get(key="demo")
    first = scans.create_scan(site, "command")
    assert scans.run(first.pk, partial(Chromium, **aimed)) == Scan.DONE
    inventory = list(Tracker.objects.order_by("pk").values())
    violations = Violation.objects.count()
    assert inventory and violations

    ScanSettings.objects.filter(site=site).update(urls=[proof.url, proof.url + "?second", proof.url + "?third"])
    second = scans.create_scan(site, "command")
    assert scans.run(second.pk, partial(CrashesOnSecondPage, **aimed)) == Scan.FAILED
    second.refresh_from_db()
    assert second.status == Scan.FAILED and second.error and second.pages_done == 1
    assert list(Tracker.objects.order_by("pk").values()) == inventory  # not one row changed
    assert Violation.objects.count() == violations
    assert not Violation.objects.filter(scan=second).exists()
    # And the site can be scanned again at once.
    assert scans.create_scan(site, "command").status == Scan.QUEUED

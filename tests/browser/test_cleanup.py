"""Clean-up: a scan finds what the demo page's tags store; after a revoke, the banner deletes it."""
import ipaddress
import os

import pytest
from django.core.management import call_command

from consent.models import Site
from scanner.models import ScanSettings, Tracker

from .test_banner import DIALOG, click, open_demo, wait_saved

pytestmark = pytest.mark.browser
DECLINED = {"_ga", "_gid", "_fbp"}


def cookies(page):
    return {c["name"] for c in page.context.cookies()}


def test_ga_gid_and_fbp_are_gone_on_the_next_page_view_after_revoking(page, demo, settings):
    settings.CMP_PUBLIC_URL = demo
    settings.CMP_SCANNER_PRIVATE_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"),)
    settings.CMP_SCANNER_HOSTS = {"localhost": "127.0.0.1"}
    ScanSettings.objects.create(site=Site.objects.get(key="demo"), urls=[demo + "/demo/"], use_sitemap=False)
    call_command("scan_site", "demo", "--here", stdout=open(os.devnull, "w"))
    found = {t.name: t.purpose for t in Tracker.objects.filter(kind="cookie", name__in=DECLINED)}
    assert found == {"_ga": "analytics", "_gid": "analytics", "_fbp": "advertising"}

    open_demo(page, demo)
    click(page, "accept")
    page.wait_for_function("document.cookie.includes('_ga=') && document.cookie.includes('_fbp=')")
    assert DECLINED <= cookies(page)
    wait_saved(page, 1)
    page.evaluate("window.cmp.open()")
    page.locator(f"{DIALOG} >> #cmp-p-analytics").uncheck()
    page.locator(f"{DIALOG} >> #cmp-p-advertising").uncheck()
    with page.expect_navigation():  # they ran: the page reloads to stop them
        click(page, "save", DIALOG)
    open_demo(page, demo)  # the next page view
    page.wait_for_function("!document.cookie.includes('_ga=')")
    assert not DECLINED & cookies(page)
    assert "cmp_demo" in cookies(page)  # what the visitor chose stays
    assert page.evaluate("window.cmp.granted('analytics') || window.cmp.granted('advertising')") is False

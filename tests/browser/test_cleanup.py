"""Clean-up: a scan finds what the demo page's tags store; after a revoke, the banner deletes it,
on the page's host and on the parent domains it may write."""
import http.server
import ipaddress
import os
import threading

import pytest
from django.core.management import call_command

from consent.models import Site
from scanner.models import ScanSettings, Tracker
from tests.support import free_port
from tests.support.proof_shop import ADDRESS

from .conftest import ARGS, CHROMIUM
from .test_banner import DIALOG, click, open_demo, track_writes, wait_saved

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


WWW = "www.shop.proof.test"
# What the shop's answer sets: analytics cookies on the parent domains, as tags that pick
# the widest domain they can write do, and a cookie of the shop's own the inventory does not list.
PARENT_COOKIES = [("_ga", "shop.proof.test"), ("_gid", "proof.test"), ("cart", "shop.proof.test")]


@pytest.fixture
def www_shop(demo):
    """A shop page on www.shop.proof.test (127.0.0.2), the banner its first script (/plain: no banner);
    every answer sets PARENT_COOKIES."""
    port = free_port()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            banner = "" if self.path == "/plain" else f'<script src="{demo}/c/demo.js"></script>'
            body = f"<!doctype html><title>Shop</title>{banner}<h1>Shop</h1>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            for name, domain in PARENT_COOKIES:
                self.send_header("Set-Cookie", f"{name}=1; Domain={domain}; Path=/; Max-Age=86400; SameSite=Lax")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((ADDRESS, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{WWW}:{port}"
    server.shutdown()
    server.server_close()


def test_reject_all_deletes_declined_cookies_on_the_parent_domains_of_the_page(browser, demo, www_shop, settings):
    settings.CMP_PUBLIC_URL = demo
    site = Site.objects.get(key="demo")
    site.allowed_origins = [www_shop]
    site.save()
    for name, domain in PARENT_COOKIES[:2]:  # what a scan found: analytics cookies, declined below
        Tracker.objects.create(site=site, kind="cookie", name=name, domain="." + domain, purpose="analytics",
                               classified_by="ocd")
    own = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, f"--host-resolver-rules=MAP {WWW} {ADDRESS}"])
    try:
        page = own.new_context().new_page()

        def jar():
            return {(c["name"], c["domain"]) for c in page.context.cookies() if c["name"] in dict(PARENT_COOKIES)}

        page.goto(www_shop + "/plain")  # without the banner: the browser took all three where they were set
        assert jar() == {(name, "." + domain) for name, domain in PARENT_COOKIES}
        track_writes(page)
        page.goto(www_shop + "/")
        page.wait_for_function("window.cmp && window.cmp.ready")
        click(page, "reject")
        wait_saved(page, 1)
        # The page's host is www.shop.proof.test: _ga lives on .shop.proof.test and _gid on
        # .proof.test, which only a deletion naming those domains reaches.
        page.wait_for_function("!document.cookie.includes('_ga=') && !document.cookie.includes('_gid=')")
        assert jar() == {("cart", ".shop.proof.test")}  # what the inventory does not list stays
    finally:
        own.close()

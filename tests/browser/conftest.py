"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Where Chromium is missing (a laptop) these tests skip and say why; in CI
(CI=true) a missing Chromium is a failure, since .ci/run installs it.
"""
import os
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.support import wait_until
from tests.support.proof_shop import ProofShop, aim_scanner

# Playwright's sync API keeps an event loop on the test thread; Django would
# take the test's own ORM calls for async code. They are not.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "banner_static" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _require(path, what):
    if not Path(path).exists():
        message = f"{what} not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI must run the browser tests (.ci/run installs it)")
        pytest.skip(f"{message}: install it to run the browser tests (apt-get install chromium)")


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright for the run: its sync API refuses a second one in the same thread while the first runs."""
    _require(CHROMIUM, "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_driver, live_server):
    """Closed before the live server stops (hence the fixture it asks for): Chromium holds its connections to
    the live server open until it exits, and each request thread then closes the database connection that the
    live server shares with the tests only while it runs."""
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()
    wait_until(lambda: not any(t.name.endswith("(process_request_thread)") for t in threading.enumerate()),
               what="the live server's request threads to end once Chromium has closed their connections")


class InFlight:
    """Counts the requests the live server is handling.

    The test database is truncated after each test; a request the browser
    started just before the test ended would otherwise still be reading
    tables then, and PostgreSQL reports the two as a deadlock.
    """

    def __init__(self, app):
        self.app = app
        self.count = 0
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.count += 1
        try:
            # The body is produced inside the call for Django's handler.
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.count -= 1
                self.last = time.monotonic()

    def wait_quiet(self, quiet=0.3, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.count == 0 and time.monotonic() - self.last >= quiet:
                    return
            time.sleep(0.05)


@pytest.fixture
def demo(live_server, transactional_db):
    httpd = live_server.thread.httpd
    counter = InFlight(httpd.get_app())
    httpd.set_app(counter)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    yield live_server.url
    counter.wait_quiet()
    httpd.set_app(counter.app)


@pytest.fixture
def proof(demo, settings):
    """The proof shop, with the demo site and the scanner aimed at it."""
    shop = ProofShop(demo)
    aim_scanner(shop, settings, demo)
    yield shop
    shop.stop()


@pytest.fixture
def held_proof(demo, settings):
    """The proof shop, its server holding the trackers in its markup (no scan needed: the catalogue's hosts)."""
    shop = ProofShop(demo, held=True)
    aim_scanner(shop, settings, demo)
    yield shop
    shop.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def axe():
    _require(AXE, "axe-core (make banner-deps)")
    return AXE.read_text()

"""What the banner does later (``dist/later.min.js``: the preferences dialog, the iframe placeholders, the
clean-up) is loaded from the platform only once needed, pinned by the hash built into the runtime, and a
load that fails is tried again at the next need: the banner and its first-layer answers work meanwhile."""
import base64
import hashlib

import pytest

from banner.embed import RUNTIME_VERSION
from scanner.models import Tracker
from tests.support import ROOT

from .test_banner import BANNER, DIALOG, click, open_demo, wait_saved

pytestmark = pytest.mark.browser
LATER = f"/c/v/{RUNTIME_VERSION}/later.min.js"
BUILT = ROOT / "banner_static" / "dist" / "later.min.js"


def shop_page(page, demo, head="", body="<main>Shop</main>"):
    """The demo site's page served as given, for a site with no inventory (no clean-up for later.js to do)."""
    Tracker.objects.all().delete()
    page.route("**/demo/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=f'<!doctype html><html lang="en"><head><title>Shop</title><script src="{demo}/c/demo.js"></script>'
             f'{head}</head><body>{body}</body></html>'))


def plain_page(page, demo):
    """The demo site on a page with no gated iframe, for a site with no inventory: nothing for later.js to do."""
    shop_page(page, demo, body='<main><a href="#" data-cmp-open>Cookie preferences</a></main>')
    page.later_requests = []
    page.on("request", lambda r: page.later_requests.append(r.url) if r.url.endswith("later.min.js") else None)


def test_the_later_file_loads_only_when_the_preferences_open(page, demo):
    plain_page(page, demo)
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert page.later_requests == []  # the banner and its answers need nothing more
    click(page, "customize")
    page.locator(DIALOG).wait_for(state="visible")
    assert page.later_requests == [demo + LATER]
    # Pinned by the hash the build wrote into the runtime, as a site pinning the runtime expects.
    pinned = "sha256-" + base64.b64encode(hashlib.sha256(BUILT.read_bytes()).digest()).decode()
    assert page.evaluate("document.querySelector('script[src$=\"later.min.js\"]').integrity") == pinned
    # Closed and opened again: the file is loaded once per page.
    click(page, "close", DIALOG)
    page.locator(DIALOG).wait_for(state="hidden")
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert len(page.later_requests) == 1


def test_a_choice_from_the_first_layer_needs_no_later_file(page, demo):
    plain_page(page, demo)
    open_demo(page, demo)
    click(page, "reject")
    wait_saved(page, 1)
    page.wait_for_load_state("networkidle")
    assert page.later_requests == []


def test_a_changed_later_file_is_refused_and_the_next_opening_tries_again(page, demo):
    plain_page(page, demo)
    built = BUILT.read_bytes()
    page.route(f"**{LATER}", lambda route: route.fulfill(
        status=200, content_type="text/javascript", headers={"Access-Control-Allow-Origin": "*"},
        body=built.replace(b"noopener noreferrer", b"noopener         ")))
    open_demo(page, demo)
    with page.expect_console_message(lambda m: "integrity" in m.text) as refused:
        click(page, "customize")
    assert "later.min.js" in refused.value.text
    # The changed file never ran: no dialog, and the banner still takes an answer from its first layer.
    assert page.locator(DIALOG).count() == 0
    assert page.locator(BANNER).is_visible()
    # The platform serves the true file again: the next opening loads it and the dialog opens.
    page.unroute(f"**{LATER}")
    open_again(page)
    click(page, "save", DIALOG)
    wait_saved(page, 1)
    assert page.locator(BANNER).is_hidden()


def test_a_failed_load_is_tried_again_at_the_next_opening(page, demo):
    plain_page(page, demo)
    open_demo(page, demo)
    page.route(f"**{LATER}", lambda route: route.abort())
    with page.expect_event("requestfailed", lambda r: r.url.endswith("later.min.js")):
        page.evaluate("window.cmp.open()")
    assert page.locator(DIALOG).count() == 0
    page.unroute(f"**{LATER}")
    open_again(page)
    assert len(page.later_requests) == 2


def open_again(page):
    """Asks for the preferences until they open: the failed load's error event may still be on its way."""
    page.wait_for_function("""() => { window.cmp.open();
        return !!document.querySelector('#cmp-root').shadowRoot.querySelector('dialog.prefs[open]'); }""", polling=200)


def test_preferences_asked_for_before_the_page_has_a_body_break_nothing(page, demo):
    shop_page(page, demo, head="<script>window.cmp.open()</script>")
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_demo(page, demo)
    page.wait_for_load_state("networkidle")  # the early call's file has come, and its open has run
    # The early call opened the dialog once the banner was there, or found no banner yet: no error either way.
    assert errors == []
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")

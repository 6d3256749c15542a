"""Blocking without tagging, on the proof page: the scanner finds the trackers; the banner holds them, and
where the shop's server holds them in its markup too, not one request reaches a tracker before its purpose."""
import contextlib
import os
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from consent.models import Site
from scanner import inventory
from scanner.models import Tracker
from tests.support import wait_until
from tests.support.proof_shop import ADDRESS, MARKUP_PIXEL, MORE_TRACKERS, SERVER_SET, SESSION_KEY, SHOP, TRACKERS

from .conftest import ARGS, CHROMIUM

pytestmark = pytest.mark.browser
BANNER = "#cmp-root >> section.banner"


@pytest.fixture
def shop(proof):
    """The proof shop, scanned once: the banner now holds the hosts the scan found."""
    call_command("scan_site", "demo", "--here", stdout=open(os.devnull, "w"))
    return proof


@contextlib.contextmanager
def chromium_for(browser, shop):
    """Chromium that reaches the proof shop's host names through its host resolver rules only; the page's
    ``network`` lists the host of every request Chromium made (the preload scanner's too)."""
    rules = ", ".join(f"MAP {host} {ADDRESS}" for host in shop.hosts())
    own = browser.browser_type.launch(executable_path=CHROMIUM, args=[*ARGS, f"--host-resolver-rules={rules}"])
    context = own.new_context()
    page = context.new_page()
    page.network = []
    page.on("request", lambda request: page.network.append(urlsplit(request.url).hostname))
    yield page
    context.close()
    own.close()


@pytest.fixture
def visitor(browser, shop):
    with chromium_for(browser, shop) as page:
        yield page


@pytest.fixture
def held_visitor(browser, held_proof):
    with chromium_for(browser, held_proof) as page:
        yield page


# What each tracking script does when it runs: its hit, its pixel, the frame it adds.
EFFECTS = {("www.googletagmanager.com", "/g/collect"), ("analytics.tiktok.com", "/api/v2/pixel"),
           ("platform.twitter.com", "/embed.html"), ("tr.snapchat.com", "/p")}
AD_FRAME = ("securepubads.g.doubleclick.net", "/ad.html")
# What may reach the trackers' hosts before the banner can act, though nothing of it runs
# or shows: Chromium's preload scanner fetches the scripts in the markup ahead of the
# parser while the banner's own script loads, and the frame in the markup starts loading
# as the parser inserts it (the banner then takes its src away, so it shows nothing).
EARLY = {("www.googletagmanager.com", "/gtag/js"), ("analytics.tiktok.com", "/i18n/pixel/events.js"),
         ("platform.twitter.com", "/widgets.js"), ("static.zdassets.com", "/ekr/snippet.js"),
         ("sc-static.net", "/scevent.min.js"), AD_FRAME}
AD_SRC = "document.querySelector('iframe[title=Advertisement]').getAttribute('src')"
PIXEL = "document.querySelector('img[src*=\"/watch/\"], img[data-src*=\"/watch/\"]')"
SET_BY_TRACKERS = {"_ga", "_gid", "_ttp", SERVER_SET}


def load(page, shop):
    shop.requests.clear()
    page.goto(shop.url)
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.wait_for_load_state("networkidle")


def tracker_requests(shop):
    return {(host, path) for host, path in shop.requests if host in TRACKERS or host in MORE_TRACKERS}


def cookies(page):
    return {c["name"] for c in page.context.cookies()}


def test_untagged_trackers_wait_for_their_purpose_and_run_in_order_once_granted(shop, visitor):
    page = visitor
    # Before any choice: none runs. What reached the trackers' hosts is only the preload
    # scanner's fetch of the scripts and the image in the markup; none of the scripts ran,
    # so no hit, no script-made pixel, no frame, no cookie.
    load(page, shop)
    assert tracker_requests(shop) <= EARLY | {MARKUP_PIXEL} and not tracker_requests(shop) & EFFECTS
    assert not SET_BY_TRACKERS & cookies(page) and page.evaluate(AD_SRC) is None
    assert page.evaluate("window.proofRan || []") == []
    assert page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") is None
    held = page.evaluate("[...document.querySelectorAll('[data-cmp-purpose]')].map(e => [e.tagName, e.getAttribute('data-cmp-purpose')])")
    assert sorted(map(tuple, held)) == [("IFRAME", "advertising"), ("IMG", "analytics"), ("SCRIPT", "advertising"),
                                        ("SCRIPT", "advertising"), ("SCRIPT", "advertising"), ("SCRIPT", "analytics"),
                                        ("SCRIPT", "recognition")]
    # The pixel written in the markup: the banner holds the element (no src, nothing shown),
    # but its request, which is all a pixel does, left once, with the preload scanner's
    # fetch ahead of the banner (as the README's list of what cannot be caught says).
    assert shop.requests.count(MARKUP_PIXEL) == 1
    assert page.evaluate(f"(e => [e.hasAttribute('src'), e.naturalWidth])({PIXEL})") == [False, 0]
    # After Reject all, on this page view and the next: still none (and the held pixel is
    # not fetched again on this page view; the next one's preload fetch is the same once).
    shop.requests.clear()
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    page.wait_for_load_state("networkidle")
    assert not tracker_requests(shop) & (EFFECTS | {MARKUP_PIXEL}) and not SET_BY_TRACKERS & cookies(page)
    load(page, shop)
    assert tracker_requests(shop) <= EARLY | {MARKUP_PIXEL} and not tracker_requests(shop) & EFFECTS
    assert shop.requests.count(MARKUP_PIXEL) <= 1
    assert not SET_BY_TRACKERS & cookies(page) and page.evaluate(AD_SRC) is None
    assert page.evaluate(f"(e => [e.hasAttribute('src'), e.naturalWidth])({PIXEL})") == [False, 0]
    # The leaky inline script ran (nothing can stop code inline in the page), but the
    # clean-up deleted its cookie once the banner knew analytics was declined.
    page.wait_for_function("!document.cookie.includes('_pk_id.')")
    # After Accept all: every one runs, on this page view already.
    page.evaluate("window.cmp.open()")
    page.locator("#cmp-root >> dialog.prefs >> button[data-action='accept']").click()
    wait_until(lambda: tracker_requests(shop) >= EFFECTS | {AD_FRAME}, 15, "every tracker to run")
    page.wait_for_function("(window.proofRan || []).length >= 5")  # a script's request comes before it has run
    assert page.evaluate("window.proofRan") == [  # in the page's order
        "www.googletagmanager.com", "analytics.tiktok.com", "platform.twitter.com", "static.zdassets.com", "sc-static.net"]
    assert SET_BY_TRACKERS <= cookies(page)
    assert page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')") == "proof"
    assert page.evaluate(AD_SRC).endswith("/ad.html")
    # The markup pixel gets its src back and loads (from the network, or the preload's copy).
    page.wait_for_function(f"(e => e.getAttribute('src') && e.complete && e.naturalWidth === 1)({PIXEL})")


def test_the_most_specific_listed_host_decides_what_waits_and_for_which_purpose(shop, visitor):
    # The owner lists two parents of the shop's trackers under advertising, and calls one of the
    # subdomains essential: the X widget (platform.twitter.com) runs at once, and the chat widget
    # (static.zdassets.com, recognition by the catalogue) waits for recognition, not for advertising.
    site = Site.objects.get(key="demo")
    for parent in ("twitter.com", "zdassets.com"):
        Tracker.objects.create(site=site, kind="request", name=parent, domain=parent, first_party=False,
                               purpose="advertising", classified_by=Tracker.OWNER)
    Tracker.objects.filter(kind="request", name="platform.twitter.com").update(purpose="security",
                                                                             classified_by=Tracker.OWNER)
    inventory.forget("demo")
    page = visitor
    load(page, shop)
    page.wait_for_function("(window.proofRan || []).length >= 1")
    assert page.evaluate("window.proofRan") == ["platform.twitter.com"]
    chat = "document.querySelector('script[src*=zdassets], script[data-src*=zdassets]')"
    assert page.evaluate(f"{chat}.getAttribute('data-cmp-purpose')") == "recognition"
    grant(page, "recognition")
    page.wait_for_function("window.proofRan.length >= 2")
    assert page.evaluate("window.proofRan") == ["platform.twitter.com", "static.zdassets.com"]
    decisions = page.evaluate("window.cmp.decisions()")
    assert (decisions["analytics"], decisions["advertising"], decisions["recognition"]) == (False, False, True)


def test_held_markup_sends_nothing_to_a_tracker_before_its_purpose_and_everything_after(held_proof, held_visitor):
    page, shop, trackers = held_visitor, held_proof, {*TRACKERS, *MORE_TRACKERS}
    # Before any choice, after Reject all, and on the next page view: not one request to a tracker's
    # host, in the shop's log or in Chromium's own network log (the preload scanner's included).
    load(page, shop)
    assert "www.googletagmanager.com" in page.content()  # the trackers are in the page, held
    assert not tracker_requests(shop) and not trackers & set(page.network), page.network
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    page.wait_for_load_state("networkidle")
    load(page, shop)
    assert not tracker_requests(shop) and not trackers & set(page.network), page.network
    assert not SET_BY_TRACKERS & cookies(page) and page.evaluate(AD_SRC) is None
    assert page.evaluate("window.proofRan || []") == []
    # After Accept all: every one, on this page view already, the scripts in the page's order.
    page.evaluate("window.cmp.open()")
    page.locator("#cmp-root >> dialog.prefs >> button[data-action='accept']").click()
    wait_until(lambda: tracker_requests(shop) >= EARLY | EFFECTS | {MARKUP_PIXEL}, 15, "every tracker to be requested")
    page.wait_for_function("(window.proofRan || []).length >= 5")
    assert page.evaluate("window.proofRan") == [
        "www.googletagmanager.com", "analytics.tiktok.com", "platform.twitter.com", "static.zdassets.com", "sc-static.net"]
    assert trackers <= set(page.network)
    assert SET_BY_TRACKERS <= cookies(page)
    page.wait_for_function(f"(e => e.getAttribute('src') && e.complete && e.naturalWidth === 1)({PIXEL})")


def test_an_added_image_of_a_held_host_loads_none_of_its_candidates_before_its_purpose(shop, visitor):
    # An untagged image a script adds with a srcset: once its src is taken away, the browser would pick
    # its srcset's candidate instead, from the same held host. The banner takes the candidates away too.
    # (Its src itself Chromium may have requested already, as the HTML was parsed: README, "What no script can
    # catch". Here it is the markup pixel, which the page has cached.)
    page = visitor
    load(page, shop)
    held, elsewhere = origins(shop)
    shop.requests.clear()
    page.evaluate(f"""document.body.insertAdjacentHTML("beforeend",
        '<img id="added" src="{held}/watch/1" srcset="{held}/p 2x"><img id="after" src="{elsewhere}/nothing.gif">')""")
    # The image after it is fetched once the held one's choice of source has been made: then that choice is none.
    page.wait_for_function("document.getElementById('after').complete")
    assert page.evaluate("(e => [e.currentSrc, e.hasAttribute('src'), e.hasAttribute('srcset'), "
                         "e.getAttribute('data-cmp-purpose')])(document.getElementById('added'))") == ["", False, False, "analytics"]
    assert (MARKUP_PIXEL[0], "/p") not in shop.requests
    # Once analytics is granted, it loads from its src, and has its candidates back for a screen with more pixels.
    grant(page, "analytics")
    page.wait_for_function("(e => e.complete && e.naturalWidth === 1)(document.getElementById('added'))")
    assert page.evaluate("(e => [e.currentSrc, e.getAttribute('srcset')])(document.getElementById('added'))") == [
        f"{held}/watch/1", f"{held}/p 2x"]


def test_a_pictures_source_of_a_held_host_waits_for_its_purpose_and_is_chosen_once_granted(shop, visitor):
    # A picture's source of a held host would be its image's choice though the image itself is the site's own: the
    # banner holds the source (by its srcset's first candidate) as it does an image, so the image shows its own src,
    # and gives the source its srcset back once analytics is granted.
    page = visitor
    load(page, shop)
    held, elsewhere = origins(shop)
    page.evaluate(f"""document.body.insertAdjacentHTML("beforeend",
        '<picture><source srcset="{held}/p 1x"><img id="pictured" src="{elsewhere}/nothing.gif"></picture>')""")
    page.wait_for_function(f"(e => e.complete && e.currentSrc === '{elsewhere}/nothing.gif')"
                           "(document.getElementById('pictured'))")
    assert page.evaluate("(s => [s.hasAttribute('srcset'), s.getAttribute('data-srcset'), s.getAttribute('data-cmp-purpose')])"
                         "(document.querySelector('picture > source'))") == [False, f"{held}/p 1x", "analytics"]
    grant(page, "analytics")
    page.wait_for_function(f"(e => e.currentSrc === '{held}/p' && e.complete && e.naturalWidth === 1)"
                           "(document.getElementById('pictured'))")


def test_an_image_a_script_makes_of_a_held_host_is_requested_only_once_its_purpose_is_granted(shop, visitor):
    # A pixel as scripts send one: new Image() never added to the page, and an image made with createElement and
    # added. Each is held as its src is set, before the browser could start loading it; once analytics is
    # granted, both load, the one outside the page too.
    page = visitor
    load(page, shop)
    held, elsewhere = origins(shop)
    shop.requests.clear()
    page.network.clear()
    page.evaluate(f"""() => {{
        window.pixel = new Image();
        window.pixel.src = "{held}/p?new-image";
        const added = document.createElement("img");
        added.id = "made";
        added.srcset = "{held}/p?made 1x";
        document.body.appendChild(added);
    }}""")
    assert page.evaluate("[window.pixel, document.getElementById('made')].map(e => [e.hasAttribute('src'), "
                         "e.hasAttribute('srcset'), e.getAttribute('data-cmp-purpose')])") == [
        [False, False, "analytics"], [False, False, "analytics"]]
    # Chromium reports its requests in the order it makes them: one the images had started comes before this.
    page.evaluate(f"fetch('{elsewhere}/nothing.gif')")
    wait_until(lambda: SHOP in page.network, 15, "Chromium to report the later request")
    assert MARKUP_PIXEL[0] not in page.network, page.network
    assert not [request for request in shop.requests if request[0] == MARKUP_PIXEL[0]], shop.requests
    grant(page, "analytics")
    page.wait_for_function("[window.pixel, document.getElementById('made')].every(e => e.complete && e.naturalWidth === 1)")
    assert page.evaluate("[window.pixel.currentSrc, document.getElementById('made').currentSrc]") == [
        f"{held}/p?new-image", f"{held}/p?made"]


def origins(shop):
    """The markup pixel's host (held for analytics) and the shop's own, as the page addresses them."""
    return f"http://{MARKUP_PIXEL[0]}:{shop.port}", f"http://{urlsplit(shop.url).netloc}"


def grant(page, purpose):
    """Grants purpose in the preferences, as a visitor does."""
    page.evaluate("window.cmp.open()")
    page.locator(f"#cmp-root >> dialog.prefs >> input[data-purpose='{purpose}']").check()
    page.locator("#cmp-root >> dialog.prefs >> button[data-action='save']").click()

"""Consent that follows the person, in Chromium with third-party cookies blocked throughout.

Two browser contexts are two devices; two host names (``brand-a.test``,
``brand-b.test``, pages served by the test as each brand's back end would,
with a fresh assertion for the signed-in user on each page view) are two
brand sites of one group. Nothing here can lean on a third-party cookie: the
browser refuses them, and the first test shows that it does.
"""
import json
import secrets
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models import PolicyVersion, Site, SiteGroup
from consent.site_setup import create_site
from tests.support.people import signed_assertion

from .conftest import ARGS, CHROMIUM
from .test_banner import BANNER, click, track_writes, wait_saved

pytestmark = pytest.mark.browser
BRAND_A, BRAND_B = "https://brand-a.test", "https://brand-b.test"
# Chromium's switch for the web without third-party cookies (this build refuses them already; the first
# test checks that they are refused, whatever the reason).
NO_THIRD_PARTY_COOKIES = "--test-third-party-cookie-phaseout"
# The brands' pages are served by the test under public names; the platform is on loopback, as a CDN would not be.
LOOPBACK_ALLOWED = "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessRespectPreflightResults"


@pytest.fixture(scope="module")
def strict_browser(playwright_driver):
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, NO_THIRD_PARTY_COOKIES,
                                                                           LOOPBACK_ALLOWED])
    yield b
    b.close()


@pytest.fixture
def brands(demo):
    """The demo site on brand-a.test and a sister site on brand-b.test, one group."""
    group = SiteGroup.objects.create(key="brands", name="Brands")
    site = Site.objects.get(key="demo")
    site.allowed_origins, site.group = [BRAND_A], group
    site.save()
    create_site(Site(key="sister", name="Sister", group=group, allowed_origins=[BRAND_B]),
                "https://brand-b.test/privacy")
    # Read now: the brands' pages are made while the live server works, and SQLite's in-memory test
    # database would refuse the server's write while this thread reads.
    SECRETS.update(Site.objects.values_list("key", "identity_secret"))
    return demo


SECRETS = {}


def quiet(live_server):
    """Wait until the live server handles no request: only then may this thread write to the database."""
    live_server.thread.httpd.get_app().wait_quiet()


def assertion(site_key, subject="account-42", minutes=5, secret=None):
    """What the brand's back end signs for its signed-in user (README, Consent that follows the person)."""
    return signed_assertion(site_key, secret or SECRETS[site_key], subject, minutes)


class Session:
    """A device's sign-in on the brands' sites, as their back ends see it: each page view of a signed-in user
    carries a fresh assertion (``make`` can replace how it is made, to forge one)."""

    def __init__(self, subject=None):
        self.subject = subject
        self.make = lambda site_key: assertion(site_key, self.subject)


def serve(context, demo, session):
    """Both brands' pages as their back ends render them for ``session``."""
    def page_for(host, site_key):
        def fulfil(route):
            proof = session.make(site_key) if session.subject else None
            identify = (f"<script>window.signedIn = window.cmp.identify({json.dumps(proof)})"
                        f".then(() => 'linked', e => e.error || String(e));</script>") if proof else ""
            route.fulfill(status=200, content_type="text/html", body=(
                f'<!doctype html><html lang="en"><head><title>{site_key}</title>'
                f'<script src="{demo}/c/{site_key}.js"></script></head><body>'
                f'<a id="sister" href="{BRAND_B}/welcome" data-cmp-handoff="sister">Our sister brand</a>'
                f'<iframe src="{host}/frame"></iframe>'
                f'<iframe src="{BRAND_B if host == BRAND_A else BRAND_A}/frame"></iframe>{identify}'
                f'</body></html>'))
        return fulfil

    frame = ("<!doctype html><script>document.cookie = 'probe=1; SameSite=None; Secure';"
             "parent.postMessage([location.origin, document.cookie.includes('probe')], '*');</script>")
    for host, key in ((BRAND_A, "demo"), (BRAND_B, "sister")):
        context.route(f"{host}/frame", lambda route: route.fulfill(status=200, content_type="text/html", body=frame))
        context.route(f"{host}/", page_for(host, key))
        context.route(f"{host}/welcome", page_for(host, key))


class Device:
    def __init__(self, browser, demo, subject=None):
        self.session = Session(subject)
        self.context = browser.new_context()
        serve(self.context, demo, self.session)
        self.page = self.context.new_page()
        # Each page view fetches the site script again: a device holding one from before a material policy
        # change (cached for up to five minutes) would record its next choice under the old version.
        self.context.new_cdp_session(self.page).send("Network.setCacheDisabled", {"cacheDisabled": True})
        track_writes(self.page)

    def visit(self, url):
        """Load ``url``; the page's identify answer ('linked' or the error's code) when signed in, else None."""
        self.page.goto(url)
        self.page.wait_for_function("window.cmp && window.cmp.ready")
        self.page.evaluate("window.cmp.ready")
        return self.page.evaluate("window.signedIn || null")

    def decisions(self):
        return self.page.evaluate("window.cmp.decisions()")

    def banner_shown(self):
        return self.page.locator(BANNER).is_visible()


@pytest.fixture
def devices(strict_browser, brands):
    made = []

    def make(subject=None):
        made.append(Device(strict_browser, brands, subject))
        return made[-1]

    yield make
    for one in made:
        one.context.close()


def test_third_party_cookies_are_blocked_throughout(devices):
    one = devices()
    one.page.add_init_script("window.kept = {}; addEventListener('message', e => { kept[e.data[0]] = e.data[1]; });")
    one.visit(BRAND_A + "/")
    one.page.wait_for_function("Object.keys(window.kept).length === 2")
    # A frame of the page's own site keeps its cookie; the other brand's frame, on this page, cannot.
    assert one.page.evaluate("window.kept") == {BRAND_A: True, BRAND_B: False}


def test_a_refusal_on_one_device_applies_on_the_other_at_its_first_page_view_after_identify(devices):
    laptop, phone = devices(), devices("account-42")
    laptop.visit(BRAND_A + "/")
    click(laptop.page, "accept")
    wait_saved(laptop.page, 1)
    assert phone.visit(BRAND_A + "/") == "linked"
    click(phone.page, "reject")
    wait_saved(phone.page, 1, 3)  # the laptop's choice, the phone's link, the phone's refusal

    laptop.session.subject = "account-42"  # the laptop's user signs in
    assert laptop.visit(BRAND_A + "/welcome") == "linked"
    assert laptop.decisions() == {"authentication": True, "security": True, "analytics": False,
                                  "advertising": False, "recognition": False}
    assert not laptop.banner_shown()
    # The next page view decides from the laptop's own cookie, before any answer from the server.
    laptop.session.subject = None
    laptop.visit(BRAND_A + "/")
    assert laptop.page.evaluate("window.cmp.granted('analytics')") is False and not laptop.banner_shown()


def test_a_material_policy_change_asks_once_and_the_answer_reaches_both_devices(devices, live_server):
    laptop, phone = devices("account-42"), devices("account-42")
    assert laptop.visit(BRAND_A + "/") == "linked"
    click(laptop.page, "reject")
    wait_saved(laptop.page, 1, 2)
    assert phone.visit(BRAND_A + "/") == "linked" and not phone.banner_shown()

    quiet(live_server)
    PolicyVersion.objects.create(site=Site.objects.get(key="demo"), version="2", url="https://brand-a.test/privacy2",
                                 material=True)
    assert phone.visit(BRAND_A + "/") == "linked"  # the next login, on whichever device comes first
    phone.page.locator(BANNER).wait_for(state="visible")
    click(phone.page, "accept")
    wait_saved(phone.page, 1, 4)
    assert laptop.visit(BRAND_A + "/") == "linked"
    assert not laptop.banner_shown() and laptop.decisions()["analytics"] is True


def test_a_link_to_the_sister_site_carries_an_anonymous_choice_there(devices):
    visitor = devices()
    visitor.visit(BRAND_A + "/")
    click(visitor.page, "reject")
    wait_saved(visitor.page, 1, 1)
    visitor.page.click("#sister")
    visitor.page.wait_for_url(BRAND_B + "/welcome")  # the fragment is gone once the banner has taken it
    visitor.page.wait_for_function("window.cmp && window.cmp.ready")
    visitor.page.wait_for_function("window.cmp.decisions().analytics === false && document.cookie.includes('cmp_sister=')")
    assert not visitor.banner_shown()
    assert visitor.decisions()["advertising"] is False


def test_a_forged_expired_or_replayed_assertion_is_refused_with_a_clear_error(devices):
    phone = devices("account-42")
    phone.session.make = lambda key: assertion(key, "account-42", secret="not-the-brands-secret")
    assert phone.visit(BRAND_A + "/") == "bad_assertion"
    phone.session.make = lambda key: assertion(key, "account-42", minutes=-1)
    assert phone.visit(BRAND_A + "/") == "assertion_expired"
    used = assertion("demo", "account-42")
    phone.session.make = lambda key: used
    assert phone.visit(BRAND_A + "/") == "linked"
    assert phone.visit(BRAND_A + "/") == "assertion_replayed"
    assert phone.banner_shown()  # refused: the banner still asks, nothing was decided for the visitor


def note_redeem_errors(device, errors):
    """Append to ``errors`` the error code of each of the device's refused hand-off redemptions."""
    device.page.on("response", lambda r: errors.append(r.json()["error"]) if r.url.endswith("/people/redeem")
                   and r.status >= 400 else None)


def test_a_forged_expired_or_replayed_hand_off_is_refused_and_the_banner_asks(devices, live_server):
    from consent import people
    from consent.sites import require_rules

    visitor = devices()
    visitor.visit(BRAND_A + "/")
    click(visitor.page, "reject")
    wait_saved(visitor.page, 1, 1)
    carried = []
    visitor.page.on("framenavigated", lambda frame: carried.append(frame.url) if "cmp-handoff" in frame.url else None)
    visitor.page.click("#sister")
    visitor.page.wait_for_url(BRAND_B + "/welcome")
    assert carried, "the link did not carry a hand-off"

    errors = []
    replayed = devices()
    note_redeem_errors(replayed, errors)
    replayed.visit(carried[0])  # the same link again, in another browser
    replayed.page.locator(BANNER).wait_for(state="visible")
    replayed.page.wait_for_function("!location.hash")
    assert "cmp_sister=" not in replayed.page.evaluate("document.cookie")

    forged = devices()
    note_redeem_errors(forged, errors)
    forged.visit(BRAND_B + "/welcome#cmp-handoff=" + secrets.token_urlsafe(24))
    forged.page.locator(BANNER).wait_for(state="visible")
    forged.page.wait_for_function("!location.hash")

    cookie = next(c["value"] for c in visitor.context.cookies([BRAND_A]) if c["name"] == "cmp_demo")
    _, v, t = cookie.split("!")[:3]
    quiet(live_server)
    handoff, _ = people.hand_off(require_rules("demo"), v, t, "sister", now=timezone.now() - timedelta(minutes=3))
    expired = devices()
    note_redeem_errors(expired, errors)
    expired.visit(BRAND_B + "/welcome#cmp-handoff=" + handoff)
    expired.page.locator(BANNER).wait_for(state="visible")
    deadline = time.monotonic() + 10
    while len(errors) < 3 and time.monotonic() < deadline:
        expired.page.wait_for_timeout(50)  # lets Playwright deliver the response events
    assert errors == ["handoff_used", "bad_handoff", "handoff_expired"]


def test_subdomains_share_the_choice_when_the_site_sets_its_cookie_on_their_parent(strict_browser, demo):
    site = Site.objects.get(key="demo")
    site.allowed_origins, site.cookie_domain = ["https://shop.brand-a.test", "https://blog.brand-a.test"], "brand-a.test"
    site.full_clean()
    site.save()
    context = strict_browser.new_context()
    page_html = (f'<!doctype html><html lang="en"><head><script src="{demo}/c/demo.js"></script></head>'
                 f'<body><p>Page</p></body></html>')
    for host in ("https://shop.brand-a.test", "https://blog.brand-a.test"):
        context.route(f"{host}/", lambda route: route.fulfill(status=200, content_type="text/html", body=page_html))
    page = context.new_page()
    track_writes(page)
    page.goto("https://shop.brand-a.test/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    click(page, "reject")
    page.wait_for_function("document.cookie.includes('cmp_demo=')")
    page.goto("https://blog.brand-a.test/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    assert page.evaluate("window.cmp.granted('analytics')") is False
    assert not page.locator(BANNER).is_visible()  # the blog's banner read the shop's choice
    assert [c["domain"] for c in context.cookies() if c["name"] == "cmp_demo"] == [".brand-a.test"]
    context.close()

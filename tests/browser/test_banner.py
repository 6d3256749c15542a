"""The real banner on the demo page, in real headless Chromium."""
import json
import time

import pytest
from django.db import OperationalError

from banner.embed import RUNTIME_VERSION
from consent.models import ConsentEvent, Visitor
from tests.support import wait_until
from tests.support.banner import MARK_STYLED, STYLED

pytestmark = pytest.mark.browser
BANNER = "#cmp-root >> section.banner"
PENDING_CLEARED = "(() => { const m = document.cookie.match(/cmp_demo=[^;]*!([a-z]*)(?:;|$)/); return !!m && !m[1].includes('q'); })()"
DIALOG = "#cmp-root >> dialog.prefs"


# An opt-out signal as a browser sends it: its request header and its navigator property.
GPC = ({"Sec-GPC": "1"}, "globalPrivacyControl", "true")
DNT = ({"DNT": "1"}, "doNotTrack", "'1'")


def signalling_page(browser, signal):
    """A page in a new context that sends ``signal`` (GPC or DNT) on every request and shows it to scripts."""
    header, prop, value = signal
    context = browser.new_context(extra_http_headers=header)
    context.add_init_script(f"Object.defineProperty(Navigator.prototype, '{prop}', {{get: () => {value}}});")
    return context, context.new_page()


def open_demo(page, url, **kwargs):
    track_writes(page)
    page.goto(url + "/demo/", **kwargs)
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")


def ran(page):
    return page.evaluate("window.cmpDemoRan || []")


INERT = "[...document.querySelectorAll('script[type=\"text/plain\"][data-cmp-purpose]')].map(s => s.dataset.cmpPurpose).sort()"


def inert(page):
    """The purposes whose tags are still inert (type text/plain): the banner has not let them run, and cannot
    without replacing them. The banner applies a choice at once, so this is final as soon as the choice is made."""
    return page.evaluate(INERT)


def click(page, action, where=BANNER):
    page.locator(f"{where} >> button[data-action='{action}']").click()


def track_writes(page):
    """Count, on ``page``, the banner's writes whose answer has arrived (``page.cmp_writes``)."""
    if not hasattr(page, "cmp_writes"):
        page.cmp_writes = []
        page.on("requestfinished", lambda r: page.cmp_writes.append(r.url)
                if r.method == "POST" and r.url.endswith("/consents") else None)


def saved_events():
    """How many events the live server has committed; None while another thread holds the table (SQLite's
    in-memory test database refuses at once, "database table is locked", rather than waiting)."""
    try:
        return ConsentEvent.objects.count()
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        return None


def wait_saved(page, count, events=None):
    """Wait until the browser has had the answers to ``count`` writes, then until the database shows ``events``
    (``count`` by default) in the log.

    The database is read only once the answers are in: on SQLite, a read of the test's own while the live
    server writes would make that write fail ("database table is locked").
    """
    deadline = time.monotonic() + 30
    while len(page.cmp_writes) < count:
        assert time.monotonic() < deadline, f"the browser had {len(page.cmp_writes)} answers to its writes, not {count}"
        page.wait_for_timeout(50)  # lets Playwright deliver the request events while the condition is polled
    wanted = count if events is None else events
    wait_until(lambda: (saved_events() or 0) >= wanted, what=f"{wanted} events of the choices in the log")


def test_first_visit_shows_the_banner_and_runs_nothing(page, demo):
    open_demo(page, demo)
    banner = page.locator(BANNER)
    banner.wait_for(state="visible")
    assert ran(page) == []
    names = banner.locator("button").all_inner_texts()
    assert names == ["Accept all", "Reject all", "Customize"]
    # Refusing is as easy as accepting: the same size and style.
    boxes = [b.bounding_box() for b in banner.locator("button").all()]
    assert boxes[0]["height"] == boxes[1]["height"] and abs(boxes[0]["width"] - boxes[1]["width"]) < 20
    assert page.locator("iframe[data-cmp-purpose]").get_attribute("src") is None
    assert page.evaluate("window.cmp.granted('analytics')") is False


def test_reject_all_runs_nothing_and_is_remembered(page, demo):
    page.add_init_script(MARK_STYLED)
    open_demo(page, demo)
    click(page, "reject")
    wait_saved(page, 1)
    assert inert(page) == ["advertising", "analytics", "recognition"]  # none let out, so none can run later
    assert ran(page) == []
    open_demo(page, demo)
    page.wait_for_function(STYLED)  # the banner has decided whether to show: no fixed wait
    assert page.locator(BANNER).is_hidden()
    assert ran(page) == []
    cookie = next(c for c in page.context.cookies() if c["name"] == "cmp_demo")
    assert len(cookie["name"]) + 1 + len(cookie["value"]) <= 200
    assert cookie["sameSite"] == "Lax"


def test_accept_all_runs_each_tag_once_in_order(page, demo):
    open_demo(page, demo)
    click(page, "accept")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 3")
    assert inert(page) == []  # each tag let out once (replaced by a live copy: it cannot run twice)
    assert ran(page) == ["analytics", "advertising", "recognition"]
    page.wait_for_function("document.querySelector(\"iframe[title='Example advertisement']\").getAttribute('src')")
    assert page.locator("iframe[title='Example advertisement']").get_attribute("src").endswith("ad-frame.html")
    wait_saved(page, 1)
    event = ConsentEvent.objects.get()
    assert event.choices == {"analytics": True, "advertising": True, "recognition": True}
    assert event.source == "banner" and event.banner_version == RUNTIME_VERSION


def test_customize_with_analytics_only(page, demo):
    open_demo(page, demo)
    click(page, "customize")
    page.locator(DIALOG).wait_for(state="visible")
    page.locator(f"{DIALOG} >> #cmp-p-analytics").check()
    essential = page.locator(f"{DIALOG} >> #cmp-p-security")
    assert essential.is_checked() and essential.is_disabled()
    click(page, "save", DIALOG)
    page.wait_for_function("(window.cmpDemoRan || []).length >= 1")
    assert inert(page) == ["advertising", "recognition"]
    assert ran(page) == ["analytics"]
    wait_saved(page, 1)
    assert ConsentEvent.objects.get().choices == {"analytics": True, "advertising": False, "recognition": False}


def test_open_then_revoke(page, demo):
    open_demo(page, demo)
    click(page, "accept")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 3")
    wait_saved(page, 1)
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert page.locator(f"{DIALOG} >> #cmp-p-analytics").is_checked()
    page.locator(f"{DIALOG} >> #cmp-p-analytics").uncheck()
    with page.expect_navigation():  # analytics already ran: the page reloads to stop it
        click(page, "save", DIALOG)
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 2")
    assert inert(page) == ["analytics"]
    assert ran(page) == ["advertising", "recognition"]
    assert page.evaluate("window.cmp.granted('analytics')") is False
    wait_saved(page, 2)
    assert ConsentEvent.objects.latest("id").choices["analytics"] is False


def test_footer_link_reopens_preferences(page, demo):
    open_demo(page, demo)
    click(page, "reject")
    page.click("a[data-cmp-open]")
    assert page.locator(DIALOG).is_visible()


def test_choice_made_while_server_is_down_is_delivered_later(page, demo):
    open_demo(page, demo)
    page.route("**/api/v1/sites/demo/consents", lambda route: route.abort())
    with page.expect_event("requestfailed", lambda r: r.url.endswith("/consents")):  # it was sent, and failed
        click(page, "accept")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 3")  # the choice applies at once
    assert ConsentEvent.objects.count() == 0
    page.unroute("**/api/v1/sites/demo/consents")
    open_demo(page, demo)  # the next page view sends it again
    wait_saved(page, 1)
    assert ConsentEvent.objects.get().choices == {"analytics": True, "advertising": True, "recognition": True}
    visitor_id = page.evaluate("window.cmp.visitorId")
    assert Visitor.objects.filter(uuid=visitor_id).exists()
    # The browser marks the choice confirmed (flag q cleared) when the answer arrives.
    page.wait_for_function(PENDING_CLEARED)
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    open_demo(page, demo)  # a pending choice is sent before cmp.ready resolves
    # A request made after that one is seen after it: once the probe is seen, a resend would have been too.
    page.evaluate("fetch('/healthz?probe')")
    page.wait_for_function("performance.getEntriesByName(location.origin + '/healthz?probe').length > 0")
    assert any(url.endswith("/healthz?probe") for url in sent)
    assert not [url for url in sent if url.endswith("/consents")], sent  # confirmed: not sent a third time
    assert ConsentEvent.objects.count() == 1


def test_consent_mode_default_precedes_tags_and_updates_after_choice(page, demo):
    open_demo(page, demo)
    click(page, "accept")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 3")
    layer = page.evaluate("""window.dataLayer.map(e => e && e.length !== undefined
        ? {cmd: e[0], arg: e[1], mode: e[2]} : {event: e.event, purpose: e.purpose})""")
    first_tag = next(i for i, e in enumerate(layer) if e.get("event") == "cmp-demo-tag")
    default = next(i for i, e in enumerate(layer) if e.get("cmd") == "consent" and e.get("arg") == "default")
    assert default == 0 and default < first_tag
    assert layer[default]["mode"]["analytics_storage"] == "denied" and layer[default]["mode"]["wait_for_update"] == 500
    updates = [e["mode"] for e in layer if e.get("cmd") == "consent" and e.get("arg") == "update"]
    assert updates[-1]["analytics_storage"] == "granted" and updates[-1]["ad_storage"] == "granted"
    granted_update = next(i for i, e in enumerate(layer) if e.get("arg") == "update" and e["mode"]["analytics_storage"] == "granted")
    assert granted_update < first_tag


def test_ga_optout_addon_denies_analytics(page, demo):
    page.add_init_script("window._gaUserPrefs = { ioo: function () { return true; } };")
    open_demo(page, demo)
    assert page.evaluate("window['ga-disable-G-DEMO12345']") is True
    click(page, "accept")
    page.wait_for_function("(window.cmpDemoRan || []).length >= 2")
    assert inert(page) == ["analytics"]
    assert "analytics" not in ran(page)
    assert page.evaluate("window['ga-disable-G-DEMO12345']") is True
    wait_saved(page, 1)
    event = ConsentEvent.objects.get()
    assert event.signals["ga_optout"] is True
    assert event.decisions["analytics"] == {"granted": False, "reason": "ga_optout"}


def test_gpc_denies_advertising_unless_confirmed(browser, demo):
    context, page = signalling_page(browser, GPC)
    open_demo(page, demo)
    assert page.locator(f"{BANNER} >> .gpc").inner_text() == "Opt-out preference signal honored"
    click(page, "accept")
    page.locator(f"{DIALOG} >> .conflict").wait_for(state="visible")
    wait_saved(page, 1)
    assert "advertising" in inert(page)
    assert "advertising" not in ran(page)
    assert ConsentEvent.objects.get().decisions["advertising"]["granted"] is False
    click(page, "confirm-gpc", DIALOG)
    page.wait_for_function("(window.cmpDemoRan || []).includes('advertising')")
    wait_saved(page, 2)
    assert ConsentEvent.objects.latest("id").decisions["advertising"] == {"granted": True, "reason": "choice"}
    context.close()


def test_honoured_dnt_asks_like_gpc_and_banner_and_server_agree(browser, demo):
    from consent.models import Site

    Site.objects.filter(key="demo").update(honor_dnt=True)
    context, page = signalling_page(browser, DNT)
    open_demo(page, demo)
    click(page, "accept")
    page.locator(f"{DIALOG} >> .conflict").wait_for(state="visible")
    click(page, "confirm-gpc", DIALOG)
    page.wait_for_function("(window.cmpDemoRan || []).includes('advertising')")
    wait_saved(page, 2)
    open_demo(page, demo)  # the next page view decides from the cookie alone
    visitor_id = page.evaluate("window.cmp.visitorId")
    answer = json.loads(page.evaluate(f"fetch('/api/v1/sites/demo/decisions/{visitor_id}').then(r => r.text())"))
    assert answer["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    assert page.evaluate("window.cmp.granted('advertising')") is True
    context.close()


def test_nai_optout_then_visit_denies_personalised_ads(page, demo):
    page.goto(demo + "/nai/optout")
    assert any(c["name"] == "cmp_nai_optout" for c in page.context.cookies())
    open_demo(page, demo)
    click(page, "accept")
    wait_saved(page, 1)
    page.wait_for_function("""window.dataLayer.some(e => e && e[0] === 'consent' && e[1] === 'update'
        && e[2].ad_storage === 'granted' && e[2].ad_personalization === 'denied')""")
    visitor_id = page.evaluate("window.cmp.visitorId")
    answer = json.loads(page.evaluate(f"fetch('/api/v1/sites/demo/decisions/{visitor_id}').then(r => r.text())"))
    assert answer["ad_personalization"] == {"granted": False, "reason": "nai_optout"}
    assert answer["decisions"]["advertising"]["granted"] is True


def test_tags_added_later_are_gated_too(page, demo):
    open_demo(page, demo)
    page.evaluate("""() => { for (const [purpose, flag] of [['analytics', 'lateTag'], ['security', 'lateEssential']]) {
        const s = document.createElement('script'); s.type = 'text/plain';
        s.setAttribute('data-cmp-purpose', purpose); s.text = `window.${flag} = true;`;
        document.body.appendChild(s); } }""")
    # The essential tag added after it runs at once: the banner has seen both by then.
    page.wait_for_function("window.lateEssential === true")
    assert page.evaluate("window.lateTag") is None
    click(page, "accept")
    page.wait_for_function("window.lateTag === true")


def test_iframe_placeholder_allows_its_purpose(page, demo):
    open_demo(page, demo)
    click(page, "reject")
    holder = page.locator("iframe[title='Example advertisement']").locator("xpath=preceding-sibling::div[1]")
    holder.locator("button").click()
    page.wait_for_function("(window.cmpDemoRan || []).includes('advertising')")
    # The iframe comes after the advertising script in the page: it is
    # activated once that script has loaded (document order), so wait for it.
    page.wait_for_function("document.querySelector(\"iframe[title='Example advertisement']\").getAttribute('src')")
    assert page.locator("iframe[title='Example advertisement']").get_attribute("src").endswith("ad-frame.html")
    assert holder.count() == 0  # the placeholder is gone


def test_site_texts_are_inserted_as_text(page, demo):
    from consent.models import Site

    site = Site.objects.get(key="demo")
    site.banner_texts = {"en": {"title": "<img src=x onerror=window.pwned=1>Hi", "description": "<b>bold</b>"}}
    site.save()
    open_demo(page, demo)
    title = page.locator(f"{BANNER} >> h2").inner_text()
    assert title == "<img src=x onerror=window.pwned=1>Hi"
    assert page.evaluate("window.pwned") is None


def test_french_page_gets_french_banner(page, demo):
    page.route("**/demo/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=f'<!doctype html><html lang="fr"><head><script src="{demo}/c/demo.js"></script></head><body><p>Bonjour</p></body></html>'))
    open_demo(page, demo)
    assert page.locator(f"{BANNER} >> button").first.inner_text() == "Tout accepter"


def test_works_under_a_strict_content_security_policy(page, demo):
    strict = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-src 'self'"
    page.add_init_script("window.cspViolations = []; document.addEventListener('securitypolicyviolation', e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")
    page.route("**/strict/", lambda route: route.fulfill(
        status=200, content_type="text/html", headers={"Content-Security-Policy": strict},
        body='<!doctype html><html lang="en"><head><script src="/c/demo.js"></script></head><body><main>'
             '<script type="text/plain" data-cmp-purpose="analytics" src="/static/demo/tag-recognition.js"></script>'
             '</main></body></html>'))
    track_writes(page)
    page.goto(demo + "/strict/")
    # (Playwright's wait_for_function evaluates strings, which this CSP forbids: poll instead.)
    poll(page, "!!(window.cmp && window.cmp.ready)")
    page.evaluate("window.cmp.ready")
    banner = page.locator(BANNER)
    banner.wait_for(state="visible")
    # Styled by its own stylesheet (no inline style needed): the buttons are blue.
    colour = banner.locator("button").first.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour == "rgb(31, 63, 153)"
    click(page, "accept")
    poll(page, "(window.cmpDemoRan || []).length >= 1")
    wait_saved(page, 1)
    # The preferences come from the platform's later file: the same origin, so the same allowance.
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert page.evaluate("window.cspViolations") == []


def poll(page, expression):
    wait_until(lambda: page.evaluate(expression), what=expression)


def test_first_party_nai_control_turns_off_personalised_ads(page, demo):
    open_demo(page, demo)
    click(page, "customize")
    for key in ("analytics", "advertising", "recognition"):
        page.locator(f"{DIALOG} >> #cmp-p-{key}").check()
    page.locator(f"{DIALOG} >> #cmp-nai").check()
    click(page, "save", DIALOG)
    wait_saved(page, 1)
    event = ConsentEvent.objects.get()
    assert event.signals["nai_optout"] is True
    assert event.decisions["advertising"]["granted"] is True
    page.wait_for_function("""window.dataLayer.some(e => e && e[0] === 'consent' && e[1] === 'update'
        && e[2].ad_storage === 'granted' && e[2].ad_personalization === 'denied')""")
    open_demo(page, demo)  # remembered in the first-party cookie
    assert page.evaluate("window.dataLayer.filter(e => e && e[1] === 'update').pop()[2].ad_personalization") == "denied"


def test_download_my_consent_receipt(page, demo, tmp_path):
    open_demo(page, demo)
    click(page, "accept")
    wait_saved(page, 1)
    page.evaluate("window.cmp.open()")
    with page.expect_download() as info:
        page.locator(f"{DIALOG} >> button[data-action='receipt']").click()
    path = tmp_path / "receipt.json"
    info.value.save_as(path)
    from audit import receipts

    receipt = receipts.verify(path.read_text())  # signed by the platform
    assert receipts.matches_log(receipt)[0]  # and it is the event in the audit log
    assert receipt["piiPrincipalId"] == page.evaluate("window.cmp.visitorId")

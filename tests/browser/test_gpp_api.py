"""The IAB GPP page API, window.__gpp, on the demo page in real headless Chromium, called the way Prebid.js's
GPP module calls it (``consentManagementGpp``: a ping, then ``addEventListener`` until an event with
``signalStatus: 'ready'``, then ``pingData.gppString`` and ``pingData.applicableSections``).

The region comes in the CDN's headers (``CF-IPCountry`` and ``CF-Region-Code``, the defaults of
``CMP_COUNTRY_HEADER`` and ``CMP_REGION_HEADER``), which Playwright sends with every request.
Outside the US there is no ``window.__gpp`` at all, and the GPP file is never requested.
"""
import base64
import hashlib

import pytest

from banner.embed import RUNTIME_VERSION
from consent.models import Site
from tests.support import ROOT
from tests.support.banner import MARK_STYLED

from .test_banner_accessibility import EVERY_SHEET_HANDLED, axe_violations

pytestmark = pytest.mark.browser
CALIFORNIA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
BANNER = "#cmp-root >> section.banner"
DIALOG = "#cmp-root >> dialog.prefs"
GPP_FILE = f"/c/v/{RUNTIME_VERSION}/gpp.min.js"

# Calls made the moment the stub appears, before the runtime has even run: Prebid.js may come first.
EARLY_CALLS = """(() => {
  window.gppEarly = { events: [] };
  Object.defineProperty(window, "__gpp", { configurable: true, set(stub) {
    Object.defineProperty(window, "__gpp", { value: stub, writable: true, configurable: true });
    stub("ping", data => { window.gppEarly.ping = data; });
    stub("addEventListener", event => window.gppEarly.events.push(
      [event.eventName, event.data, event.pingData.signalStatus, event.pingData.gppString]));
    stub("getField", (data, success) => { window.gppEarly.field = [data, success]; }, "usca.SaleOptOut");
  } });
})()"""

# What Prebid.js's GPP 1.1 client does: ping; if not ready, listen for sectionChange or signalStatus
# events whose pingData says ready; then take the string and the applicable sections from pingData.
PREBID = """() => new Promise((resolve, reject) => {
  const use = ping => resolve({ gppString: ping.gppString, applicableSections: ping.applicableSections,
                                usnat: ping.parsedSections.usnat, cmpStatus: ping.cmpStatus });
  window.__gpp("ping", ping => {
    if (ping.gppVersion !== "1.1") return reject(new Error("not GPP 1.1: " + ping.gppVersion));
    if (ping.signalStatus === "ready") return use(ping);
    window.__gpp("addEventListener", (event, success) => {
      if (success === false || event.pingData.cmpStatus === "error") return reject(new Error("CMP error"));
      if (["sectionChange", "signalStatus"].includes(event.eventName) && event.pingData.signalStatus === "ready")
        use(event.pingData);
    });
  });
})"""

# The API answers ping at once (the callback runs before __gpp returns).
DISPLAY = "status => { let now; window.__gpp('ping', p => { now = p.cmpDisplayStatus; }); return now === status; }"

CALL = """([command, parameter]) => new Promise(resolve =>
  window.__gpp(command, (data, success) => resolve([data, success]), parameter))"""


def open_demo(page, url):
    page.goto(url + "/demo/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")


def requested(page):
    page.gpp_requests = []
    page.on("request", lambda r: page.gpp_requests.append(r.url))


def server_string(page):
    """The GPP string the lookup API gives for the banner's visitor: the platform's, not the page's."""
    return page.evaluate("""() => fetch('/api/v1/sites/demo/decisions/' + window.cmp.visitorId)
        .then(r => r.json()).then(a => a.gpp)""")


@pytest.fixture
def california(browser):
    context = browser.new_context(extra_http_headers=CALIFORNIA)
    page = context.new_page()
    requested(page)
    yield page
    context.close()


def test_prebid_reads_the_servers_string_and_calls_made_before_the_banner_loaded_are_answered(california, demo):
    page = california
    page.add_init_script(EARLY_CALLS)
    open_demo(page, demo)
    consent = page.evaluate(PREBID)
    expected = server_string(page)
    assert consent["gppString"] == expected["string"]
    assert consent["applicableSections"] == expected["applicable_sections"] == [7, 8]  # usnat and usca
    assert consent["cmpStatus"] == "loaded"
    assert consent["usnat"]["SaleOptOut"] == 2  # California is opt-out: not opted out before a choice
    assert any(url.endswith(GPP_FILE) for url in page.gpp_requests)
    # The calls made on the stub: ping answered at once by the stub, the rest once the string came.
    page.wait_for_function("window.gppEarly.field !== undefined")
    early = page.evaluate("window.gppEarly")
    assert early["ping"]["cmpStatus"] == "stub" and early["ping"]["signalStatus"] == "not ready"
    assert early["field"] == [2, True]
    assert early["events"][0][:3] == ["listenerRegistered", True, "not ready"]
    page.wait_for_function("window.gppEarly.events.some(e => e[0] === 'signalStatus' && e[1] === 'ready')")
    events = page.evaluate("window.gppEarly.events")
    assert ["cmpStatus", "loaded"] in [e[:2] for e in events]
    assert events[-1] == ["signalStatus", "ready", "ready", expected["string"]]
    # getSection and getField read the same string (their decoder is checked against the IAB's library:
    # tests/unit/test_gpp_page_api.py).
    section, ok = page.evaluate(CALL, ["getSection", "usca"])
    assert ok and section["SaleOptOut"] == 2 and section["Gpc"] is False
    assert page.evaluate(CALL, ["hasSection", "usva"]) == [False, True]


def test_a_choice_in_the_banner_fires_section_change_and_signal_status_with_the_new_string(california, demo):
    page = california
    open_demo(page, demo)
    before = page.evaluate(PREBID)["gppString"]
    # Heard in Python: refusing what already ran (the opt-out regime ran the tags) reloads the page after the
    # server has the choice, and the events come before that.
    events = []
    page.expose_function("gppEvent", lambda name, data, string: events.append([name, data, string]))
    page.evaluate("() => window.__gpp('addEventListener', e => window.gppEvent(e.eventName, e.data, e.pingData.gppString))")
    with page.expect_navigation():
        page.locator(f"{BANNER} >> button[data-action='do-not-sell']").click()
    names = [e[:2] for e in events]
    # The spec's order: not ready first, a sectionChange per changed section, ready last.
    assert names.index(["signalStatus", "not ready"]) < names.index(["sectionChange", "usnat"]) < names.index(
        ["signalStatus", "ready"])
    assert ["sectionChange", "usca"] in names
    after = events[names.index(["signalStatus", "ready"])][2]
    page.wait_for_function("window.cmp && window.cmp.ready")
    assert after != before and after == server_string(page)["string"]  # the server's string for the choice
    # The page after the reload, and Prebid's next auction, read the new string.
    assert page.evaluate(PREBID)["gppString"] == after
    assert page.evaluate(CALL, ["getField", "usnat.SaleOptOut"]) == [1, True]  # opted out
    assert page.evaluate(CALL, ["getField", "usca.SharingOptOut"]) == [1, True]


def test_display_status_follows_the_banner_and_the_preferences(california, demo):
    page = california
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.wait_for_function(DISPLAY, arg="visible")
    page.locator(f"{BANNER} >> button[data-action='customize']").click()
    page.locator(DIALOG).wait_for(state="visible")
    page.wait_for_function(DISPLAY, arg="visible")  # the bar steps aside, the preferences show
    page.locator(f"{DIALOG} >> button[data-action='save']").click()
    page.wait_for_function(DISPLAY, arg="hidden")


def test_calls_from_another_frame_find_the_locator_and_get_answers(california, demo):
    page = california
    open_demo(page, demo)
    page.evaluate(PREBID)
    page.evaluate("""() => {
      const frame = document.createElement('iframe');
      frame.srcdoc = `<script>
        let f = window; while (f !== top && !f.frames.__gppLocator) f = f.parent;
        addEventListener('message', e => { if (e.data.__gppReturn) parent.gppFromFrame = e.data.__gppReturn; });
        f.postMessage({__gppCall: {command: 'ping', callId: 'frame-1', version: '1.1'}}, '*');
      <\\/script>`;
      document.body.appendChild(frame);
    }""")
    page.wait_for_function("window.gppFromFrame")
    answer = page.evaluate("window.gppFromFrame")
    assert answer["callId"] == "frame-1" and answer["success"] is True
    assert answer["returnValue"]["signalStatus"] == "ready" and answer["returnValue"]["applicableSections"] == [7, 8]


def test_the_privacy_choices_link_shows_in_california_with_its_icon_and_opens_the_preferences(california, demo):
    page = california
    open_demo(page, demo)
    link = page.locator(f"{BANNER} >> button[data-action='choices']")
    link.wait_for(state="visible")
    assert link.inner_text().strip() == "Your Privacy Choices"
    assert link.locator("svg path").count() == 4  # the opt-out toggle, drawn inline (no image request)
    # The demo site declares no sensitive data: nothing to limit, no second link.
    assert page.locator(f"{BANNER} >> button[data-action='limit']").count() == 0
    link.click()
    page.locator(DIALOG).wait_for(state="visible")


def test_axe_finds_no_violations_on_the_californian_banner_and_its_preferences(california, demo, axe):
    page = california
    site = Site.objects.get(key="demo")
    site.uses_sensitive_data = True  # California's right to limit it: the banner's second link
    site.save()
    page.add_init_script(MARK_STYLED)
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.wait_for_function(EVERY_SHEET_HANDLED)
    assert axe_violations(page, axe) == []
    page.locator(f"{BANNER} >> button[data-action='limit']").click()
    page.locator(DIALOG).wait_for(state="visible")
    assert page.locator(f"{DIALOG} >> p.limit").is_visible()  # what to do to limit the use of sensitive data
    assert axe_violations(page, axe) == []


def test_the_pinned_runtime_loads_the_pinned_gpp_file_and_installs_the_api_itself(california, demo):
    """A page embedding the versioned runtime with SRI has no stub in front of it: the GPP file installs
    the API once the config has come (the README says to use the site script with Prebid.js)."""
    page = california
    runtime = (ROOT / "banner_static" / "dist" / "cmp.min.js").read_bytes()
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(runtime).digest()).decode()
    html = (f'<!doctype html><html lang="en"><head><script src="/c/v/{RUNTIME_VERSION}/cmp.min.js" data-site="demo" '
            f'integrity="{integrity}" crossorigin="anonymous"></script></head><body><p>Pinned</p></body></html>')
    page.route("**/pinned.html", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(demo + "/pinned.html")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.wait_for_function("typeof window.__gpp === 'function'")
    consent = page.evaluate(PREBID)
    assert consent["gppString"] == server_string(page)["string"] and consent["applicableSections"] == [7, 8]
    assert sum(url.endswith(GPP_FILE) for url in page.gpp_requests) == 1


def test_outside_the_us_there_is_no_gpp_api_no_gpp_file_and_no_privacy_choices_link(browser, demo):
    context = browser.new_context(extra_http_headers={"CF-IPCountry": "FR"})
    page = context.new_page()
    requested(page)
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    # The runtime decides whether to load the GPP file as it starts, before cmp.ready: nothing later asks.
    assert not any("gpp" in url for url in page.gpp_requests)
    assert page.evaluate("typeof window.__gpp") == "undefined"
    assert page.locator(f"{BANNER} >> button[data-action='choices']").count() == 0
    assert page.locator(f"{BANNER} >> button[data-action='limit']").count() == 0
    context.close()


def test_a_gpp_file_whose_bytes_differ_from_the_pinned_hash_is_refused(california, demo):
    page = california
    served = (ROOT / "banner_static" / "dist" / "gpp.min.js").read_bytes()
    pinned = "sha256-" + base64.b64encode(hashlib.sha256(served).digest()).decode()
    assert pinned in (ROOT / "banner_static" / "dist" / "cmp.min.js").read_text()
    page.route(f"**{GPP_FILE}", lambda route: route.fulfill(
        status=200, content_type="text/javascript", headers={"Access-Control-Allow-Origin": "*"},
        body=served.replace(b'"1.1"', b'"6.6"')))
    with page.expect_console_message(lambda m: "integrity" in m.text) as refused:
        open_demo(page, demo)
    assert GPP_FILE in refused.value.text or "gpp.min.js" in refused.value.text
    # The stub is still the API: the changed file never ran.
    assert page.evaluate("Array.isArray(window.__gpp.q)") is True
    assert page.evaluate("new Promise(r => window.__gpp('ping', p => r(p.cmpStatus)))") == "stub"

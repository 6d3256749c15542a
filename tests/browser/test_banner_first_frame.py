"""The banner's first frame: one request, no fade, no shift, and the stored choice in force before the page's next script."""
import pytest

from consent.models import ConsentEvent

from .test_banner import BANNER, click, open_demo, wait_saved

pytestmark = pytest.mark.browser
# Records, from the first frame on, the frame in which the banner first shows and its opacity then.
FIRST_FRAME = """
window.cls = 0;
new PerformanceObserver(l => l.getEntries().forEach(e => { window.cls += e.value; })).observe({type: 'layout-shift', buffered: true});
(function watch() {
  const root = document.querySelector('#cmp-root');
  const banner = root && root.shadowRoot && root.shadowRoot.querySelector('.banner');
  if (banner && banner.offsetHeight > 0) {
    window.firstFrame = {opacity: getComputedStyle(banner).opacity, animations: banner.getAnimations().length,
                         visibility: getComputedStyle(banner).visibility, resources: performance.getEntriesByType('resource').map(r => new URL(r.name).pathname)};
  } else requestAnimationFrame(watch);
})();
"""
# A page whose script right after the banner's reports what it finds in force.
NEXT_SCRIPT = """<!doctype html><html lang="en"><head><script src="/c/demo.js"></script>
<script>window.seen = {decisions: window.cmp.decisions(), analytics: window.cmp.granted('analytics'),
  update: (window.dataLayer || []).filter(e => e[0] === 'consent' && e[1] === 'update').map(e => e[2].analytics_storage)};</script>
</head><body><p>Next script</p><script type="text/plain" data-cmp-purpose="analytics">window.tagRan = true;</script></body></html>"""


def platform_requests(page, demo):
    seen = []
    page.on("request", lambda r: r.url.startswith(demo) and seen.append(r.url[len(demo):]))
    return seen


def test_one_request_before_the_banner_shows_and_it_shows_opaque(page, demo):
    page.add_init_script(FIRST_FRAME)
    requests = platform_requests(page, demo)
    open_demo(page, demo)
    page.wait_for_function("window.firstFrame")
    first = page.evaluate("window.firstFrame")
    # The banner's own requests before it showed: the site script alone (the page's own CSS and images aside).
    assert [r for r in first["resources"] if r.startswith(("/c/", "/api/"))] == ["/c/demo.js"]
    assert (first["opacity"], first["visibility"], first["animations"]) == ("1", "visible", 0)  # no fade
    page.wait_for_load_state("networkidle")
    # Neither the config nor the stylesheet is ever fetched: both came inside the site script.
    assert not [r for r in requests if r.startswith(("/api/v1/sites/demo/config", "/c/cmp.css"))], requests
    assert page.evaluate("window.cls") == 0


def test_a_stored_choice_is_in_force_before_the_pages_next_script(page, demo):
    for action, granted in (("accept", True), ("reject", False)):
        page.context.clear_cookies()
        open_demo(page, demo)
        saved = ConsentEvent.objects.count() + 1
        click(page, action)
        wait_saved(page, saved)
        page.route("**/next/", lambda route: route.fulfill(status=200, content_type="text/html", body=NEXT_SCRIPT))
        page.goto(demo + "/next/")
        page.wait_for_function("window.cmp && window.cmp.ready")
        seen = page.evaluate("window.seen")
        assert seen["decisions"]["analytics"] is granted and seen["analytics"] is granted
        assert seen["update"] == ["granted" if granted else "denied"]  # Consent Mode told before any tag
        page.evaluate("window.cmp.ready")
        assert page.evaluate("window.tagRan === true") is granted
        assert page.locator(BANNER).is_hidden()


def test_the_versioned_runtime_still_works_with_config_and_stylesheet_fetched_in_parallel(page, demo):
    from banner.embed import RUNTIME_VERSION

    requests = platform_requests(page, demo)
    page.route("**/pinned/", lambda route: route.fulfill(status=200, content_type="text/html", body=(
        f'<!doctype html><html lang="fr"><head><script src="/c/v/{RUNTIME_VERSION}/cmp.min.js" data-site="demo">'
        '</script></head><body><p>Bonjour</p></body></html>')))
    page.goto(demo + "/pinned/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    banner = page.locator(BANNER)
    banner.wait_for(state="visible")
    assert banner.locator("button").first.inner_text() == "Tout accepter"
    assert banner.locator("button").first.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(31, 63, 153)"
    assert any(r.startswith("/api/v1/sites/demo/config?lang=fr") for r in requests)

"""Keyboard-only use and axe-core on both layers of the banner."""
import re

import pytest

from consent.models import ConsentEvent
from tests.support.banner import MARK_STYLED

from .test_banner import BANNER, DIALOG, open_demo, ran, wait_saved

pytestmark = pytest.mark.browser
FOCUSED = "(() => { const r = document.querySelector('#cmp-root'); const a = document.activeElement;" \
          " return a === r ? (r.shadowRoot.activeElement || {}).textContent || r.shadowRoot.activeElement.id : a.textContent; })()"


def focused(page):
    return page.evaluate(FOCUSED)


def test_keyboard_only_through_both_layers(page, demo):
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page) == "Reject all"  # within three Tab presses
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    assert ConsentEvent.objects.get().choices == {"analytics": False, "advertising": False, "recognition": False}
    # The footer link reopens the second layer; focus moves into it.
    page.focus("a[data-cmp-open]")
    page.keyboard.press("Enter")
    page.locator(DIALOG).wait_for(state="visible")
    assert focused(page) == "cmp-p-analytics"
    page.keyboard.press("Space")  # allow analytics
    for _ in range(30):  # focus stays trapped in the dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "cmp-root"
        if focused(page) == "Save my choices":
            break
    assert focused(page) == "Save my choices"
    page.keyboard.press("Enter")
    wait_saved(page, 2)
    page.wait_for_function("(window.cmpDemoRan || []).includes('analytics')")
    assert ran(page) == ["analytics"]
    # Escape closes the second layer and gives focus back to the link.
    page.focus("a[data-cmp-open]")
    page.keyboard.press("Enter")
    page.locator(DIALOG).wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator(DIALOG).wait_for(state="hidden")
    assert page.evaluate("document.activeElement.hasAttribute('data-cmp-open')")


def test_focus_is_visible_and_targets_are_large_enough(page, demo):
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.keyboard.press("Tab")
    outline = page.evaluate("""(() => { const b = document.querySelector('#cmp-root').shadowRoot.activeElement;
        return getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth; })()""")
    assert outline.startswith("solid") and outline.endswith("3px")
    # Buttons, on both layers, are at least 44 px high and wide (the README's promise); the other
    # targets (the links and link-styled buttons, the checkboxes and their labels) at least 24 px (WCAG 2.5.8).
    buttons = [b.bounding_box() for b in page.locator(f"{BANNER} >> button").all()]
    assert len(buttons) == 3 and all(box["width"] >= 44 and box["height"] >= 44 for box in buttons), buttons
    link = page.locator(f"{BANNER} >> a.link")
    assert link.count() == 0 or link.bounding_box()["height"] >= 24
    # The page keeps focused elements clear of the banner (WCAG 2.4.11).
    padding = page.evaluate("getComputedStyle(document.documentElement).scrollPaddingBottom")
    assert int(float(padding.rstrip("px"))) >= page.locator(BANNER).bounding_box()["height"] - 1
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    buttons = [b.bounding_box() for b in page.locator(f"{DIALOG} >> button.btn:visible").all()]
    assert buttons and all(box["height"] >= 44 and box["width"] >= 44 for box in buttons), buttons
    for target in ("input[type=checkbox]", "label", ".link"):
        boxes = [b.bounding_box() for b in page.locator(f"{DIALOG} >> {target}:visible").all()]
        assert boxes and all(box["height"] >= 24 and box["width"] >= 24 for box in boxes), (target, boxes)


def test_reflows_at_320_px_and_400_percent_zoom(browser, demo):
    for viewport, scale in (({"width": 320, "height": 640}, 1), ({"width": 1280, "height": 800}, 4)):
        context = browser.new_context(viewport={"width": viewport["width"] // scale, "height": viewport["height"] // scale})
        page = context.new_page()
        open_demo(page, demo)
        page.locator(BANNER).wait_for(state="visible")
        width = page.evaluate("document.documentElement.clientWidth")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width  # no horizontal scrolling
        for box in [b.bounding_box() for b in page.locator(f"{BANNER} >> button").all()]:
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        context.close()


SHIFTS = """window.shifts = []; new PerformanceObserver(l => l.getEntries().forEach(e => {
    if (!e.hadRecentInput) window.shifts.push({value: e.value, at: e.startTime}); })).observe({type: 'layout-shift', buffered: true});"""
EVERY_SHEET_HANDLED = """(() => document.readyState === 'complete' && [...document.querySelectorAll('*')]
    .filter(e => e.shadowRoot).every(e => [...e.shadowRoot.querySelectorAll('link')].every(l => l.dataset.testLoadHandled)))()"""
PROBE = """(() => { window.probeAt = performance.now(); const p = document.createElement('div');
    p.style.height = '120px'; document.body.insertBefore(p, document.body.firstChild); })()"""


def test_no_layout_shift(page, demo):
    page.add_init_script(SHIFTS)
    page.add_init_script(MARK_STYLED)
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    # Everything that could move the page has happened: the page loaded, and the banner and the iframe's
    # placeholder have run their stylesheets' load handlers (which show them).
    page.wait_for_function(EVERY_SHEET_HANDLED)
    assert page.locator("#cmp-root").count() == 1 and page.evaluate("document.querySelectorAll('iframe[hidden]').length") == 1
    # A shift made on purpose now is reported after any shift before it: once it is seen, none is still on its way.
    page.evaluate(PROBE)
    page.wait_for_function("window.shifts.some(s => s.at >= window.probeAt)")
    assert page.evaluate("window.shifts.filter(s => s.at < window.probeAt)") == []


def axe_violations(page, axe):
    page.add_script_tag(content=axe)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]


def test_axe_finds_no_violations_on_either_layer(page, demo, axe):
    page.add_init_script(MARK_STYLED)
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.wait_for_function(EVERY_SHEET_HANDLED)  # the banner and the placeholder styled, the page loaded
    assert axe_violations(page, axe) == []
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"] == []


MOVING = """(() => {
  const root = document.querySelector('#cmp-root').shadowRoot;
  return [...root.querySelectorAll('*')].flatMap(e => {
    const s = getComputedStyle(e);
    const moves = s.transitionDuration.split(',').some(d => parseFloat(d) > 0) || s.animationName !== 'none';
    return moves ? [e.tagName + '.' + e.className + ': ' + s.transitionDuration + ' ' + s.animationName] : [];
  });
})()"""


def test_reduced_motion_leaves_nothing_moving_on_either_layer(browser, demo):
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    assert page.evaluate("matchMedia('(prefers-reduced-motion: reduce)').matches") is True
    assert page.evaluate(MOVING) == []
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert page.evaluate(MOVING) == []
    context.close()


@pytest.mark.parametrize("language, script", [("ar", "[\u0600-\u06FF]"), ("he", "[\u0590-\u05FF]")])
def test_right_to_left_languages_lay_the_banner_out_right_to_left(browser, demo, language, script):
    from consent.models import Site

    site = Site.objects.get(key="demo")
    site.languages = ["en", "fr", language]
    site.save()
    context = browser.new_context(locale=language)
    page = context.new_page()
    page.route("**/demo/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=f'<!doctype html><html lang="{language}" dir="rtl"><head><script src="{demo}/c/demo.js"></script></head>'
             f'<body><main>page</main></body></html>'))
    open_demo(page, demo)
    banner = page.locator(BANNER)
    banner.wait_for(state="visible")
    assert banner.get_attribute("dir") == "rtl" and banner.get_attribute("lang") == language
    accept = banner.locator("button").first.inner_text()
    assert re.search(script, accept) and accept != "Accept all", accept  # in the language's own script
    first, second = [b.bounding_box() for b in banner.locator("button").all()[:2]]
    assert first["x"] > second["x"]  # laid out right to left
    context.close()

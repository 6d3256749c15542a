"""Each site's look: the three layouts and dark mode, from the site's settings through its embed script.

In every theme the three first-layer buttons keep one size and one style
(refusing is as easy as accepting), axe-core finds no violation, and nothing
shifts. UPDATE_SCREENSHOTS=1 writes the README's pictures of each to docs/screenshots/.
"""
import os
from pathlib import Path

import pytest

from consent.models import Site
from tests.support import ROOT

from .test_banner import open_demo
from .test_banner_accessibility import axe_violations

pytestmark = pytest.mark.browser
BANNER = "#cmp-root >> .banner"
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32">'
        '<rect width="32" height="32" rx="6" fill="#005a32"/><text x="40" y="23" font-family="Georgia" '
        'font-size="18" fill="#005a32">Demo</text></svg>')
BRAND = {"theme_accent": "#005a32", "theme_accent_text": "#ffffff", "theme_text": "#14281d",
         "theme_font": 'Georgia, "Times New Roman", serif', "theme_radius": 14,
         "theme_logo_url": "https://shop.example.com/logo.svg"}
THEMES = {
    "bar": ({"theme_position": "bar"}, "light"),
    "box": ({"theme_position": "box", **BRAND}, "light"),
    "modal": ({"theme_position": "modal", **BRAND}, "light"),
    "dark": ({"theme_position": "box", "theme_mode": "auto", **BRAND,
              "theme_dark_accent": "#7ddca6", "theme_dark_accent_text": "#08210f"}, "dark"),
}
SAME_STYLE = ["backgroundColor", "color", "borderTopColor", "borderTopWidth", "borderRadius", "fontWeight",
              "fontSize", "fontFamily", "paddingTop", "paddingLeft"]


def themed(**fields):
    site = Site.objects.get(key="demo")
    for name, value in fields.items():
        setattr(site, name, value)
    site.full_clean()
    site.save()


def show(browser, demo, scheme, viewport=None):
    context = browser.new_context(color_scheme=scheme, viewport=viewport or {"width": 1280, "height": 720})
    page = context.new_page()
    page.route("https://shop.example.com/logo.svg", lambda route: route.fulfill(
        status=200, content_type="image/svg+xml", body=LOGO))
    page.add_init_script("""window.cls = 0; new PerformanceObserver(l => l.getEntries().forEach(e => {
        window.cls += e.value; })).observe({type: 'layout-shift', buffered: true});""")
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    return context, page


def buttons(page):
    return page.locator(f"{BANNER} >> .actions >> button").all()


def assert_buttons_equal(page):
    boxes = [b.bounding_box() for b in buttons(page)]
    assert len(boxes) == 3
    for box in boxes[1:]:
        assert abs(box["width"] - boxes[0]["width"]) < 0.5 and abs(box["height"] - boxes[0]["height"]) < 0.5, boxes
    styles = [b.evaluate(f"b => {{ const s = getComputedStyle(b); return {SAME_STYLE}.map(k => s[k]); }}")
              for b in buttons(page)]
    assert styles[0] == styles[1] == styles[2], styles


@pytest.mark.parametrize("name", THEMES)
def test_each_layout_keeps_three_equal_buttons_passes_axe_and_shifts_nothing(browser, demo, axe, name, tmp_path):
    fields, scheme = THEMES[name]
    themed(**fields)
    context, page = show(browser, demo, scheme)
    banner = page.locator(BANNER)
    assert_buttons_equal(page)
    box = banner.bounding_box()
    width, height = 1280, 720
    if name == "bar":
        assert box["x"] == 0 and box["width"] == width and abs(box["y"] + box["height"] - height) < 1
    elif name == "modal":
        assert abs(box["x"] + box["width"] / 2 - width / 2) < 1 and abs(box["y"] + box["height"] / 2 - height / 2) < 1
        assert page.evaluate("document.querySelector('#cmp-root').shadowRoot.querySelector('dialog.banner').matches(':modal')")
    else:  # the corner box, bottom right
        assert box["width"] <= 380 and abs(box["x"] + box["width"] - (width - 16)) < 1
    if "theme_accent" in fields:
        accent = "rgb(125, 220, 166)" if scheme == "dark" else "rgb(0, 90, 50)"
        assert buttons(page)[0].evaluate("b => getComputedStyle(b).backgroundColor") == accent
        assert "Georgia" in buttons(page)[0].evaluate("b => getComputedStyle(b).fontFamily")
        assert buttons(page)[0].evaluate("b => getComputedStyle(b).borderTopLeftRadius") == "14px"
        logo = banner.locator("img.logo")
        logo.wait_for()
        page.wait_for_function("document.querySelector('#cmp-root').shadowRoot.querySelector('img.logo').complete")
    if scheme == "dark":
        assert banner.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(28, 28, 30)"
    assert axe_violations(page, axe) == []
    assert page.evaluate("window.cls") == 0
    page.screenshot(path=screenshot(f"theme-{name}.png", tmp_path))
    context.close()


@pytest.mark.parametrize("name", ["bar", "modal"])
def test_buttons_stay_equal_on_a_phone_with_long_labels(browser, demo, name):
    themed(**THEMES[name][0], languages=["de", "en"])
    context = browser.new_context(viewport={"width": 375, "height": 700}, locale="de-DE")
    page = context.new_page()
    page.route("**/demo/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=f'<!doctype html><html lang="de"><head><script src="{demo}/c/demo.js"></script></head><body><p>Hallo</p></body></html>'))
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    assert buttons(page)[0].inner_text() == "Alle akzeptieren"
    assert_buttons_equal(page)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    context.close()


def test_the_modal_keeps_focus_and_escape_is_no_answer(browser, demo):
    themed(theme_position="modal")
    context, page = show(browser, demo, "light")
    page.keyboard.press("Escape")
    assert page.locator(BANNER).is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "cmp-root"  # the page behind is inert
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    page.locator(BANNER).wait_for(state="hidden")
    context.close()


def screenshot(name, tmp_path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots" / name
    return tmp_path / name

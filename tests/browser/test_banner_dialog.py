"""The preferences dialog says what "Opt out of interest-based ads" does and links the other opt-outs the
policy promises (issue "first hour", point 8), and lists each purpose's cookies and vendors from the
scanner's inventory, fetched only once the visitor opens it (issue "scanner", point 4)."""
import pytest

from banner.ui_strings import ui_strings
from consent.models import ConsentEvent, Site
from scanner.models import Tracker

from .test_banner import BANNER, DIALOG, click, open_demo, wait_saved
from .test_banner_accessibility import focused

pytestmark = pytest.mark.browser
NAI = "https://optout.networkadvertising.org/"
GA = "https://tools.google.com/dlpage/gaoptout"
IOS = "https://support.apple.com/en-us/102420"
ANDROID = "https://support.google.com/googleplay/android-developer/answer/6048248"
LINKS = """[...document.querySelector('#cmp-root').shadowRoot.querySelectorAll('dialog.prefs ul.other a')]
    .map(a => ({href: a.getAttribute('href'), target: a.target, rel: a.rel, text: a.textContent}))"""
HOSTILE = '<img src=x onerror="window.pwned=1">'


def in_language(page, demo, language):
    """The demo page's banner in ``language``, as a page whose ``<html lang>`` asks for it."""
    site = Site.objects.get(key="demo")
    site.languages = ["en", "fr", "ar"]
    site.save()
    if language != "en":
        page.route("**/demo/", lambda route: route.fulfill(
            status=200, content_type="text/html",
            body=f'<!doctype html><html lang="{language}"><head><title>Shop</title><script src="{demo}/c/demo.js"></script></head>'
                 f'<body><main><a href="#" data-cmp-open>Cookie preferences</a></main></body></html>'))
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_the_dialog_explains_the_ad_opt_out_and_links_the_other_opt_outs(page, demo, axe, language):
    in_language(page, demo, language)
    words, english = ui_strings(language), ui_strings("en")
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    # The sentence sits right after the box and is its accessible description.
    box = page.locator(f"{DIALOG} >> #cmp-nai")
    assert box.get_attribute("aria-describedby") == "cmp-nai-d"
    explained = page.locator(f"{DIALOG} >> label.nai + p#cmp-nai-d")
    assert explained.is_visible() and explained.inner_text() == words["nai_explained"]
    heading = page.locator(f"{DIALOG} >> h3#cmp-other")
    assert heading.inner_text() == words["other_opt_outs"]
    links = page.evaluate(LINKS)
    assert [link["href"] for link in links] == [NAI, GA, IOS, ANDROID]
    assert all(link["target"] == "_blank" and link["rel"] == "noopener noreferrer" for link in links)
    assert [link["text"] for link in links] == [words["opt_out_nai"], words["opt_out_ga"], words["help_ios"], words["help_android"]]
    items = page.locator(f"{DIALOG} >> ul.other > li").all_inner_texts()
    assert len(items) == 3 and items[2].startswith(words["opt_out_phone"])
    if language == "en":
        assert "not personalized" in words["nai_explained"]
    else:  # translated, not English
        assert explained.inner_text() != english["nai_explained"] and links[0]["text"] != english["opt_out_nai"]
        assert heading.inner_text() != english["other_opt_outs"]
    assert page.locator(DIALOG).get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"] == []


def test_the_other_opt_outs_are_reached_and_followed_with_the_keyboard_in_a_new_tab(page, demo):
    in_language(page, demo, "en")
    page.context.route("https://optout.networkadvertising.org/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>NAI opt-out</title>"))
    page.focus("a[data-cmp-open]")
    page.keyboard.press("Enter")
    page.locator(DIALOG).wait_for(state="visible")
    page.locator(f"{DIALOG} >> #cmp-nai").focus()
    reached = []
    for _ in range(4):
        page.keyboard.press("Tab")
        reached.append(focused(page))
    words = ui_strings("en")
    assert reached == [words["opt_out_nai"], words["opt_out_ga"], words["help_ios"], words["help_android"]]
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url == NAI
    assert tab.evaluate("window.opener") is None  # noopener: the page cannot reach back to the site
    assert page.locator(DIALOG).is_visible()  # the dialog stays where it was


def add_inventory():
    site = Site.objects.get(key="demo")

    def add(kind, name, purpose, **fields):
        Tracker.objects.create(site=site, kind=kind, name=name, purpose=purpose, classified_by="owner", **fields)

    add("cookie", "_ga", "analytics", domain=".shop.example", vendor="Google Analytics", lifetime_seconds=2 * 365 * 86400)
    add("request", "stats.example.net", "analytics", domain="stats.example.net", vendor="Example Stats", first_party=False)
    add("cookie", HOSTILE, "advertising", domain="shop.example", vendor="<b>Bold Ads</b>")


def test_the_declaration_is_fetched_only_when_the_dialog_opens_and_listed_under_each_purpose(page, demo, axe):
    add_inventory()
    asked = []
    page.on("request", lambda r: asked.append(r.url))
    with page.expect_response(lambda r: r.url.endswith("/trackers")):  # the banner's last request of a page view
        open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert [url for url in asked if "/declaration" in url] == []  # nothing for page views that never open it
    with page.expect_response(lambda r: "/declaration/dialog" in r.url) as answer:
        page.evaluate("window.cmp.open()")
    assert answer.value.status == 200 and answer.value.url.endswith("/declaration/dialog?lang=en")
    analytics = page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-analytics) details.decl")
    analytics.wait_for()
    assert analytics.locator("summary").inner_text() == "Cookies and vendors (2)"
    assert not analytics.locator("li").first.is_visible()  # collapsed until asked
    analytics.locator("summary").click()
    assert analytics.locator("li").all_inner_texts() == [
        "_ga · Google Analytics · .shop.example · 2 years", "Example Stats: stats.example.net"]
    # Names from the inventory are text: the hostile one is shown as written, and nothing of it runs.
    advertising = page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-advertising) details.decl")
    advertising.locator("summary").click()
    assert advertising.locator("li").all_inner_texts() == [f"{HOSTILE} · <b>Bold Ads</b> · shop.example · session"]
    assert page.evaluate("document.querySelector('#cmp-root').shadowRoot.querySelectorAll('.decl img, .decl b').length") == 0
    assert page.evaluate("window.pwned") is None
    assert page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-recognition) details").count() == 0  # nothing to declare
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"] == []
    # Asked once per page view: opening again neither asks nor lists twice.
    page.keyboard.press("Escape")
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    assert len([url for url in asked if "/declaration" in url]) == 1
    assert page.locator(f"{DIALOG} >> details.decl").count() == 2


def test_the_declaration_in_the_visitors_language(page, demo):
    add_inventory()
    in_language(page, demo, "fr")
    page.evaluate("window.cmp.open()")
    summary = page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-analytics) details.decl summary")
    summary.wait_for()
    assert summary.inner_text() == "Cookies et fournisseurs (2)"


def test_without_the_declaration_the_dialog_works_and_the_next_opening_asks_again(page, demo):
    add_inventory()
    page.route("**/declaration/dialog*", lambda route: route.abort())
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    with page.expect_event("requestfailed", lambda r: "/declaration/dialog" in r.url):
        click(page, "customize")
    page.locator(DIALOG).wait_for(state="visible")
    page.locator(f"{DIALOG} >> #cmp-p-analytics").check()
    click(page, "save", DIALOG)
    wait_saved(page, 1)
    assert ConsentEvent.objects.get().choices == {"analytics": True, "advertising": False, "recognition": False}
    assert page.locator(f"{DIALOG} >> details").count() == 0
    page.unroute("**/declaration/dialog*")
    page.evaluate("window.cmp.open()")
    page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-analytics) details.decl").wait_for()


def test_the_declaration_reaches_a_page_on_another_origin_of_the_site(page, demo):
    """Across origins, as on a customer's site: the answer carries CORS for the site's origin."""
    add_inventory()
    page.context.grant_permissions(["local-network-access"])  # the platform stands for a public one
    shop = demo.replace("localhost", "127.0.0.1")
    assert shop != demo, "the page must be on another origin than the platform"
    site = Site.objects.get(key="demo")
    site.allowed_origins = [*site.allowed_origins, shop]
    site.save()
    page.route(f"{shop}/shop/", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=f'<!doctype html><html lang="en"><head><title>Shop</title><script src="{demo}/c/demo.js"></script></head>'
             f'<body><main>Shop</main></body></html>'))
    page.goto(f"{shop}/shop/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    with page.expect_response(lambda r: "/declaration/dialog" in r.url) as answer:
        page.evaluate("window.cmp.open()")
    assert answer.value.headers["access-control-allow-origin"] == shop
    page.locator(f"{DIALOG} >> .purpose:has(#cmp-p-analytics) details.decl").wait_for()

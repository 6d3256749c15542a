"""The banner as a visitor uses it (issue 15, point 8): the conflict dialog shows the choices just made,
one change event per change and a saved event once the server has the choice, the receipt offered only
after a choice, and the dialog's answers in view on a phone."""
import json

import pytest

from consent.models import ConsentEvent

from .test_banner import BANNER, DIALOG, GPC, click, open_demo, signalling_page, wait_saved

pytestmark = pytest.mark.browser


def boxes(page):
    return {key: page.locator(f"{DIALOG} >> #cmp-p-{key}").is_checked() for key in ("analytics", "advertising", "recognition")}


def test_with_gpc_accept_all_asks_about_sale_and_sharing_with_the_other_choices_kept(browser, demo):
    context, page = signalling_page(browser, GPC)
    open_demo(page, demo)
    click(page, "accept")
    page.locator(f"{DIALOG} >> .conflict").wait_for(state="visible")
    # Advertising and recognition are "sale or sharing" (GPC denies them unless confirmed): held back, analytics kept.
    assert boxes(page) == {"analytics": True, "advertising": False, "recognition": False}
    wait_saved(page, 1)
    click(page, "save", DIALOG)  # keeping them off: nothing else is taken back
    wait_saved(page, 2)
    assert ConsentEvent.objects.latest("id").choices == {"analytics": True, "advertising": False, "recognition": False}
    context.close()


def test_change_fires_once_per_change_and_saved_once_the_server_has_it(page, demo):
    open_demo(page, demo)
    # The two ways to hear "saved" (README, page API): cmp.on('saved') and the cmp:saved DOM event.
    page.evaluate("""window.changes = []; window.answers = []; window.saved = [];
        cmp.on('change', d => changes.push(d.decisions.analytics));
        cmp.on('saved', d => saved.push(d.decisions.analytics));
        document.addEventListener('cmp:saved', e => fetch('/api/v1/sites/demo/decisions/' + cmp.visitorId)
            .then(r => r.json()).then(a => answers.push(a.decisions.analytics.granted)));""")
    click(page, "reject")
    page.wait_for_function("window.answers.length === 1")
    assert page.evaluate("window.answers") == [False]  # asked in the saved handler: the server has the choice
    assert page.evaluate("window.changes") == [False]  # once, though the server then confirmed the banner's decision
    assert page.evaluate("window.saved") == [False]
    page.evaluate("window.cmp.open()")
    click(page, "accept", DIALOG)
    page.wait_for_function("window.answers.length === 2")
    assert page.evaluate("window.answers") == [False, True]
    assert page.evaluate("window.changes") == [False, True]
    assert page.evaluate("window.saved") == [False, True]


def test_an_essential_purpose_says_always_on_once(page, demo):
    from consent.models import Purpose

    open_demo(page, demo)
    page.evaluate("window.cmp.open()")
    essential = list(Purpose.objects.filter(site__key="demo", essential=True).values_list("key", flat=True))
    assert essential, "the demo site should have essential purposes for this test to mean anything"
    for key in essential:
        label = page.locator(f"{DIALOG} >> label[for='cmp-p-{key}']").inner_text()
        assert label.count("Always on") == 1, label
        assert page.locator(f"{DIALOG} >> #cmp-p-{key}-d").inner_text().count("Always on") == 0


def test_the_receipt_is_offered_only_once_there_is_a_choice(page, demo):
    open_demo(page, demo)
    receipt = page.locator(f"{DIALOG} >> button[data-action='receipt']")
    page.evaluate("window.cmp.open()")
    assert receipt.is_hidden()
    click(page, "reject", DIALOG)
    wait_saved(page, 1)
    page.evaluate("window.cmp.open()")
    assert receipt.is_visible()
    open_demo(page, demo)  # the next page view, from the cookie
    page.evaluate("window.cmp.open()")
    assert receipt.is_visible()


def test_the_dialogs_answers_stay_in_view_on_a_phone(browser, demo):
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    open_demo(page, demo)
    page.evaluate("window.cmp.open()")
    page.locator(DIALOG).wait_for(state="visible")
    for action in ("reject", "accept", "save"):
        box = page.locator(f"{DIALOG} >> button[data-action='{action}']").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 667, (action, box)
    assert json.loads(page.evaluate("JSON.stringify(document.querySelector('#cmp-root').shadowRoot.querySelector('dialog.prefs').scrollHeight > 667)")) is True, "the dialog should need scrolling for this test to mean anything"
    context.close()


@pytest.mark.parametrize("sells_or_shares, opt_out", [
    (True, "Do not sell or share my personal information"),
    (False, "Opt out of targeted advertising"),  # the words of a site that neither sells nor shares
])
def test_opt_out_regime_runs_tags_until_refused(browser, demo, sells_or_shares, opt_out):
    from consent.models import Site

    site = Site.objects.get(key="demo")
    site.sells_or_shares = sells_or_shares
    site.save()
    context = browser.new_context(extra_http_headers={"CF-IPCountry": "US"})
    page = context.new_page()
    open_demo(page, demo)
    page.wait_for_function("(window.cmpDemoRan || []).length >= 3")
    banner = page.locator(BANNER)
    assert opt_out in banner.locator("button").all_inner_texts()
    assert ("selling" in banner.inner_text()) is sells_or_shares
    click(page, "do-not-sell")
    wait_saved(page, 1)
    assert ConsentEvent.objects.get().choices == {"analytics": True, "advertising": False, "recognition": False}
    context.close()


def test_a_choice_the_server_no_longer_holds_is_asked_again_after_a_daily_check(page, demo):
    from audit.purge import erase_visitor
    from consent.models import Site

    open_demo(page, demo)
    click(page, "accept")
    wait_saved(page, 1)
    page.wait_for_function("localStorage.getItem('cmp_demo_checked') !== null")  # confirmed today
    lookups = []
    page.on("request", lambda r: "/decisions/" in r.url and lookups.append(r.url))
    open_demo(page, demo)
    page.wait_for_load_state("networkidle")
    assert lookups == []  # an ordinary page view asks the server nothing
    visitor = page.evaluate("window.cmp.visitorId")
    erase_visitor(Site.objects.get(key="demo"), visitor, "test")
    page.evaluate("localStorage.setItem('cmp_demo_checked', Math.floor(Date.now() / 86400000) - 1)")  # last checked yesterday
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")  # asked again
    assert len(lookups) == 1 and visitor in lookups[0]
    assert page.evaluate("window.cmp.granted('analytics')") is False
    assert page.evaluate("window.cmp.visitorId") != visitor
    assert not [c for c in page.context.cookies() if c["name"] == "cmp_demo"]
    open_demo(page, demo)
    page.locator(BANNER).wait_for(state="visible")
    assert page.evaluate("window.cmpDemoRan || []") == []  # nothing runs on the forgotten choice


def test_the_bar_steps_aside_while_the_dialog_asks_and_returns_without_a_choice(page, demo):
    open_demo(page, demo)
    banner = page.locator(BANNER)
    banner.wait_for(state="visible")
    click(page, "customize")
    page.locator(DIALOG).wait_for(state="visible")
    assert banner.is_hidden()  # nothing undimmed above the dialog's backdrop
    page.keyboard.press("Escape")
    page.locator(DIALOG).wait_for(state="hidden")
    banner.wait_for(state="visible")  # no choice made: asked again
    assert page.evaluate("document.querySelector('#cmp-root').shadowRoot.activeElement.dataset.action") == "customize"
    click(page, "customize")
    click(page, "reject", DIALOG)
    page.locator(DIALOG).wait_for(state="hidden")
    assert banner.is_hidden()

"""The data subject request form, keyboard-only, through axe-core, and right to left."""
import re
import uuid

import pytest
from django.conf import settings
from django.core import mail

from consent.models import Site
from privacy_requests.models import DataSubjectRequest

pytestmark = pytest.mark.browser


def test_request_form_keyboard_only(page, demo):
    page.goto(demo + "/privacy/requests/demo/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "kind"
    page.keyboard.press("ArrowDown")  # radio group: the arrow moves to "delete"
    assert page.evaluate("document.querySelector('input[name=kind]:checked').value") == "delete"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_email"
    page.keyboard.type("someone@example.org")
    while page.evaluate("document.activeElement.type") != "submit":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Check your email")
    request = DataSubjectRequest.objects.get()
    assert (request.kind, request.email) == ("delete", "someone@example.org")
    assert re.search(r"/privacy/requests/verify/", mail.outbox[0].body)


def test_errors_are_announced_and_linked(page, demo):
    page.goto(demo + "/privacy/requests/demo/")
    page.fill("#id_email", "not-an-email")
    page.click("button[type=submit]")
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    # Focus moves to the summary once the page's script has run: wait for it (fails after the timeout if never).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'", timeout=10000)
    assert page.locator("#id_email").get_attribute("aria-invalid") == "true"


def test_banner_link_carries_the_browser_in_the_fragment(page, demo):
    page.goto(demo + "/demo/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.locator("#cmp-root >> section.banner >> button[data-action='reject']").click()
    visitor = page.evaluate("window.cmp.visitorId")
    page.evaluate("window.cmp.open()")
    link = page.locator("#cmp-root >> a[data-action='rights']")
    link.click()
    page.wait_for_url(re.compile(r"/privacy/requests/demo/"))
    assert page.locator("#browser-note").is_visible()
    assert page.input_value("#id_visitor_id") == visitor
    assert "#" not in page.url  # the token left the address bar


def speak_every_language():
    """Let the demo site list every language the platform has texts in (it lists English and French)."""
    Site.objects.filter(key="demo").update(languages=[code.split("-")[0] for code, _ in settings.LANGUAGES])


# One language per script and direction (every language's texts are checked in tests/api/test_request_languages.py).
@pytest.mark.parametrize("lang", ["en", "fr", "ja", "zh", "ar", "he"])
def test_axe_finds_no_violations_on_the_form(browser, demo, axe, lang):
    speak_every_language()
    # The form's strict CSP (script-src 'self') would block injecting axe.
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(demo + f"/privacy/requests/demo/?lang={lang}")
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document).then(r => r.violations.map(v => v.id))") == []
    page.fill("#id_email", "bad")
    page.click("button[type=submit]")
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document).then(r => r.violations.map(v => v.id))") == []


@pytest.mark.parametrize("lang, direction", [("ar", "rtl"), ("he", "rtl"), ("en", "ltr")])
def test_the_form_reads_right_to_left_in_arabic_and_hebrew(page, demo, lang, direction):
    speak_every_language()
    # Coming from the banner shows the note about the browser's data, with its bar on the starting side.
    page.goto(demo + f"/privacy/requests/demo/?lang={lang}#visitor={uuid.uuid4()}&token={'t' * 43}")
    assert page.evaluate("getComputedStyle(document.body).direction") == direction
    radio, label = (page.locator(selector).first.bounding_box() for selector in ("input[name=kind]", ".choice label"))
    assert (radio["x"] > label["x"]) == (direction == "rtl")  # each radio button before its label, in reading order
    bar = page.evaluate("(s => [s.borderRightWidth, s.borderLeftWidth])(getComputedStyle(document.getElementById('browser-note')))")
    assert bar == (["4px", "0px"] if direction == "rtl" else ["0px", "4px"])

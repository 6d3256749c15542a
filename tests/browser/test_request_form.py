"""The data subject request form, keyboard-only and through axe-core."""
import re

import pytest
from django.core import mail

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
    assert page.evaluate("document.activeElement.id") == "error-summary"  # focus moves to the summary
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


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_axe_finds_no_violations_on_the_form(browser, demo, axe, lang):
    # The form's strict CSP (script-src 'self') would block injecting axe.
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(demo + f"/privacy/requests/demo/?lang={lang}")
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document).then(r => r.violations.map(v => v.id))") == []
    page.fill("#id_email", "bad")
    page.click("button[type=submit]")
    page.add_script_tag(content=axe)
    assert page.evaluate("axe.run(document).then(r => r.violations.map(v => v.id))") == []

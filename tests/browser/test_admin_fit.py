"""The admin's busiest lists on a 1366 px laptop screen: no sideways scrolling, and what was chosen at a glance."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from consent import client as client_info
from consent.sites import site_rules
from consent.writes import ConsentWrite, record_consent
from privacy_requests import service
from tests.support import new_visitor

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in(browser, demo):
    User.objects.create_superuser("privacy", password="x")
    client = Client()
    client.force_login(User.objects.get(username="privacy"))
    context = browser.new_context(viewport={"width": 1366, "height": 768}, device_scale_factor=1)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": demo}])
    yield context.new_page(), demo
    context.close()


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_events_list_fits_and_marks_each_purpose_chosen(signed_in):
    page, base = signed_in
    rules = site_rules("demo")
    for choices in ({"analytics": True, "advertising": False, "recognition": False}, None):
        write = ConsentWrite(*new_visitor(), choices=choices, signals={} if choices else {"gpc": True},
                             banner_version="1.1.2")
        record_consent(rules, write, client_info.ClientInfo("FR", "203.0.113.0", "Mozilla/5.0 " + "x" * 400, {}))
    page.goto(base + "/admin/consent/consentevent/")
    marks = page.locator("#result_list td.field-chosen").all_inner_texts()
    assert sorted(marks) == ["Ana✓ Adv✗ Rec✗", "—"]
    assert page.locator("#result_list .cmp-mark").first.get_attribute("title") == "analytics: granted"
    assert fits(page)


def test_request_queue_fits(signed_in):
    page, base = signed_in
    from consent.models import Site

    site = Site.objects.get(key="demo")
    for kind in ("know", "delete", "correct", "opt_out_marketing"):
        service.file_request(site, kind=kind, email=f"a.rather.long.address.{kind}@example.org", agent_name="Agent Smith")
    page.goto(base + "/admin/privacy_requests/datasubjectrequest/")
    assert page.locator("#result_list tbody tr").count() == 4
    assert fits(page)

"""Knowing the banner's visitor id gives a stranger nothing (issue 14, point 1), in real headless Chromium."""
import json
import time

import pytest

from consent.models import ConsentEvent, Site, Visitor, hash_token
from tests.support import http, new_token, write_url

from .test_banner import GPC, signalling_page

pytestmark = pytest.mark.browser
BANNER = "#cmp-root >> section.banner"
ALL = {"analytics": True, "advertising": True, "recognition": True}
NONE = {"analytics": False, "advertising": False, "recognition": False}


def open_demo(page, url):
    page.goto(url + "/demo/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")
    page.evaluate("window.cmpSaved = 0; window.cmp.on('saved', () => { window.cmpSaved += 1; })")


def wait_saved(page, count):
    """Wait until the banner heard the server saved ``count`` choices. The database is read only then: on
    SQLite, a read of the test's own while the live server writes would make that write fail."""
    page.wait_for_function(f"window.cmpSaved >= {count}", timeout=10_000)


def lookup(page, visitor):
    return json.loads(page.evaluate(f"fetch('/api/v1/sites/demo/decisions/{visitor}').then(r => r.text())"))


def base36(n):
    digits = ""
    while n:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
    return digits


def stored_choice(page, visitor):
    """The choice the server holds for ``visitor``, once the banner heard it was saved."""
    wait_saved(page, 1)
    return Visitor.objects.get(uuid=visitor).choices


def test_a_stranger_who_writes_first_for_the_exposed_id_decides_nothing(page, demo):
    open_demo(page, demo)
    exposed = page.evaluate("window.cmp.visitorId")  # what any script or tag on the page can read
    stranger = [http("POST", demo + write_url(), {"visitor_id": exposed, "choices": ALL, "policy_version": "1",
                                                  **extra}) for extra in ({}, {"token": new_token()})]
    assert [(status, body.get("error")) for status, body in stranger] == [(403, "token_required"), (403, "bad_token")]
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    assert stored_choice(page, exposed) == NONE
    answer = lookup(page, page.evaluate("window.cmp.visitorId"))
    assert answer["visitor_id"] == exposed
    assert answer["decisions"]["advertising"] == {"granted": False, "reason": "choice"}


def test_a_choice_refused_for_an_id_taken_by_a_stranger_goes_to_a_new_id(page, demo):
    """An older banner's random id, claimed by a stranger before this release: the choice is not dropped."""
    old_id = "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10"
    Visitor.objects.create(site=Site.objects.get(key="demo"), uuid=old_id, token_hash=hash_token(new_token()),
                           choices=ALL)
    cookie = f"1!{old_id}!{new_token()}!1!{base36(int(time.time()) - 60)}!!!"  # the cookie format of banner 1.2
    page.context.add_cookies([{"name": "cmp_demo", "value": cookie, "url": demo}])
    # Checked with the server today already: the daily re-check would otherwise start a new id at load.
    page.context.add_init_script("localStorage.setItem('cmp_demo_checked', Math.floor(Date.now() / 86400000))")
    open_demo(page, demo)
    assert page.evaluate("window.cmp.visitorId") == old_id
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    page.wait_for_function(f"window.cmp.visitorId !== '{old_id}'")
    renewed = page.evaluate("window.cmp.visitorId")
    assert stored_choice(page, renewed) == NONE
    assert lookup(page, renewed)["decisions"]["advertising"] == {"granted": False, "reason": "choice"}
    assert Visitor.objects.get(uuid=old_id).choices == ALL  # the stranger's record is left as it was
    cookie = next(c for c in page.context.cookies() if c["name"] == "cmp_demo")
    assert cookie["value"].split("!")[1] == renewed


def test_the_banner_confirms_a_grant_over_gpc_only_from_its_conflict_dialog(browser, demo):
    context, page = signalling_page(browser, GPC)
    open_demo(page, demo)
    visitor = page.evaluate("window.cmp.visitorId")
    page.locator(f"{BANNER} >> button[data-action='accept']").click()
    page.locator("#cmp-root >> dialog.prefs >> .conflict").wait_for(state="visible")
    first = events_of(page, visitor, 1)[0]
    assert first.gpc_conflict_confirmed is False
    assert first.choices == {"analytics": True, "advertising": False, "recognition": False}
    page.locator("#cmp-root >> dialog.prefs >> button[data-action='confirm-gpc']").click()
    confirmed = events_of(page, visitor, 2)[1]
    assert confirmed.gpc_conflict_confirmed is True
    assert confirmed.decisions["advertising"] == {"granted": True, "reason": "choice"}
    assert confirmed.decisions["recognition"] == {"granted": True, "reason": "choice"}
    # A later choice made without the dialog carries no confirmation: it is asked again.
    page.evaluate("window.cmp.open()")
    # It takes back purposes whose tags already ran, so the banner reloads the page once the server has it.
    with page.expect_navigation():
        page.locator("#cmp-root >> dialog.prefs >> button[data-action='save']").click()
    later = list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))[2]
    assert later.gpc_conflict_confirmed is False
    assert later.decisions["advertising"] == {"granted": False, "reason": "choice"}
    context.close()


def events_of(page, visitor, count):
    wait_saved(page, count)
    events = list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))
    assert len(events) >= count, f"{count} events of {visitor} did not reach the server"
    return events

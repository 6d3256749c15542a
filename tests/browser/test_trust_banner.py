"""Knowing the banner's visitor id gives a stranger nothing (issue 14, point 1), in real headless Chromium."""
import json
import time

import pytest

from consent.models import Site, Visitor, hash_token
from tests.support import http, new_token, write_url

pytestmark = pytest.mark.browser
BANNER = "#cmp-root >> section.banner"
ALL = {"analytics": True, "advertising": True, "recognition": True}
NONE = {"analytics": False, "advertising": False, "recognition": False}


def open_demo(page, url):
    page.goto(url + "/demo/")
    page.wait_for_function("window.cmp && window.cmp.ready")
    page.evaluate("window.cmp.ready")


def lookup(page, visitor):
    return json.loads(page.evaluate(f"fetch('/api/v1/sites/demo/decisions/{visitor}').then(r => r.text())"))


def base36(n):
    digits = ""
    while n:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
    return digits


def stored_choice(visitor, seconds=10):
    """The choice the server holds for ``visitor``, once it holds one."""
    deadline = time.monotonic() + seconds
    while True:
        row = Visitor.objects.filter(uuid=visitor).values("choices").first()
        if row and row["choices"]:
            return row["choices"]
        assert time.monotonic() < deadline, f"no choice reached the server for {visitor}"
        time.sleep(0.05)


def test_a_stranger_who_writes_first_for_the_exposed_id_decides_nothing(page, demo):
    open_demo(page, demo)
    exposed = page.evaluate("window.cmp.visitorId")  # what any script or tag on the page can read
    stranger = [http("POST", demo + write_url(), {"visitor_id": exposed, "choices": ALL, "policy_version": "1",
                                                  **extra}) for extra in ({}, {"token": new_token()})]
    assert [(status, body.get("error")) for status, body in stranger] == [(403, "token_required"), (403, "bad_token")]
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    assert stored_choice(exposed) == NONE
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
    open_demo(page, demo)
    assert page.evaluate("window.cmp.visitorId") == old_id
    page.locator(f"{BANNER} >> button[data-action='reject']").click()
    page.wait_for_function(f"window.cmp.visitorId !== '{old_id}'")
    renewed = page.evaluate("window.cmp.visitorId")
    assert stored_choice(renewed) == NONE
    assert lookup(page, renewed)["decisions"]["advertising"] == {"granted": False, "reason": "choice"}
    assert Visitor.objects.get(uuid=old_id).choices == ALL  # the stranger's record is left as it was
    cookie = next(c for c in page.context.cookies() if c["name"] == "cmp_demo")
    assert cookie["value"].split("!")[1] == renewed

"""The banner's first-party cookie parser, fuzzed with hypothesis in real Chromium.

Whatever sits in the ``cmp_demo`` cookie (corrupted, truncated, hostile), the
banner must load, ``cmp.ready`` must resolve, and no purpose may count as
granted unless the cookie itself granted it.
"""
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser
OPTIONAL = ["analytics", "advertising", "recognition"]
SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:%~"  # cookie-value characters, '!' apart
VALID = ["1", str(uuid.UUID(int=7)), "tok", "1", "t0ab12", "analytics~advertising", "recognition", ""]

junk = st.text(alphabet=SAFE, max_size=40)
keys = st.lists(st.sampled_from(OPTIONAL + ["security", "__proto__", "constructor", "toString", ""]), max_size=5)
field_values = {
    0: st.sampled_from(["1", "2", "", "01"]) | junk,
    1: st.just(VALID[1]) | junk,
    3: st.sampled_from(["1", "%", "%E0%A4%A", "%ZZ", "%C3%A9"]) | junk,
    4: st.sampled_from(["t0ab12", "zzzzzzzzzzzzzz", "-5", "", "NaN"]) | junk,
    5: keys.map("~".join),
    6: keys.map("~".join),
    7: st.text(alphabet="gsnqx", max_size=6),
}


@st.composite
def cookie_values(draw):
    fields = [draw(field_values[i]) if i in field_values and draw(st.booleans()) else VALID[i] for i in range(8)]
    length = draw(st.sampled_from([8, 8, 8, 1, 5, 7, 9, 12]))
    fields = (fields + [draw(junk) for _ in range(length)])[:length]
    value = "!".join(fields)
    if draw(st.booleans()):
        value = value[: draw(st.integers(0, len(value)))]
    return value


@pytest.fixture
def demo_page(page, demo):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, demo, errors


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=cookie_values())
@example(value="1!" + VALID[1] + "!tok!%E0%A4%A!t0ab12!analytics!!")  # a malformed percent escape
@example(value="1!" + VALID[1] + "!tok!1!t0ab12!__proto__~analytics!analytics!q")
def test_no_cookie_breaks_the_banner_or_grants_what_it_did_not(demo_page, value):
    page, demo, errors = demo_page
    errors.clear()
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "cmp_demo", "value": value, "url": demo}])
    page.goto(demo + "/demo/")
    try:
        page.wait_for_function("window.cmp && window.cmp.ready", timeout=5000)
    except PlaywrightTimeout:
        pytest.fail(f"window.cmp never appeared with cookie {value!r}; page errors: {errors}")
    page.evaluate("window.cmp.ready")
    assert errors == [], f"the page threw with cookie {value!r}: {errors}"
    fields = value.split("!")
    granted_by_cookie = set(fields[5].split("~")) - set(fields[6].split("~")) if len(fields) >= 8 else set()
    for purpose in OPTIONAL:
        if page.evaluate("p => window.cmp.granted(p)", purpose):
            assert purpose in granted_by_cookie, f"{purpose} granted with cookie {value!r}"

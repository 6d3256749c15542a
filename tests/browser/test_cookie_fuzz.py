"""The banner's cookie against a reference parser, fuzzed with hypothesis in real Chromium.

Other tests check that no cookie breaks the
banner or grants what it did not grant. This one holds the banner to the
documented format (the comment at the top of banner_static/src/cookie.js):

    1!<visitor uuid>!<token>!<policy>!<time base36>!<granted~keys>!<denied~keys>!<flags>

- a value that is not in that format (truncated, extra fields, a bad percent
  escape, a visitor id that is not a UUID, a time that is not base36 or lies
  in the future, unknown flags, keys that are not purpose keys) is no choice:
  the banner shows, nothing optional is granted, and a fresh visitor id is used;
- a well-formed, current and complete choice is honoured exactly: no banner,
  and each purpose granted just as the cookie says (GPC seen, flag ``s``,
  denies advertising unless the visitor confirmed it, flag ``g``);
- whatever the value: no page error, ``cmp.ready`` resolves, and nothing is
  granted that the cookie did not grant.

One browser page serves every example (hypothesis runs them inside one test
call): the cookie is replaced and the page loaded again.
"""
import re
import time
import urllib.parse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.banner import MARK_STYLED, STYLED

from .test_banner import BANNER

pytestmark = pytest.mark.browser

OPTIONAL = ["analytics", "advertising", "recognition"]
VISITOR = "0a5c3f6e-1d2b-4c8a-9e7f-123456789abc"
TOKEN = "T0k3n_-abcdefghijklmnopqrstuvwxyzABCDEFGHI"
COOKIE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:%~!#$&'()*+/<=>?@[]^`{|}"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
KEY_RE = re.compile(r"^[\w-]+$", re.ASCII)


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def now_b36(offset=0):
    return b36(int(time.time()) + offset)


def parse(value):
    """The reference parser: the cookie's fields, or None for no choice."""
    f = value.split("!")
    if len(f) != 8 or f[0] != "1" or not UUID_RE.match(f[1]) or not KEY_RE.match(f[2]):
        return None
    try:
        policy = urllib.parse.unquote(f[3], errors="strict")
    except UnicodeDecodeError:
        return None
    if re.search(r"%(?![0-9a-fA-F]{2})", f[3]):
        return None  # decodeURIComponent throws on a stray '%'
    if not re.fullmatch(r"[0-9a-z]{1,9}", f[4]) or int(f[4], 36) <= 0 or int(f[4], 36) > time.time() + 86400:
        return None
    keys = [k for part in (f[5], f[6]) for k in part.split("~") if k]
    if not all(KEY_RE.match(k) for k in keys) or not re.fullmatch(r"[gnsq]*", f[7]):
        return None
    granted = {k for k in f[5].split("~") if k} - {k for k in f[6].split("~") if k}
    chosen = {k for k in f[5].split("~") + f[6].split("~") if k}
    return {"visitor": f[1], "policy": policy, "ts": int(f[4], 36), "granted": granted, "chosen": chosen,
            "flags": f[7]}


# -- the cookie values ----------------------------------------------------------------------

junk = st.text(alphabet=COOKIE_CHARS.replace("!", ""), max_size=30)
purpose_keys = st.lists(st.sampled_from(OPTIONAL + ["security", "authentication", "unknown_key", "__proto__",
                                                     "constructor", "toString", "hasOwnProperty", ""]),
                        max_size=6).map("~".join)
mutations = {
    0: st.sampled_from(["2", "", "01", "1 ", "１"]),
    1: st.sampled_from(["-" * 36, VISITOR.upper(), VISITOR[:-1], VISITOR + "0", VISITOR.replace("-", ""),
                        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "0a5c3f6e-1d2b-4c8a-9e7f-123456789ab\u00e9"]),
    2: st.sampled_from(["", "a b", "tok%", "tökén", "x" * 3000]),
    3: st.sampled_from(["%", "%E0%A4%A", "%ZZ", "%C3%A9", "%C3", "2", "%F0%9F%8D%AA", "é"]),
    4: st.sampled_from(["", "0", "-5", "NaN", "Infinity", "1e5", "t0ab12.5", "t0ab12%", "T0AB12", " t0ab12",
                        "zzzzzzzzzzzzzz", "zzzzzz", "0x1f", "١٢٣"]) | st.integers(-10**9, 10**7).map(now_b36),
    5: purpose_keys | st.sampled_from(["analytics~a b", "analytics~é", "analytics~%61"]),
    6: purpose_keys,
    7: st.text(alphabet="gnsqxG!é ", max_size=6),
}


@st.composite
def cookie_values(draw):
    if draw(st.booleans()):  # a complete choice, as the banner writes it
        says = {p: draw(st.booleans()) for p in OPTIONAL}
        yes, no = "~".join(p for p in OPTIONAL if says[p]), "~".join(p for p in OPTIONAL if not says[p])
    else:
        yes, no = draw(purpose_keys), draw(purpose_keys)
    valid = ["1", VISITOR, TOKEN, "1", now_b36(-draw(st.integers(0, 86400 * 30))),
             yes, no, draw(st.text(alphabet="gns", max_size=3))]
    fields = list(valid)
    for i, strategy in mutations.items():
        if draw(st.integers(0, 9)) == 0:
            fields[i] = draw(strategy | junk)
    shape = draw(st.sampled_from(["same"] * 6 + ["truncate", "extra", "drop", "huge", "text"]))
    if shape == "truncate":
        value = "!".join(fields)
        value = value[: draw(st.integers(0, len(value)))]
    elif shape == "extra":
        value = "!".join(fields + draw(st.lists(junk, min_size=1, max_size=4)))
    elif shape == "drop":
        del fields[draw(st.integers(0, 7))]
        value = "!".join(fields)
    elif shape == "huge":
        fields[draw(st.integers(0, 7))] *= 200
        value = "!".join(fields)[:3800]
    elif shape == "text":
        value = draw(st.text(alphabet=COOKIE_CHARS, max_size=120))
    else:
        value = "!".join(fields)
    return value.strip(" ")  # a browser trims the spaces around a cookie's value (RFC 6265, 5.2), and CDP refuses them


# -- the test ------------------------------------------------------------------------------------------------

@pytest.fixture
def demo_page(page, demo):
    page.add_init_script(MARK_STYLED)
    # Checked with the server today: the banner decides from its cookie alone, as documented (the daily
    # check that forgets a choice the server no longer holds is tests/browser/test_banner_visitor.py's).
    page.add_init_script("localStorage.setItem('cmp_demo_checked', Math.floor(Date.now() / 86400000));")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, demo, errors


def load(page, demo, value, errors):
    errors.clear()
    page.context.clear_cookies()
    if value:  # Chromium refuses to be handed an empty cookie; no cookie reads the same
        page.context.add_cookies([{"name": "cmp_demo", "value": value, "url": demo}])
    page.goto(demo + "/demo/")
    try:
        page.wait_for_function("window.cmp && window.cmp.ready", timeout=5000)
        # cmp.ready resolves (to window.cmp) even when nothing could be read.
        assert page.evaluate("window.cmp.ready.then(c => c === window.cmp)") is True
    except PlaywrightTimeout:
        pytest.fail(f"window.cmp never appeared with cookie {value!r}; page errors: {errors}")
    assert page.evaluate("typeof window.cmp.decisions().analytics") == "boolean", "the config did not load"


def banner_visible(page):
    """Whether the banner shows, asked once the banner has decided (never after a fixed wait).

    The banner unhides itself in its stylesheet's ``load`` handler; MARK_STYLED
    marks the stylesheet once that handler has run, so the answer read then is
    final, however slow the machine.
    """
    page.wait_for_function(STYLED, timeout=10000)
    return page.locator(BANNER).is_visible()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=cookie_values())
@example(value="")
@example(value=f"1!{VISITOR}!{TOKEN}!%E0%A4%A!{now_b36()}!analytics~advertising~recognition!!")
@example(value=f"1!{'-' * 36}!{TOKEN}!1!{now_b36()}!analytics~advertising~recognition!!")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36(86400 * 3650)}!analytics~advertising~recognition!!")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36()}.x!analytics~advertising~recognition!!")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36()}!analytics~advertising~recognition!!x")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36()}!__proto__~analytics~advertising~recognition!!")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36()}!analytics~recognition!advertising!s")
@example(value=f"1!{VISITOR}!{TOKEN}!1!{now_b36()}!analytics~advertising!recognition!sg")
def test_the_banner_reads_its_cookie_exactly_as_documented(demo_page, value):
    page, demo, errors = demo_page
    load(page, demo, value, errors)
    parsed = parse(value)
    granted = {p: page.evaluate("p => window.cmp.granted(p)", p) for p in OPTIONAL}
    shown = banner_visible(page)
    assert errors == [], f"the page threw with cookie {value!r}: {errors}"

    if parsed is None:
        assert not any(granted.values()), f"{granted} from an unparseable cookie {value!r}"
        assert shown, f"no banner for an unparseable cookie {value!r}"
        visitor = page.evaluate("window.cmp.visitorId")
        assert UUID_RE.match(visitor) and visitor not in value.split("!")[1:2], f"visitor {visitor!r} from {value!r}"
        return

    granted_by_cookie = parsed["granted"]
    for purpose in OPTIONAL:
        if granted[purpose]:
            assert purpose in granted_by_cookie, f"{purpose} granted with cookie {value!r}"
    current = parsed["policy"] == "1" and time.time() - parsed["ts"] < 365 * 86400
    if current and set(OPTIONAL) <= parsed["chosen"]:
        expected = {p: p in granted_by_cookie for p in OPTIONAL}
        if "s" in parsed["flags"] and "g" not in parsed["flags"]:
            expected["advertising"] = expected["recognition"] = False  # GPC seen: the demo's sale-or-sharing
            # purposes are not sold or shared unless confirmed
        assert granted == expected, f"cookie {value!r}"
        assert not shown, f"the banner asks again for a current, complete choice {value!r}"
        assert page.evaluate("window.cmp.visitorId") == parsed["visitor"]

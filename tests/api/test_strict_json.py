"""Every body the API parses is strict I-JSON (RFC 7493): anything else is a 400 ``malformed_json``.

Any web page can POST ``text/plain`` without a preflight, so these bodies
come from anyone. The one parser (``api/parsers.py``) refuses, with a
message: nesting deeper than a few levels, numbers beyond what a double
holds exactly, NaN and Infinity, NUL and lone surrogates, duplicate keys.
The fuzz below sends generated bodies of those kinds to every endpoint that
parses a body and asserts that none answers a 5xx.
"""
import json

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from api.parsers import LimitedJSONParser
from tests.support import consent_body, write_url

pytestmark = pytest.mark.django_db

VISITOR = "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10"
VALID = json.dumps(consent_body(VISITOR))[:-1]  # the valid body without its closing brace

# (name, raw body, words the detail must contain)
HOSTILE = [
    ("1,000 open brackets", "[" * 1000, "nest"),
    ("16,000 open brackets", "[" * 16000, "nest"),
    ("deep but closed", "[" * 200 + "]" * 200, "nest"),
    ("deep inside a valid body", VALID + ', "x": ' + "[" * 50 + "]" * 50 + "}", "nest"),
    ("huge integer", VALID + ', "x": 1' + "0" * 400 + "}", "number"),
    ("integer beyond 2**53", VALID + ', "x": 9007199254740993}', "number"),
    ("huge float", VALID + ', "x": 1e400}', "number"),
    ("NaN", VALID + ', "x": NaN}', "NaN"),
    ("Infinity", VALID + ', "x": -Infinity}', "Infinity"),
    ("escaped NUL in a value", VALID + ', "x": "a\\u0000b"}', "NUL"),
    ("escaped NUL in a key", VALID + ', "a\\u0000": 1}', "NUL"),
    ("lone high surrogate", VALID + ', "x": "\\ud800"}', "surrogate"),
    ("lone low surrogate in a key", VALID + ', "\\udc00": 1}', "surrogate"),
    ("duplicate keys", VALID + f', "visitor_id": "{VISITOR}"}}', "duplicate"),
    ("duplicate nested keys", VALID + ', "x": {"a": 1, "a": 2}}', "duplicate"),
    ("raw NUL byte", VALID + ', "x": "a\x00b"}', "JSON"),
]


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
@pytest.mark.parametrize("name, raw, words", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_json_is_a_400_malformed_json(api, demo_site, name, raw, words, content_type):
    response = api.post(write_url(), data=raw, content_type=content_type)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    data = response.json()
    assert data["error"] == "malformed_json"
    assert words.lower() in data["detail"].lower(), data["detail"]


def test_a_valid_body_still_parses(api, demo_site):
    """Nesting the write needs (choices, signals), a surrogate pair, a 2**53 integer: all accepted."""
    parsed = LimitedJSONParser.loads(b'{"a": {"b": [1, 9007199254740992, -1.5e10]}, "s": "\\ud83d\\ude00 \xc3\xa9"}')
    assert parsed == {"a": {"b": [1, 2**53, -1.5e10]}, "s": "\U0001F600 é"}
    response = api.post(write_url(), data=json.dumps(consent_body(VISITOR)), content_type="text/plain")
    assert response.status_code == 201, response.content


def _body_endpoints():
    """Every URL of the URL conf whose view parses a body with REST framework's parsers."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and any(hasattr(view, m) for m in ("post", "put", "patch")):
                    found.append((prefix + str(pattern.pattern), view))

    walk(get_resolver().url_patterns)
    return found


def test_every_body_endpoint_uses_the_strict_parser():
    endpoints = _body_endpoints()
    assert endpoints, "no endpoint parses a body?"
    for route, view in endpoints:
        assert view.parser_classes, route
        for parser in view.parser_classes:
            assert issubclass(parser, LimitedJSONParser), (route, parser)


def _url(route):
    return "/" + route.replace("<str:site_key>", "demo")


# Pieces of hostile JSON text, glued together by hypothesis.
PIECES = st.sampled_from([
    "[", "]", "{", "}", ",", ":", '"', "\\", "\\u0000", "\\ud800", "\\udfff", "\\u", "1e999", "-0", "NaN",
    "Infinity", "9" * 30, "1" + "0" * 5000, '"a":1', '"a":1,"a":2', "\x00", "\ud800", "null", "true", "é", " ",
    f'"visitor_id":"{VISITOR}"', '"choices":{"analytics":true}', '"signals":{"gpc":true}', '"banner_version":"1"',
])
BODIES = st.one_of(
    st.lists(PIECES, max_size=40).map("".join),
    st.integers(min_value=1, max_value=20000).map(lambda n: "[" * n),
    st.integers(min_value=1, max_value=5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.text(max_size=200),
)


@pytest.mark.parametrize("route", [r for r, _ in _body_endpoints()])
@override_settings(CMP_RATE_WRITES_PER_IP=(0, 60), CMP_RATE_WRITES_PER_SITE=(0, 60))  # every example reaches the parser
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the site is only read
@given(raw=BODIES, content_type=st.sampled_from(["text/plain", "application/json", "text/plain;charset=utf-8"]))
def test_fuzzed_bodies_never_get_a_5xx(demo_site, route, raw, content_type):
    response = APIClient().post(_url(route), data=raw.encode("utf-8", "surrogatepass"), content_type=content_type)
    assert response.status_code < 500, (raw[:200], response.status_code, response.content[:300])
    assert response.status_code in (200, 201, 400, 403, 413, 429), response.content[:300]

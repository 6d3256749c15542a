"""Bad input: always a 4xx JSON error that names the problem, never a 500."""
import json

import pytest
from django.test import override_settings

from tests.support import consent_body, lookup_url, write_url

pytestmark = pytest.mark.django_db

VISITOR = "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10"


def body(**overrides):
    return json.dumps(consent_body(VISITOR, **overrides))


def without(key):
    data = consent_body(VISITOR)
    data.pop(key)
    return json.dumps(data)


# (description, method, url, raw body, content type, status, error code, words the detail must contain)
CASES = [
    ("unknown site (write)", "post", write_url("nope"), body(), "application/json", 404, "unknown_site", "nope"),
    ("unknown site (lookup)", "get", lookup_url(VISITOR, "nope"), None, None, 404, "unknown_site", "nope"),
    ("unknown site (config)", "get", "/api/v1/sites/nope/config", None, None, 404, "unknown_site", "nope"),
    ("unknown purpose", "post", write_url(), body(choices={"telepathy": True}), "application/json", 400, "unknown_purpose", "telepathy"),
    ("unknown purpose in lookup", "get", lookup_url(VISITOR) + "?purpose=telepathy", None, None, 404, "unknown_purpose", "telepathy"),
    ("refusing an essential purpose", "post", write_url(), body(choices={"security": False}), "application/json", 400, "essential_purpose", "security"),
    ("unknown policy version", "post", write_url(), body(policy_version="99"), "application/json", 400, "unknown_policy_version", "99"),
    ("malformed visitor id (write)", "post", write_url(), body(visitor_id="not-a-uuid"), "application/json", 400, "invalid_request", "visitor_id"),
    ("malformed visitor id (lookup)", "get", lookup_url("not-a-uuid"), None, None, 400, "malformed_visitor_id", "not-a-uuid"),
    ("missing visitor id", "post", write_url(), without("visitor_id"), "application/json", 400, "invalid_request", "visitor_id"),
    ("choice as string", "post", write_url(), body(choices={"analytics": "yes"}), "application/json", 400, "invalid_request", "choices.analytics"),
    ("choice as number", "post", write_url(), body(choices={"analytics": 1}), "application/json", 400, "invalid_request", "choices.analytics"),
    ("choices as list", "post", write_url(), body(choices=["analytics"]), "application/json", 400, "invalid_request", "choices"),
    ("signal as string", "post", write_url(), body(signals={"gpc": "1"}), "application/json", 400, "invalid_request", "signals.gpc"),
    ("unknown signal", "post", write_url(), body(signals={"telepathy": True}), "application/json", 400, "invalid_request", "telepathy"),
    ("token too short", "post", write_url(), body(token="abc"), "application/json", 400, "invalid_request", "token"),
    ("token of wrong type", "post", write_url(), body(token=["a"]), "application/json", 400, "invalid_request", "token"),
    ("policy version too long", "post", write_url(), body(policy_version="9" * 100), "application/json", 400, "invalid_request", "policy_version"),
    ("bad language", "post", write_url(), body(language="<script>"), "application/json", 400, "invalid_request", "language"),
    ("neither choices nor signals", "post", write_url(), json.dumps({"visitor_id": VISITOR}), "application/json", 400, "invalid_request", "choices"),
    ("body is a list", "post", write_url(), "[1, 2]", "application/json", 400, "invalid_request", "dictionary"),
    ("body is not JSON", "post", write_url(), "{visitor_id: 1", "application/json", 400, "malformed_json", "JSON"),
    ("body is not UTF-8", "post", write_url(), b"\xff\xfe{}", "application/json", 400, "malformed_json", "UTF-8"),
    ("empty body", "post", write_url(), "", "application/json", 400, "invalid_request", "visitor_id"),
    ("form-encoded body", "post", write_url(), "visitor_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type", "application/x-www-form-urlencoded"),
    ("oversize body", "post", write_url(), json.dumps({"visitor_id": VISITOR, "pad": "x" * 20000}), "application/json", 413, "payload_too_large", "bytes"),
    ("GET on the write endpoint", "get", write_url(), None, None, 405, "method_not_allowed", "GET"),
    ("DELETE on a lookup", "delete", lookup_url(VISITOR), None, None, 405, "method_not_allowed", "DELETE"),
    ("unknown API path", "get", "/api/v1/sites/demo/nothing-here", None, None, 404, "not_found", "/api/v1/sites/demo/nothing-here"),
]


@pytest.mark.parametrize("name, method, url, raw, content_type, status, code, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_4xx(api, demo_site, name, method, url, raw, content_type, status, code, words):
    kwargs = {}
    if raw is not None:
        kwargs = {"data": raw, "content_type": content_type}
    response = getattr(api, method)(url, **kwargs)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["error"] == code
    assert words.lower() in data["detail"].lower(), data["detail"]


def test_database_failure_is_a_503_that_says_fail_closed(api, demo_site, monkeypatch):
    from django.db import OperationalError

    import consent.lookups

    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(consent.lookups, "_visitor_state", broken)
    response = api.get(lookup_url(VISITOR))
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "unavailable"
    assert "denied" in body["detail"]
    # Fail closed, in a form tags can act on: essentials only.
    assert body["decisions"]["analytics"] == {"granted": False, "reason": "unavailable"}
    assert body["decisions"]["security"] == {"granted": True, "reason": "essential"}
    assert body["consent_mode"]["ad_storage"] == "denied" and body["consent_mode"]["security_storage"] == "granted"


@override_settings(DEBUG=False)
def test_unexpected_error_on_api_is_json_without_stack_trace(demo_site, monkeypatch):
    from django.test import Client

    import consent.lookups

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(consent.lookups, "lookup", explode)
    response = Client(raise_request_exception=False).get(lookup_url(VISITOR))
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert b"secret internals" not in response.content

"""PostgreSQL taken away (through a proxy in front of the real server) from a
running gunicorn: lookups answer from the cache where they can, otherwise fail
closed, and answer normally again once PostgreSQL is back.

Runs in CI's PostgreSQL + Redis pass; the server is a subprocess so that only
its connections go through the proxy.
"""
import time

import pytest

from tests.support import http, new_visitor_id, token_of

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]


def test_database_down_lookups_answer_from_the_cache_else_fail_closed(server_behind_a_database_proxy):
    base, proxy = server_behind_a_database_proxy
    known, unknown = new_visitor_id(), new_visitor_id()
    choice = {"visitor_id": known, "token": token_of(known), "choices": {"analytics": True, "advertising": False, "recognition": False},
              "policy_version": "1"}
    assert http("POST", f"{base}/api/v1/sites/demo/consents", choice)[0] == 201
    lookup = f"{base}/api/v1/sites/demo/decisions/"
    assert http("GET", lookup + known)[1]["decisions"]["analytics"] == {"granted": True, "reason": "choice"}

    proxy.cut()
    deadline = time.monotonic() + 3  # three leases: the cache stays trusted without the database
    while time.monotonic() < deadline:
        status, body = http("GET", lookup + known)
        assert status == 200 and body["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
        time.sleep(0.2)
    status, body = http("GET", lookup + unknown)
    assert status == 503 and body["error"] == "unavailable"
    assert body["decisions"]["analytics"] == {"granted": False, "reason": "unavailable"}
    assert body["decisions"]["security"] == {"granted": True, "reason": "essential"}
    status, body = http("POST", f"{base}/api/v1/sites/demo/consents", {**choice, "visitor_id": unknown, "token": token_of(unknown)})
    assert status == 503 and body["error"] == "unavailable"

    proxy.restore()
    status, body = http("GET", lookup + unknown)
    assert status == 200 and body["decisions"]["analytics"] == {"granted": False, "reason": "default_opt_in"}

"""Abuse and hardening: rate limits, client address, security headers, deploy checks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from consent.models import ConsentEvent
from tests.support import consent_body, new_visitor_id, write_url

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def write(api, **headers):

    return api.post(write_url(), consent_body(new_visitor_id()), format="json", **headers)


@override_settings(CMP_RATE_WRITES_PER_IP=(3, 60))
def test_writes_are_limited_per_ip_with_retry_after(api, demo_site):
    for _ in range(3):
        assert write(api, REMOTE_ADDR="203.0.113.5").status_code == 201
    limited = write(api, REMOTE_ADDR="203.0.113.5")
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited" and "retry" in limited.json()["detail"]
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert write(api, REMOTE_ADDR="203.0.113.6").status_code == 201  # another client is not affected
    assert ConsentEvent.objects.count() == 4


@override_settings(CMP_RATE_WRITES_PER_SITE=(2, 60))
def test_writes_are_limited_per_site(api, demo_site):
    assert write(api, REMOTE_ADDR="198.51.100.1").status_code == 201
    assert write(api, REMOTE_ADDR="198.51.100.2").status_code == 201
    assert write(api, REMOTE_ADDR="198.51.100.3").status_code == 429


@override_settings(CMP_RATE_REQUESTS_PER_IP=(2, 3600))
def test_request_form_is_limited_per_ip(client, demo_site):
    data = {"kind": "know", "email": "a@example.org"}
    assert client.post("/privacy/requests/demo/", data).status_code == 200
    assert client.post("/privacy/requests/demo/", data).status_code == 200
    limited = client.post("/privacy/requests/demo/", data)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0


@override_settings(CMP_CLIENT_IP_HEADER="X-Forwarded-For")
def test_client_address_from_the_trusted_proxy_header(api, demo_site):
    # The proxy appends the real address; earlier entries are the client's own claims.
    write(api, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.77")
    assert ConsentEvent.objects.get().ip_prefix == "203.0.113.0/24"


def test_security_headers_and_csp_on_platform_pages(client, demo_site):
    page = client.get("/privacy/requests/demo/")
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert page["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in client.get("/admin/login/")
    assert "Content-Security-Policy" not in client.get("/demo/")  # stands for a customer's page


def test_admin_needs_login_and_csrf(demo_site):
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", "a@example.com", "pw")
    assert Client().get("/admin/").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/admin/login/", {"username": "admin", "password": "pw"}).status_code == 403


def _deploy_check(**variables):
    # A production process: none of the test run's own variables (the browser
    # tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright).
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "CMP_RECEIPT_KEYS",
                         "CMP_SIGNING_KEYS", "CMP_SIGNING_KEYS_FILE")}
    env.update(
        DEBUG="0",
        SECRET_KEY="k3y-" + "x7Qp9Lm2Zr8Vt4Wc6Yb1Nd5Hs0Jf3Gk" * 2,
        ALLOWED_HOSTS="cmp.example.com",
        DJANGO_SETTINGS_MODULE="cmp.settings",
        **variables,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )


def test_deploy_checks_pass_with_production_settings():
    result = _deploy_check(CMP_SIGNING_KEYS="k2026:" + "9f" * 21 + "Q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_checks_name_a_missing_signing_key():
    # The HMAC keys of before only verify old records: they are no signing key.
    result = _deploy_check(CMP_RECEIPT_KEYS="k2025:" + "9f" * 32)
    assert result.returncode != 0
    assert "audit.E001" in result.stderr + result.stdout and "CMP_SIGNING_KEYS" in result.stderr + result.stdout


@override_settings(CMP_RATE_WRITES_PER_IP=(2, 60), CMP_RATE_WRITES_PER_SITE=(4, 60))
def test_a_client_over_its_limit_does_not_use_up_the_sites(api, demo_site):
    """The per-client limit is checked first, and a refused write is not counted against the site: one client
    cannot lock everyone out of the site by writing on after its own 429s."""
    for expected in (201, 201, 429, 429, 429, 429, 429):
        assert write(api, REMOTE_ADDR="198.51.100.7").status_code == expected
    assert write(api, REMOTE_ADDR="198.51.100.8").status_code == 201
    assert write(api, REMOTE_ADDR="198.51.100.9").status_code == 201
    assert write(api, REMOTE_ADDR="198.51.100.10").status_code == 429  # the site's fifth counted write


def test_a_rate_counter_starts_at_one_and_counts_in_its_window(demo_site):
    import time

    from django.core.cache import cache

    from consent import ratelimit
    from consent.errors import RateLimited

    now = time.time()
    for _ in range(3):
        ratelimit.check("test-scope", "k", (3, 60), now=now)
    with pytest.raises(RateLimited) as refused:
        ratelimit.check("test-scope", "k", (3, 60), now=now)
    assert 1 <= refused.value.retry_after <= 60
    window = int(now // 60 * 60)
    assert cache.get(f"rl:test-scope:k:{window}") == 4
    if hasattr(cache, "client"):  # Redis: the counter expires after its window (and a second)
        assert 0 < cache.client.ttl(cache.make_key(f"rl:test-scope:k:{window}")) <= 61
    ratelimit.check("test-scope", "k", (3, 60), now=window + 60)  # the next window counts afresh
    assert cache.get(f"rl:test-scope:k:{window + 60}") == 1

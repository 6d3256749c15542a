"""Shared fixtures: a seeded demo site, an API client, and a clean cache per test."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from consent.models import Site

from .receiver import free_port
from .tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent


def http(method, url, body=None):
    """One JSON request to a server the test started: (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_serving(url, proc, seconds=30):
    """Wait for ``url`` to answer; fail the test if ``proc`` does not get there in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the server did not answer {url} within {seconds} s")


@pytest.fixture(autouse=True)
def clean_cache():
    # Cached site rules and visitor states must not leak between tests whose
    # databases are rolled back (with Redis, the suite uses its own db number).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo_site(db):
    call_command("seed_demo", "--origin", "https://shop.example.com", stdout=open("/dev/null", "w"))
    return Site.objects.get(key="demo")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def visitor_id():
    return str(uuid.uuid4())


def write_url(site="demo"):
    return f"/api/v1/sites/{site}/consents"


def lookup_url(visitor, site="demo"):
    return f"/api/v1/sites/{site}/decisions/{visitor}"


def consent_body(visitor, **overrides):
    body = {
        "visitor_id": visitor,
        "choices": {"analytics": True, "advertising": False, "recognition": False},
        "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
        "policy_version": "1",
        "banner_version": "1.0.0",
        "language": "en",
    }
    body.update(overrides)
    return body


def needs_postgresql_and_redis():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis: run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (CI does)")


@contextmanager
def product_server(log_path, database_port=None, redis_url=None, database_query="", kill=False, **environment):
    """The product under gunicorn (one worker) on the test's database; yields its base URL.

    ``environment`` adds variables (None removes one); ``kill`` stops it
    without a graceful shutdown (a worker stuck on a silent database would
    hold one up). Needs ``django_db(transaction=True)`` so the server sees the
    test's data.
    """
    db = connection.settings_dict
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{database_port or db['PORT'] or 5432}/{db['NAME']}"
                           f"{database_query}",
           "DB_CONN_MAX_AGE": "0", "REDIS_URL": redis_url or settings.REDIS_URL, "SECRET_KEY": "test-" + "k" * 50,
           "DEBUG": "1",  # static files from the apps: no collectstatic here
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "CMP_RECEIPT_KEYS": "t1:" + "ab" * 32,
           **environment}
    env = {k: v for k, v in env.items() if v is not None}
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base + "/healthz", proc)
            yield base
        finally:
            proc.kill() if kill else proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture
def server_behind_a_database_proxy(tmp_path):
    """The product under gunicorn whose PostgreSQL connections go through a proxy the test can cut."""
    needs_postgresql_and_redis()
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # committed: the test is transactional
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    try:
        with product_server(tmp_path / "gunicorn.log", database_port=proxy.port) as base:
            yield base, proxy
    finally:
        proxy.close()

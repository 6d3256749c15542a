"""Shared fixtures: a seeded demo site, an API client, and a clean cache per test."""
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from consent.models import Site

from .tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.fixture
def server_behind_a_database_proxy(tmp_path):
    """The product under gunicorn whose PostgreSQL connections go through a proxy the test can cut.

    Needs ``django_db(transaction=True)`` so the server sees the test's data.
    """
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis: run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (CI does)")
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # committed: the test is transactional
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    db = connection.settings_dict
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}", "DB_CONN_MAX_AGE": "0",
           "REDIS_URL": settings.REDIS_URL, "DEBUG": "1",  # static files from the apps: no collectstatic here "SECRET_KEY": "test-" + "k" * 50,
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "CMP_RECEIPT_KEYS": "t1:" + "ab" * 32}
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield base, proxy
    finally:
        proxy.close()
        proc.terminate()
        proc.wait(timeout=20)
        log.close()

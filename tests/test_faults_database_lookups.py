"""PostgreSQL taken away (through a proxy in front of the real server) from a
running gunicorn: lookups answer from the cache where they can, otherwise fail
closed, and answer normally again once PostgreSQL is back.

Runs in CI's PostgreSQL + Redis pass; the server is a subprocess so that only
its connections go through the proxy.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from .tcp_proxy import TcpProxy
from .test_server_end_to_end import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server_behind_a_database_proxy(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis: run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (CI does)")
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432))
    db = connection.settings_dict
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}", "DB_CONN_MAX_AGE": "0",
           "REDIS_URL": settings.REDIS_URL, "DEBUG": "0", "SECRET_KEY": "test-" + "k" * 50,
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


def test_database_down_lookups_answer_from_the_cache_else_fail_closed(server_behind_a_database_proxy):
    base, proxy = server_behind_a_database_proxy
    known, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    choice = {"visitor_id": known, "choices": {"analytics": True, "advertising": False, "recognition": False},
              "policy_version": "1"}
    assert http("POST", f"{base}/api/v1/sites/demo/consents", choice)[0] == 201
    time.sleep(1.5)  # past the write's change mark, so the next lookup is cached
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
    status, body = http("POST", f"{base}/api/v1/sites/demo/consents", {**choice, "visitor_id": unknown})
    assert status == 503 and body["error"] == "unavailable"

    proxy.restore()
    status, body = http("GET", lookup + unknown)
    assert status == 200 and body["decisions"]["analytics"] == {"granted": False, "reason": "default_opt_in"}

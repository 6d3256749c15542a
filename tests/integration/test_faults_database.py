"""PostgreSQL taken away from a running gunicorn: consent writes answer 503
with the API's error shape (never a stack trace), /readyz says unavailable
while /healthz stays up, and once PostgreSQL is back the same write succeeds
and is stored, without restarting anything.

The server is a subprocess whose database connections go through a proxy
(tests/support/tcp_proxy.py) the test cuts; the test's own connection is untouched.
It runs once with connections opened per request (DB_CONN_MAX_AGE=0) and once
with the production default (persistent connections, which the cut resets).
Runs in CI's PostgreSQL pass; elsewhere it skips and says why.
"""
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection

from consent.models import ConsentEvent, Visitor
from tests.support import new_visitor_id, product_server, token_of
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]
UNAVAILABLE = ("Consent storage is unavailable; treat every optional purpose as denied and retry later.")
TRACE_MARKS = ("Traceback", 'File "', "psycopg", "OperationalError", "django.db", "/site-packages/")


def require_postgresql():
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/… (CI does)")
    if (db["HOST"] or "127.0.0.1") not in ("127.0.0.1", "localhost") or int(db["PORT"] or 5432) != 5432:
        pytest.skip("needs PostgreSQL on 127.0.0.1:5432 (the proxy sits in front of it)")


def request(method, url, body=None, timeout=10, origin=None):
    """(status, headers, raw body) of one request; never raises on an HTTP error status."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


@contextmanager
def app_server(tmp_path, database_port, conn_max_age, query=""):
    """gunicorn (production settings, DEBUG off) on the test database, through ``database_port``."""
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)  # committed: the test is transactional
    max_age = None if conn_max_age is None else str(conn_max_age)  # None: the product's default
    with product_server(tmp_path / "gunicorn.log", database_port, database_query=query, kill=True,
                        DEBUG="0", DB_CONN_MAX_AGE=max_age) as base:
        yield base


def choice(visitor):
    return {"visitor_id": visitor, "token": token_of(visitor), "choices": {"analytics": True, "advertising": False, "recognition": True},
            "policy_version": "1", "banner_version": "1.1.2", "language": "en"}


def assert_unavailable(status, headers, body):
    assert status == 503, body
    assert headers.get("Content-Type", "").startswith("application/json")
    assert json.loads(body) == {"error": "unavailable", "detail": UNAVAILABLE}
    assert headers.get("Retry-After") == "5"
    assert not any(mark in body for mark in TRACE_MARKS), body


@pytest.mark.parametrize("conn_max_age", [0, None], ids=["connection-per-request", "persistent-connections"])
def test_writes_answer_503_while_postgresql_is_away_and_succeed_once_it_is_back(tmp_path, conn_max_age):
    require_postgresql()
    proxy = TcpProxy(5432)
    visitor = new_visitor_id()
    write = "/api/v1/sites/demo/consents"
    try:
        with app_server(tmp_path, proxy.port, conn_max_age) as base:
            assert request("GET", base + "/readyz")[0] == 200  # a connection is open (and kept, by default)
            started = time.monotonic()

            proxy.cut()
            assert_unavailable(*request("POST", base + write, choice(visitor)))
            assert_unavailable(*request("POST", base + write, choice(visitor)))  # and again: nothing wedged
            # From a page (an Origin to check against the site's rules, which need the database too):
            # still the 503, without CORS headers, never a 500.
            status, headers, body = request("POST", base + write, choice(visitor), origin="https://shop.example")
            assert_unavailable(status, headers, body)
            assert "Access-Control-Allow-Origin" not in headers
            status, _, body = request("GET", base + "/readyz")
            assert status == 503 and json.loads(body)["checks"]["database"] is False, body
            status, _, body = request("GET", base + "/healthz")
            assert status == 200 and json.loads(body) == {"status": "ok"}
            assert time.monotonic() - started < 10, "answers while PostgreSQL is away must not hang"
            assert not Visitor.objects.filter(uuid=visitor).exists()

            proxy.restore()
            status, _, body = request("POST", base + write, choice(visitor))  # the very first try after
            assert status == 201, body
            assert json.loads(body)["token"]
            stored = Visitor.objects.get(uuid=visitor)
            assert stored.choices == {"analytics": True, "advertising": False, "recognition": True}
            assert ConsentEvent.objects.filter(visitor=stored).count() == 1
            assert request("GET", base + "/readyz")[0] == 200
    finally:
        proxy.close()


class SilentDatabase:
    """Accepts connections and never answers: PostgreSQL behind a network that drops packets."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        for s in [self.listener, *self.held]:
            s.close()


def test_an_unreachable_postgresql_answers_503_in_bounded_time(tmp_path):
    require_postgresql()
    silent = SilentDatabase()
    try:
        with app_server(tmp_path, silent.port, None) as base:
            started = time.monotonic()
            try:
                answer = request("POST", base + "/api/v1/sites/demo/consents", choice(new_visitor_id()), timeout=8)
            except OSError as error:  # timed out, or the worker was killed
                pytest.fail(f"no answer after {time.monotonic() - started:.1f} s: {error!r}")
            assert_unavailable(*answer)
    finally:
        silent.close()

"""Helpers the tests share: request bodies and URLs, waiting for conditions, servers of the product.

Fixtures live in ``tests/conftest.py``; everything else a test imports from here.
"""
import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import brotli
import pytest
from django.conf import settings
from django.db import connection

from api.examples import WRITE_BODY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, seconds=30, what="condition", every=0.05):
    """Poll ``condition`` every ``every`` seconds until it is true; fail after ``seconds`` naming ``what``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


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
    def answers():
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except OSError:
            return False

    try:
        wait_until(answers, seconds, f"{url} to answer")
    except AssertionError:
        proc.kill()
        raise


def embed_boot(response):
    """The ``window.cmpBoot`` object of an embed script (``/c/<site>.js``), and the code after it."""
    first, rest = response.content.decode().split("\n", 1)
    match = re.fullmatch(r"window\.cmpBoot=(\{.*\});", first)
    assert match, first[:200]
    return json.loads(match[1]), rest


def write_url(site="demo"):
    return f"/api/v1/sites/{site}/consents"


def lookup_url(visitor, site="demo"):
    return f"/api/v1/sites/{site}/decisions/{visitor}"


def consent_body(visitor, **overrides):
    """The API's documented write example, for ``visitor`` on the demo site (policy 1, English).

    A visitor made by :func:`new_visitor_id` writes with its token unless
    ``token`` is given (``token=None`` leaves it out).
    """
    body = {**WRITE_BODY, "visitor_id": visitor, "policy_version": "1", "language": "en"}
    body.pop("token")  # the example's token certifies the example's id only
    if str(visitor) in _TOKENS:
        body["token"] = _TOKENS[str(visitor)]
    body.update(overrides)
    return {k: v for k, v in body.items() if not (k == "token" and v is None)}


# Visitor ids made here, and the token each was derived from (the tests' stand-in for the banner's cookie).
_TOKENS: dict[str, str] = {}


def self_certifying_id(token: str) -> str:
    """The visitor id a token certifies, derived as the README states it, independently of the product:
    the first 16 bytes of SHA-256("cmp-visitor-v1:" + token), as a UUID of version 8 (RFC 9562)."""
    raw = bytearray(hashlib.sha256(b"cmp-visitor-v1:" + token.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_token() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def new_visitor() -> tuple[str, str]:
    """A new visitor as the banner makes one: (id, token), the id derived from the token."""
    token = new_token()
    visitor = self_certifying_id(token)
    _TOKENS[visitor] = token
    return visitor, token


def new_visitor_id() -> str:
    """A new visitor's id; :func:`consent_body` and :func:`token_of` know its token."""
    return new_visitor()[0]


def token_of(visitor) -> str:
    return _TOKENS[str(visitor)]


def missing(message: str):
    """Skip a test whose tool is not on this machine; fail it in CI, where .ci/run installs every tool."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must run it)")
    pytest.skip(message)


def banner_node_test(name: str, vectors: str) -> str:
    """The output of ``node --test banner_static/test/<name>``, which checks the banner against ``vectors``;
    asserts it passed."""
    node = shutil.which("node")
    if node is None:
        missing(f"Node.js not found: install it to check the banner against {vectors}")
    run = subprocess.run([node, "--test", f"test/{name}"], cwd=ROOT / "banner_static", capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (.ci/run does)")


def needs_postgresql_and_redis():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis: run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (.ci/run does)")


@contextmanager
def another_session():
    """A second connection to the PostgreSQL test database, outside the test's own: the one another process would
    have, to hold a lock or meet one."""
    import psycopg

    db = connection.settings_dict
    session = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or "postgres",
                              dbname=db["NAME"])
    try:
        yield session
    finally:
        session.close()


def database_url(port=None, query="") -> str:
    """The test database's URL, for a process the test starts (optionally through ``port``)."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}{query}"


@contextmanager
def product_server(log_path, database_port=None, redis_url=None, database_query="", kill=False, workers="1",
                   threads="1", **environment):
    """The product under gunicorn (one sync worker by default) on the test's database; yields its base URL.

    See :func:`product_server_process`, which also yields the gunicorn master process.
    """
    with product_server_process(log_path, database_port, redis_url, database_query, kill, workers, threads,
                                **environment) as (base, _):
        yield base


@contextmanager
def product_server_process(log_path, database_port=None, redis_url=None, database_query="", kill=False, workers="1",
                           threads="1", **environment):
    """The product under gunicorn (one sync worker by default) on the test's database; yields (base URL, master).

    ``environment`` adds variables (None removes one); ``kill`` stops it
    without a graceful shutdown (a worker stuck on a silent database would
    hold one up). Needs ``django_db(transaction=True)`` so the server sees the
    test's data.
    """
    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
           "DATABASE_URL": database_url(database_port, database_query),
           "DB_CONN_MAX_AGE": "0", "REDIS_URL": redis_url or settings.REDIS_URL, "SECRET_KEY": "test-" + "k" * 50,
           "DEBUG": "1",  # static files from the apps: no collectstatic here
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "CMP_RECEIPT_KEYS": "t1:" + "ab" * 32,
           **environment}
    env = {k: v for k, v in env.items() if v is not None}
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "-w", workers, "--threads", threads,
                                 "-b", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base + "/healthz", proc)
            yield base, proc
        finally:
            proc.kill() if kill else proc.terminate()
            proc.wait(timeout=20)


class _FormFields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if "disabled" in attrs:
            return  # a browser posts no disabled control (a select's options included)
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.data.append((name, attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.data.append((self._select, attrs.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            name, text = self._textarea
            self.data.append((name, text.removeprefix("\n")))
            self._textarea = None


def form_fields(html: str) -> dict:
    """What a browser would post from the page's form as it stands: {name: value or [values]}."""
    parser = _FormFields()
    parser.feed(html)
    fields: dict = {}
    for name, value in parser.data:
        fields[name] = [*fields[name], value] if isinstance(fields.get(name), list) else (
            [fields[name], value] if name in fields else value)
    return fields


def admin_errors(response) -> list[str]:
    """The error messages of an admin page that answered with its form again (for a failing test's message)."""
    return re.findall(r'class="errorlist[^>]*>(.*?)</ul>', response.content.decode(), re.S)


# What a developer's shell would not have set for `make run`: the suite's own servers and switches.
NOT_FOR_MAKE_RUN = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER",
                    "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "CMP_PUBLIC_URL")


def make_run_environment(folder: Path, port: int) -> dict:
    """The environment of a developer's shell running ``PORT=<port> make run`` on a database of its own."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_MAKE_RUN}
    return {**env, "PORT": str(port), "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "PYTHONUNBUFFERED": "1"}


@contextmanager
def make_run(folder: Path, seconds=300):
    """``make run`` as the README says, on the embedded default; yields (base URL, environment, log path).

    Stopped with its whole process group (make, runserver, run_schedule).
    """
    port = free_port()
    env = make_run_environment(folder, port)
    log_path = folder / "make-run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base + "/healthz", proc, seconds)
            yield base, env, log_path
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def fetch(url, **headers):
    """A GET as a browser would send it: (status, headers, raw body bytes), nothing decoded."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def check_compression(base):
    """What a server at ``base`` (with the demo site) compresses, and what it never does."""
    visitor = "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10"
    for path in ("/c/demo.js", "/api/v1/sites/demo/config?lang=fr", "/demo/"):
        _, _, plain = fetch(base + path, **{"Accept-Encoding": "identity"})
        for asked, coding, decode in (("gzip, deflate, br, zstd", "br", brotli.decompress),
                                      ("gzip, deflate", "gzip", gzip.decompress),
                                      ("br;q=0, gzip", "gzip", gzip.decompress)):
            status, headers, body = fetch(base + path, **{"Accept-Encoding": asked})
            assert status == 200 and headers["Content-Encoding"] == coding, (path, asked, dict(headers))
            assert "Accept-Encoding" in headers["Vary"], (path, headers["Vary"])
            assert decode(body) == plain and len(body) < len(plain), path
            assert int(headers["Content-Length"]) == len(body)
        _, headers, _ = fetch(base + path, **{"Accept-Encoding": "identity"})
        assert headers["Content-Encoding"] is None
    # A compressed answer's weak ETag still revalidates.
    _, headers, _ = fetch(base + "/c/demo.js", **{"Accept-Encoding": "br"})
    assert headers["ETag"].startswith('W/"')
    assert fetch(base + "/c/demo.js", **{"Accept-Encoding": "br", "If-None-Match": headers["ETag"]})[0] == 304
    # Never: pages for one person (BREACH), and the lookup's hot path.
    for path in ("/admin/login/", f"/api/v1/sites/demo/decisions/{visitor}"):
        status, headers, _ = fetch(base + path, **{"Accept-Encoding": "gzip, br"})
        assert status == 200 and headers["Content-Encoding"] is None, (path, dict(headers))

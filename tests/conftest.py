"""Fixtures shared by the whole suite; helpers live in ``tests/support``.

Layout: ``unit/`` calls the domain directly, ``api/`` goes through Django's
test client, ``integration/`` starts real servers (gunicorn, Celery workers,
redis-server, proxies), ``browser/`` drives the banner in headless Chromium.
Each test gets the marker of its folder (``-m "not browser"`` and so on).
"""
import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient

from consent.models import Site

from .support import needs_postgresql, needs_postgresql_and_redis, new_visitor_id, product_server, wait_until
from .support.receiver import Receiver
from .support.servers import RedisClusterServers, RedisServer
from .support.tcp_proxy import TcpProxy
from .support.workers import start_worker, stop_workers, use_broker

# Hypothesis: few examples while developing, the full run in CI; never a
# deadline (a busy 2-core machine is not a failing test).
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))

LAYERS = {"unit": "unit", "api": "api", "integration": "server", "browser": "browser"}


def pytest_collection_modifyitems(items):
    for item in items:
        layer = Path(item.fspath).parent.name
        if layer in LAYERS:
            item.add_marker(LAYERS[layer])


@pytest.fixture(autouse=True)
def clean_cache():
    # Cached site rules and visitor states must not leak between tests whose
    # databases are rolled back (with Redis, the suite uses its own db number).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo_site(db):
    call_command("seed_demo", "--origin", "https://shop.example.com", stdout=open(os.devnull, "w"))
    return Site.objects.get(key="demo")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def visitor_id():
    """A new visitor's id, derived from a token the tests' helpers know (``consent_body`` sends it)."""
    return new_visitor_id()


@pytest.fixture
def receiver():
    """A real HTTP webhook receiver on 127.0.0.1."""
    r = Receiver().start()
    yield r
    r.stop()


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


@pytest.fixture
def gunicorn(tmp_path):
    """The product under gunicorn (3 workers × 4 threads) on the test's PostgreSQL; yields its base URL."""
    needs_postgresql()
    with product_server(tmp_path / "gunicorn.log", redis_url=None, workers="3", threads="4") as base:
        yield base


@pytest.fixture
def broker(tmp_path):
    """A redis-server of the test's own, as the Celery broker (stoppable)."""
    needs_postgresql_and_redis()
    b = RedisServer(tmp_path).start()
    yield b
    if b.running():
        b.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A Redis Cluster of three masters on loopback ports, behind proxies a test can cut; for the whole run.

    A test that uses it starts from an empty cluster only if it clears the cache itself.
    """
    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def worker(broker, tmp_path):
    """A real Celery worker (2 processes) on ``broker``; this process's tasks go there too."""
    from cmp.celery import app as celery_app

    saved = use_broker(broker)
    proc = start_worker(broker, tmp_path / "worker.log", concurrency=2)
    try:
        wait_until(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to answer ping")
        yield proc
    finally:
        stop_workers(saved, proc, kill=False)

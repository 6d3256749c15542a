"""Redis taken away mid-flight (through a proxy in front of the real server):
lookups and writes carry on from the database, and no error reaches a client."""
import socket

import pytest
from django.core.cache import caches
from django.test import override_settings

from .conftest import consent_body, lookup_url, write_url
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db


def redis_answers():
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def cut_able_redis():
    if not redis_answers():
        pytest.skip("needs a Redis server on 127.0.0.1:6379 (CI has one)")
    proxy = TcpProxy(6379)
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{proxy.port}/14",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with override_settings(CACHES=config):
        caches["default"].clear()
        yield proxy
        proxy.restore()
        caches["default"].clear()
    proxy.close()


def test_redis_down_lookups_and_writes_work_from_the_database(api, demo_site, visitor_id, cut_able_redis):
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True  # now cached
    cut_able_redis.cut()
    answer = api.get(lookup_url(visitor_id))
    assert answer.status_code == 200 and answer.json()["decisions"]["analytics"]["granted"] is True
    changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}), format="json")
    assert changed.status_code == 201
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] == {"granted": False, "reason": "choice"}
    other = api.post(write_url(), consent_body("7d5a1d9a-0000-4000-8000-00000000000a"), format="json")
    assert other.status_code == 201
    assert api.get("/api/v1/sites/demo/config").status_code == 200

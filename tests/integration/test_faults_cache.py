"""Redis taken away mid-flight (through a proxy in front of the real server),
or restarted from an old snapshot: lookups and writes carry on from the
database, no error reaches a client, and no stale decision is served after
Redis is back (consent/cache.py explains how)."""
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from consent.models import CacheInvalidationFailure
from tests.support import consent_body, lookup_url, write_url
from tests.support.servers import RedisServer, redis_answers
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db]


@pytest.fixture
def cut_able_redis():
    if not redis_answers():
        pytest.skip("needs a Redis server on 127.0.0.1:6379 (CI has one)")
    proxy = TcpProxy(6379)
    db = urlsplit(settings.REDIS_URL).path.strip("/") or "14"  # the run's own database, when it has one
    config = {
        "default": {
            "BACKEND": "cmp.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{proxy.port}/{db}",
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


def test_readyz_names_the_cache_when_redis_is_down(client, demo_site, cut_able_redis):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "cache": True}
    cut_able_redis.cut()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "checks": {"database": True, "cache": False}}
    cut_able_redis.restore()
    assert client.get("/readyz").status_code == 200


def test_a_slow_redis_within_the_timeout_changes_no_answer(api, demo_site, visitor_id, cut_able_redis):
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True  # cached
    cut_able_redis.delay = 0.1  # each answer a tenth of a second late (the client waits up to half a second)
    for granted in (False, True, False):
        changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": granted}), format="json")
        assert changed.status_code == 201
        for _ in range(2):
            assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] == {"granted": granted, "reason": "choice"}
    assert not CacheInvalidationFailure.objects.exists()  # slow, not failed: every version reached Redis


@pytest.mark.django_db(transaction=True)  # the invalidation after commit must really run
def test_redis_too_slow_during_a_write_then_fast_again_serves_no_stale_decision(api, demo_site, visitor_id, cut_able_redis):
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["reason"] == "choice"
    assert caches["default"].get(f"visitor:demo:{visitor_id}") is not None, "the grant should be cached before"

    cut_able_redis.delay = 1.0  # slower than the client's half-second timeout: its answers come too late
    changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}), format="json")
    assert changed.status_code == 201
    assert CacheInvalidationFailure.objects.exists()  # the late answers counted as failures, and were recorded
    cut_able_redis.delay = 0.0  # fast again, still holding the old entry

    for _ in range(5):
        answer = api.get(lookup_url(visitor_id)).json()
        assert answer["decisions"]["analytics"] == {"granted": False, "reason": "choice"}


@pytest.mark.django_db(transaction=True)  # the invalidation after commit must really run
def test_redis_unreachable_during_a_write_then_back_serves_no_stale_decision(api, demo_site, visitor_id, cut_able_redis):
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True
    assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["reason"] == "choice"
    assert caches["default"].get(f"visitor:demo:{visitor_id}") is not None, "the grant should be cached before the cut"

    cut_able_redis.cut()
    changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}), format="json")
    assert changed.status_code == 201
    cut_able_redis.restore()  # Redis comes back still holding the old entry

    for _ in range(5):
        answer = api.get(lookup_url(visitor_id)).json()
        assert answer["decisions"]["analytics"] == {"granted": False, "reason": "choice"}


@pytest.mark.django_db(transaction=True)
def test_redis_restarted_from_an_older_snapshot_serves_no_stale_decision(api, demo_site, visitor_id, tmp_path):
    redis = RedisServer(tmp_path).start()
    config = {"default": {"BACKEND": "cmp.redis_cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{redis.port}/0",
                          "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    try:
        with override_settings(CACHES=config):
            token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
            assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True
            assert redis.cli("save") == "OK"  # the snapshot holds the grant
            changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}),
                               format="json")
            assert changed.status_code == 201  # invalidated in Redis, but not in the snapshot
            redis.crash()
            redis.start()  # back with the snapshot: the grant, and no change mark
            assert redis.cli("dbsize") != "0"
            for _ in range(5):
                answer = api.get(lookup_url(visitor_id)).json()
                assert answer["decisions"]["analytics"] == {"granted": False, "reason": "choice"}
    finally:
        if redis.running():
            redis.crash()

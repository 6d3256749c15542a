"""Redis taken away mid-flight (through a proxy in front of the real server),
or restarted from an old snapshot: lookups and writes carry on from the
database, no error reaches a client, and no stale decision is served after
Redis is back (consent/cache.py explains how).

The tests that cut or slow Redis run twice: on one server, and on a Redis
Cluster of three masters (every node behind a proxy, cut or slowed together).
One cluster master restarts from an old snapshot, and a Sentinel failover
promotes a replica that missed the last write.
"""
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from consent import cache, lookups
from consent.models import CacheInvalidationFailure
from tests.support import consent_body, lookup_url, new_visitor_id, wait_until, write_url
from tests.support.servers import RedisSentinels, RedisServer, clear_when_answering, redis_answers
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db]


@pytest.fixture(params=["one server", "cluster"])
def cut_able_redis(request):
    """Redis behind what the test can cut and slow: a proxy in front of the run's server, or the cluster's proxies."""
    if request.param == "cluster":
        proxy = request.getfixturevalue("redis_cluster")
        location = proxy.url
    else:
        if not redis_answers():
            pytest.skip("needs a Redis server on 127.0.0.1:6379 (CI has one)")
        proxy = TcpProxy(6379)
        db = urlsplit(settings.REDIS_URL).path.strip("/") or "14"  # the run's own database, when it has one
        location = f"redis://127.0.0.1:{proxy.port}/{db}"
    config = {
        "default": {
            "BACKEND": "cmp.redis_cache.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    proxies = proxy.proxies if request.param == "cluster" else [proxy]
    with override_settings(CACHES=config):
        clear_when_answering(caches["default"], proxies)
        yield proxy
        proxy.restore()
        proxy.delay = 0.0
        clear_when_answering(caches["default"], proxies)
    if request.param != "cluster":
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
    other = api.post(write_url(), consent_body(new_visitor_id()), format="json")
    assert other.status_code == 201
    assert api.get("/api/v1/sites/demo/config").status_code == 200


def test_readyz_names_the_cache_when_redis_is_down(client, demo_site, cut_able_redis):
    def ready():
        answer = client.get("/readyz")
        return answer.status_code == 200 and answer.json()["checks"] == {"database": True, "cache": True}

    # Ready before the cut and after it, once the cache answers within its timeout again (on a busy
    # machine a check through the proxy can miss its half second now and then: that is not the cut).
    wait_until(ready, what="/readyz to say ready with Redis reachable")
    cut_able_redis.cut()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "checks": {"database": True, "cache": False}}
    cut_able_redis.restore()
    wait_until(ready, what="/readyz to say ready again with Redis back")


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


def grant_and_cache(api, visitor_id) -> str:
    """A first write granting analytics, looked up twice so that Redis holds the grant; its token."""
    token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
    for _ in range(2):
        assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] == {"granted": True, "reason": "choice"}
    assert caches["default"].get(f"visitor:{{demo:{visitor_id}}}") is not None, "the grant should be cached"
    return token


@pytest.mark.django_db(transaction=True)  # the invalidation after commit must really run
def test_redis_too_slow_during_a_write_then_fast_again_serves_no_stale_decision(api, demo_site, visitor_id, cut_able_redis):
    token = grant_and_cache(api, visitor_id)

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
    token = grant_and_cache(api, visitor_id)

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


@pytest.mark.django_db(transaction=True)
def test_a_cluster_master_restarted_from_an_older_snapshot_serves_no_stale_decision(api, demo_site, redis_cluster):
    """As above, on a Redis Cluster: the master holding the visitor restarts from a snapshot taken before the
    change, while the epoch lives on another master (a run id of every master counts, not one)."""
    config = {"default": {"BACKEND": "cmp.redis_cache.RedisCache", "LOCATION": redis_cluster.url,
                          "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    with override_settings(CACHES=config):
        store = caches["default"]
        clear_when_answering(store, redis_cluster.proxies)
        epoch_master = redis_cluster.owner(store.make_key(cache.EPOCH_KEY))
        visitor_id, master = next((v, m) for v in (new_visitor_id() for _ in range(100))
                                  if (m := redis_cluster.owner(store.make_key(lookups.cache_key("demo", v)))) != epoch_master)
        token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
        assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True
        assert redis_cluster.cli(redis_cluster.ports[master], "save") == "OK"  # the snapshot holds the grant
        changed = api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}), format="json")
        assert changed.status_code == 201
        redis_cluster.crash_and_restart(master)  # back with the grant, and without the change's version
        assert redis_cluster.cli(redis_cluster.ports[master], "dbsize") != "0"
        for _ in range(5):
            answer = api.get(lookup_url(visitor_id)).json()
            assert answer["decisions"]["analytics"] == {"granted": False, "reason": "choice"}


@pytest.mark.django_db(transaction=True)
def test_a_sentinel_failover_to_a_replica_that_missed_the_last_write_serves_no_stale_decision(
        api, demo_site, visitor_id, tmp_path):
    """SIGKILL the master just after a write that its replica never received: three Sentinels promote the
    replica, which holds the old entry and the old versions, and the cache serves again, never the old choice."""
    redis = RedisSentinels(tmp_path).start()
    config = {"default": {"BACKEND": "cmp.redis_cache.RedisCache", "LOCATION": redis.url,
                          "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    key = lookups.cache_key("demo", visitor_id)
    try:
        with override_settings(CACHES=config):
            token = api.post(write_url(), consent_body(visitor_id), format="json").json()["token"]
            assert api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"]["granted"] is True
            assert cache.read(key).get(key) is not None, "the grant should be cached before the failover"
            assert redis.replicated()  # the replica holds the grant's entry too
            redis.link.cut()  # ... and misses what follows
            choices = {"analytics": False}
            assert api.post(write_url(), consent_body(visitor_id, token=token, choices=choices),
                            format="json").status_code == 201
            redis.master.crash()

            answers = []

            def cached_again():
                answers.append(api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"])
                return redis.failed_over() and cache.read(key).get(key) is not None

            wait_until(cached_again, 60, "the failover, then the cache serving from the promoted replica")
            for granted in (True, False, True):  # writes reach the new master
                choices = {"analytics": granted}
                assert api.post(write_url(), consent_body(visitor_id, token=token, choices=choices),
                                format="json").status_code == 201
                answers += [api.get(lookup_url(visitor_id)).json()["decisions"]["analytics"] for _ in range(2)]
                assert cache.read(key).get(key)["choices"] == choices  # served from the new master
            stale = [a for a in answers[:-6] if a != {"granted": False, "reason": "choice"}]
            stale += [a for a, granted in zip(answers[-6:], (True, True, False, False, True, True), strict=True)
                      if a != {"granted": granted, "reason": "choice"}]
            assert not stale, f"{len(stale)} stale answers of {len(answers)}"
    finally:
        redis.stop()

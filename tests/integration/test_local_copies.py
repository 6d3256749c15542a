"""Each process's copies of cached lookups (consent/cache.py, "Local copies").

A process answers a repeated lookup from its own copy, with no round trip to
Redis; a write anywhere returns only once no other process can still answer
from a copy of the old value, even when Redis restarted in between and lost
the leases. The cross-process tests run two real gunicorn servers on
PostgreSQL and Redis (CI's second pass).
"""
import shutil
import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache as store
from django.core.management import call_command

from consent import cache
from tests.support import http, needs_postgresql_and_redis, product_server
from tests.support.servers import RedisServer

KEY = "visitor:demo:local-copies"


@pytest.fixture
def redis_cache():
    if not hasattr(store, "get_many_leased"):
        pytest.skip("copies need Redis: run with REDIS_URL=redis://… (CI does)")


def settle_the_lease_table():
    """The test's flush dropped the lease table; the first writer after that waits a whole lease."""
    time.sleep(store.set_many_awaiting_leases({"settle": 1}, 60, ["settle"], "test", settings.CMP_LOCAL_CACHE_SECONDS))


@pytest.mark.django_db
def test_a_repeated_read_is_answered_from_the_process_copy_without_a_round_trip(redis_cache, monkeypatch):
    reader = cache.read(KEY)
    assert cache.fill(reader, KEY, {"choice": "kept"}, 60)

    def no_redis(*args, **kwargs):
        raise AssertionError("the read went to Redis")

    with monkeypatch.context() as patched:
        patched.setattr(store._cache, "get_client", no_redis)
        assert cache.read(KEY).get(KEY) == {"choice": "kept"}


@pytest.mark.django_db
def test_a_change_in_this_process_drops_its_copy_and_waits_for_no_one_else(redis_cache, django_capture_on_commit_callbacks):
    reader = cache.read(KEY)
    cache.fill(reader, KEY, {"choice": "old"}, 60)
    settle_the_lease_table()
    with django_capture_on_commit_callbacks(execute=True):
        cache.forget([KEY], 60)
    assert cache.read(KEY).get(KEY) is None
    only_mine = store.set_many_awaiting_leases({cache.mark_key(KEY): time.time()}, 60, [KEY], cache._owner(), 0.5)
    assert only_mine == 0


@pytest.mark.django_db
def test_a_writer_elsewhere_is_told_how_long_this_process_copy_lives(redis_cache):
    settle_the_lease_table()
    reader = cache.read(KEY)
    cache.fill(reader, KEY, {"choice": "old"}, 60)
    wait = store.set_many_awaiting_leases({cache.mark_key(KEY): time.time()}, 60, [KEY], "another process", 0.5)
    assert 0 < wait <= settings.CMP_LOCAL_CACHE_SECONDS
    unrelated = store.set_many_awaiting_leases({cache.mark_key("other"): time.time()}, 60, ["other"], "another", 0.5)
    assert unrelated == 0


@pytest.mark.django_db
def test_after_a_flush_every_writer_waits_one_lease(redis_cache):
    """Leases live in Redis's memory only: a flush or restart may have lost some, so the first lease after it is waited out."""
    first = store.set_many_awaiting_leases({cache.mark_key(KEY): time.time()}, 60, [KEY], "another process", 0.5)
    assert first == 0.5
    store.clear()
    assert store.set_many_awaiting_leases({cache.mark_key(KEY): time.time()}, 60, [KEY], "another", 0.5) == 0.5


def choose(base, visitor, analytics: bool, token=None):
    body = {"visitor_id": visitor, "choices": {"analytics": analytics, "advertising": False, "recognition": False},
            "policy_version": "1", **({"token": token} if token else {})}
    status, answer = http("POST", f"{base}/api/v1/sites/demo/consents", body)
    assert status == 201, answer
    return answer["token"]


def analytics(base, visitor):
    status, answer = http("GET", f"{base}/api/v1/sites/demo/decisions/{visitor}")
    assert status == 200, answer
    return answer["decisions"]["analytics"]


def flip_and_look(reader, writer, rounds=12):
    """Write through one server while the other holds a copy; the other must answer with the new choice at once."""
    visitor = str(uuid.uuid4())
    token = choose(writer, visitor, True)
    for round_ in range(rounds):
        granted = round_ % 2 == 0
        assert analytics(reader, visitor)["granted"] is granted  # the reader now holds a copy
        assert analytics(reader, visitor)["granted"] is granted
        choose(writer, visitor, not granted, token)
        assert analytics(reader, visitor) == {"granted": not granted, "reason": "choice"}, f"stale in round {round_}"


@pytest.mark.django_db(transaction=True)
def test_no_server_answers_from_an_old_copy_after_a_write_returns(tmp_path):
    needs_postgresql_and_redis()
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    with product_server(tmp_path / "a.log") as a, product_server(tmp_path / "b.log") as b:
        flip_and_look(reader=a, writer=b)
        flip_and_look(reader=b, writer=a)


@pytest.mark.django_db(transaction=True)
def test_no_old_copy_is_served_after_redis_restarted_and_lost_the_leases(tmp_path):
    needs_postgresql_and_redis()
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server (CI has it)")
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    redis = RedisServer(tmp_path).start()
    url = f"redis://127.0.0.1:{redis.port}/0"
    copies = {"CMP_LOCAL_CACHE_SECONDS": "1.0"}  # long enough to outlive the restart
    try:
        with product_server(tmp_path / "a.log", redis_url=url, **copies) as a, \
                product_server(tmp_path / "b.log", redis_url=url, **copies) as b:
            visitor = str(uuid.uuid4())
            token = choose(b, visitor, True)
            for round_ in range(3):
                granted = round_ % 2 == 0
                assert analytics(a, visitor)["granted"] is granted  # a holds a copy, leased in Redis
                redis.crash()
                redis.start()  # empty: the lease is gone
                for _ in range(2):  # b reconnects, so its write's invalidation reaches the new server
                    analytics(b, str(uuid.uuid4()))
                choose(b, visitor, not granted, token)
                assert analytics(a, visitor) == {"granted": not granted, "reason": "choice"}, f"stale in round {round_}"
    finally:
        if redis.running():
            redis.crash()


def test_copies_are_bounded_and_expired_ones_swept_first():
    copies = cache.LocalCopies(0.5)
    snapshot = cache.Snapshot("epoch", generation=0, copies_expire=time.monotonic() - 1)  # already expired
    copies.keep(snapshot, {f"old:{i}": i for i in range(copies.MOST)})
    fresh = cache.Snapshot("epoch", generation=0, copies_expire=time.monotonic() + 60)
    copies.keep(fresh, {"new": 1})
    assert copies.snapshot(["new"]).get("new") == 1
    assert len(copies._kept) == 1  # the expired ones went; the live one stayed
    copies.keep(fresh, {f"live:{i}": i for i in range(copies.MOST)})
    copies.keep(fresh, {"one more": 1})
    assert len(copies._kept) <= copies.MOST


def test_expired_copies_are_swept_within_two_leases():
    copies = cache.LocalCopies(0.05)
    copies.keep(cache.Snapshot("epoch", copies_expire=time.monotonic() + 0.05), {f"visitor:{i}": i for i in range(100)})
    time.sleep(0.11)
    copies.keep(cache.Snapshot("epoch", copies_expire=time.monotonic() + 0.05), {"later": 1})
    assert list(copies._kept) == ["later"]

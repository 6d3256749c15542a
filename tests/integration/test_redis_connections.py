"""The cache's own Redis connections (cmp/redis_cache.py): one per thread and process, never shared, and a
connection that Redis closed while idle is replaced without failing the command; and what is stored comes back
as it was (integers stored as such, for ``INCR``; anything else pickled)."""
import os
import threading

import pytest
import redis

from cmp.redis_cache import RedisCache
from tests.support.servers import RedisServer

pytestmark = pytest.mark.guarantee


@pytest.fixture
def server(tmp_path):
    redis = RedisServer(tmp_path).start()
    yield redis
    redis.stop()


@pytest.fixture
def store(server):
    return RedisCache(server.url, {})


def connection_id(store) -> int:
    return store.command("CLIENT", "ID")


def test_a_connection_redis_closed_while_idle_costs_no_cache_miss(server, store):
    store.set("entry", {"chosen": True}, 60)
    killed = server.cli("CLIENT", "KILL", "ID", str(connection_id(store)))
    assert killed == "1"
    assert store.get("entry") == {"chosen": True}  # on a new connection, sent once more
    assert store.get_many(["entry", "missing"]) == {"entry": {"chosen": True}}
    assert store.connections_made == 2  # so consent/cache.py checks the epoch again before trusting an entry


def test_a_server_that_stays_away_fails_the_command(server, store):
    store.set("entry", 1, 60)
    server.stop()
    with pytest.raises(redis.ConnectionError):
        store.get("entry")


def test_threads_never_share_a_connection(store):
    own = connection_id(store)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(connection_id(store))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 4 and own not in seen
    assert connection_id(store) == own  # and each thread keeps its own


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_process_never_uses_its_parents_connection(store):
    own = connection_id(store)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write, str(connection_id(store)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        childs = int(pipe.read())
    os.waitpid(child, 0)
    assert childs != own
    assert connection_id(store) == own
    store.set("entry", 1, 60)
    assert store.get("entry") == 1  # the parent's replies are still its own


@pytest.mark.parametrize("value", [0, 7, -3, 2**62, "1", True, None, {"a": [1, 2]}, b"\x80 not a pickle"])
def test_a_value_comes_back_as_it_was_stored(store, value):
    store.set("entry", value, 60)
    assert store.get_many(["entry"]) == {"entry": value}
    assert type(store.get("entry", "missing")) is type(value)


def test_an_integer_stays_one_that_redis_can_count(store):
    store.set("count", 41, 60)
    assert store.incr("count") == 42 and store.get("count") == 42

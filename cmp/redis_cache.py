"""The Redis cache backend: Django's cache API on one redis-py client, kept for the backend's life.

Django's own backend builds a client for every operation (costing a lookup more than its GET) and keeps its
connection pool to itself. This one also tells consent/cache.py what its rule 2 needs (docs/cache.md): how
many connections it has made (a new one may lead to a restarted server) and the server's run id.
Values are stored as Django stores them: integers as such (for ``incr``), anything else pickled.

The location is one server, a Redis Cluster or a master behind Sentinels (``cmp.environment.redis_target``);
redis-py's own clients route the commands and follow failovers.

Outside a cluster each thread sends its single commands on a connection of its own (:meth:`RedisCache.command`):
redis-py's client takes a connection from its pool and gives it back around every command, which cost a
lookup's one ``MGET`` as much CPU again as sending it and reading the reply (about 85 against 43 µs here).
"""
import os
import pickle
import threading
from functools import cached_property

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from cmp.environment import redis_target

PICKLE_PROTOCOL = pickle.PROTO  # the first byte of every pickle of protocol 2 or later


def _dumps(value):
    return value if type(value) is int else pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loads(data):
    # A pickle begins with its protocol opcode; an integer is stored as its digits.
    return pickle.loads(data) if data[:1] == PICKLE_PROTOCOL else int(data)


class RedisCache(BaseCache):
    def __init__(self, server, params):
        super().__init__(params)
        self.connections_made = 0
        self.target, self.options = redis_target(server), params.get("OPTIONS", {})
        self.cluster = self.target.kind == "cluster"
        self.own = threading.local()  # this thread's connection, and the process it was made in

    @cached_property
    def client(self):
        """Made at first use: a cluster's client asks a node for the slots at once, which may fail (then again)."""
        target, options = self.target, {**self.options, "redis_connect_func": self._connected}
        if target.kind == "cluster":
            # No retries: a failed command already makes redis-py ask the nodes for the slots again (each within
            # the timeout), and a cache that fails costs a database read, cheaper than waiting for a slow cluster.
            return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
                                username=target.username, password=target.password, retry=Retry(NoBackoff(), 0),
                                **options)
        if target.kind == "sentinel":
            return Sentinel(target.nodes, **self.options).master_for(
                target.master, db=target.db, username=target.username, password=target.password, **options)
        return redis.Redis.from_url(target.url, **options)

    def _connected(self, connection):
        if not self.cluster:  # RedisCluster has done it before it calls this hook
            connection.on_connect()  # what redis-py does when no hook is given
        self.connections_made += 1

    def command(self, *args):
        """Send one command and return Redis's reply, unparsed (bytes, integers, lists).

        A cluster's client routes it to the node of its key. Elsewhere it goes on this thread's own connection,
        made like the pool's (the same settings, failover and connection count) but never shared: not with
        another thread, nor with a process forked from this one. A connection that has failed is closed, since a
        reply may still be on its way, and the command is sent once more on a new one: every command sent here
        may run twice (none is ``INCR``), and a connection Redis closed while idle costs no cache miss.
        """
        if self.cluster:
            return self.client.execute_command(*args)
        for attempt in (1, 2):
            connection = self._own_connection()
            try:
                connection.send_command(*args)
                return connection.read_response()
            except redis.ConnectionError:
                connection.disconnect()
                if attempt == 2:
                    raise
            except BaseException:
                connection.disconnect()
                raise

    def _own_connection(self):
        made = getattr(self.own, "made", None)
        if made is None or made[0] != os.getpid():
            pool = self.client.connection_pool
            made = self.own.made = (os.getpid(), pool.connection_class(**pool.connection_kwargs))
        return made[1]

    def server_id(self) -> str:
        """The run id of the Redis server (of every cluster master): a new one after every restart or failover."""
        if self.cluster:
            nodes = self.client.info("server", target_nodes=RedisCluster.PRIMARIES)
            return ",".join(sorted(f"{name}={info['run_id']}" for name, info in nodes.items()))
        return self.client.info("server")["run_id"]

    def validate_key(self, key):
        """Skip Django's memcached key warnings: Redis takes any key, and ours are built from validated parts."""

    def _seconds(self, timeout):
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(0, int(timeout))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        seconds = self._seconds(timeout)
        if seconds == 0:
            return False
        return bool(self._set(key, value, seconds, version, "NX"))

    def get(self, key, default=None, version=None):
        value = self.command("GET", self.make_key(key, version))
        return default if value is None else _loads(value)

    def get_many(self, keys, version=None):
        keys = list(keys)
        full = [self.make_key(key, version) for key in keys]
        # On a cluster, one MGET per hash slot, sent to the nodes together; each is atomic (docs/cache.md).
        values = self.client.mget_nonatomic(full) if self.cluster else self.command("MGET", *full)
        return {key: _loads(value) for key, value in zip(keys, values, strict=True) if value is not None}

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        seconds = self._seconds(timeout)
        if seconds == 0:
            self.delete(key, version)
        else:
            self._set(key, value, seconds, version)

    def _set(self, key, value, seconds, version, *flags):
        expiry = () if seconds is None else ("EX", seconds)
        return self.command("SET", self.make_key(key, version), _dumps(value), *expiry, *flags)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if len(data) == 1:  # a change of one visitor: one command, not a pipeline
            [(key, value)] = data.items()
            self.set(key, value, timeout, version)
            return []
        seconds = self._seconds(timeout)
        with self.client.pipeline(transaction=False) as pipe:
            for key, value in data.items():
                if seconds == 0:
                    pipe.delete(self.make_key(key, version))
                else:
                    pipe.set(self.make_key(key, version), _dumps(value), ex=seconds)
            pipe.execute()
        return []

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        seconds, full = self._seconds(timeout), self.make_key(key, version)
        return bool(self.command("PERSIST", full) if seconds is None else self.command("EXPIRE", full, seconds))

    def delete(self, key, version=None):
        return bool(self.command("DEL", self.make_key(key, version)))

    def incr(self, key, delta=1, version=None):
        full = self.make_key(key, version)
        if not self.client.exists(full):
            raise ValueError(f"Key '{key}' not found.")
        return self.client.incr(full, delta)

    def count(self, key, timeout, version=None) -> int:
        """Add 1 to a counter that starts at 0 and lasts ``timeout`` seconds from then; the new count, in one round
        trip (what ``add(key, 0)`` and ``incr(key)`` do in three). The rate limits use it (consent/ratelimit.py)."""
        full = self.make_key(key, version)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(full, 0, ex=self._seconds(timeout), nx=True)
            pipe.incr(full)
            return pipe.execute()[1]

    def clear(self):
        return bool(self.client.flushdb())

"""The Redis cache backend: Django's cache API on one redis-py client, kept for the backend's life.

Django's own backend builds a client for every operation (costing a lookup more than its GET) and keeps its
connection pool to itself. This one also tells consent/cache.py what its rule 2 needs (docs/cache.md): how
many connections it has made (a new one may lead to a restarted server) and the server's run id.
Values are stored as Django stores them: integers as such (for ``incr``), anything else pickled.
"""
import pickle

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache


def _dumps(value):
    return value if type(value) is int else pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loads(data):
    try:
        return int(data)
    except ValueError:
        return pickle.loads(data)


class RedisCache(BaseCache):
    def __init__(self, server, params):
        super().__init__(params)
        self.connections_made = 0
        self.client = redis.Redis.from_url(server, redis_connect_func=self._connected, **params.get("OPTIONS", {}))

    def _connected(self, connection):
        connection.on_connect()  # what redis-py does when no hook is given
        self.connections_made += 1

    def server_id(self) -> str:
        """The Redis server's run id: a new one after every restart."""
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
        return bool(self.client.set(self.make_key(key, version), _dumps(value), ex=seconds, nx=True))

    def get(self, key, default=None, version=None):
        value = self.client.get(self.make_key(key, version))
        return default if value is None else _loads(value)

    def get_many(self, keys, version=None):
        keys = list(keys)
        values = self.client.mget([self.make_key(key, version) for key in keys])
        return {key: _loads(value) for key, value in zip(keys, values, strict=True) if value is not None}

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        seconds = self._seconds(timeout)
        if seconds == 0:
            self.delete(key, version)
        else:
            self.client.set(self.make_key(key, version), _dumps(value), ex=seconds)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
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
        return bool(self.client.persist(full) if seconds is None else self.client.expire(full, seconds))

    def delete(self, key, version=None):
        return bool(self.client.delete(self.make_key(key, version)))

    def incr(self, key, delta=1, version=None):
        full = self.make_key(key, version)
        if not self.client.exists(full):
            raise ValueError(f"Key '{key}' not found.")
        return self.client.incr(full, delta)

    def clear(self):
        return bool(self.client.flushdb())

"""Django's Redis cache backend, with what consent/cache.py needs.

- Django's backend builds a new ``redis.Redis`` client object for each cache
  operation; building one (its table of response callbacks) costs more than
  the GET itself on the lookup path. Clients are thread-safe and share the
  connection pool, so one per pool does.
- :meth:`RedisCache.connections_made` counts (re)connections, and
  :meth:`RedisCache.server_id` names the server: a process that had to
  reconnect checks whether Redis restarted (perhaps from an old snapshot)
  before it trusts anything cached.
"""
import itertools

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_connections = itertools.count(1)
_made = {"count": 0}


def _count_connection(connection):
    connection.on_connect()
    _made["count"] = next(_connections)


class ReusedClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool_options["redis_connect_func"] = _count_connection
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClient

    def validate_key(self, key):
        """Skip the per-character memcached key warnings: Redis takes any key, and ours are built from validated parts."""

    def server_id(self) -> str:
        """The Redis server's run id: a new one after every restart."""
        return self._cache.get_client(write=True).info("server")["run_id"]

    def connections_made(self) -> int:
        """How many connections this process has opened to Redis so far."""
        return _made["count"]

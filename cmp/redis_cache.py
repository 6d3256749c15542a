"""Django's Redis cache backend, with what consent/cache.py needs.

- Django's backend builds a new ``redis.Redis`` client object for each cache
  operation; building one (its table of response callbacks) costs more than
  the GET itself on the lookup path. Clients are thread-safe and share the
  connection pool, so one per pool does.
- :meth:`RedisCache.connections_made` counts (re)connections, and
  :meth:`RedisCache.server_id` names the server: a process that had to
  reconnect checks whether Redis restarted (perhaps from an old snapshot)
  before it trusts anything cached.
- :meth:`RedisCache.get_many_leased` and
  :meth:`RedisCache.set_many_awaiting_leases` (one Lua script each, so one
  round trip) let consent/cache.py keep per-process copies that no write can
  outrun.
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



# Read leases for consent/cache.py's local copies. A lease is a field of the
# hash ``<key>:leases``: the holder (one process) -> when its copy expires, in
# the Redis server's milliseconds, so no two clocks are compared.
_READ_AND_LEASE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local count = tonumber(ARGV[3])
local values = redis.call('MGET', unpack(KEYS, 1, count))
for i = count + 1, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[1], now + tonumber(ARGV[2]))
  redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[2]))
end
return values
"""

# Set the values, then answer how many milliseconds other holders' leases on
# them still run. Leases live in memory only: a server that (re)started, or
# a database that was flushed, may have lost some, so for one lease after
# that (the lease table's birth, tagged with the server's run id) every
# writer waits a whole lease.
_SET_AND_AWAIT_LEASES = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local count = tonumber(ARGV[4])
local lease = tonumber(ARGV[2])
for i = 1, count do
  redis.call('SET', KEYS[i], ARGV[4 + i], 'EX', ARGV[3])
end
local wait = 0
for i = count + 1, 2 * count do
  local holders = redis.call('HGETALL', KEYS[i])
  for j = 1, #holders, 2 do
    if holders[j] ~= ARGV[1] then wait = math.max(wait, tonumber(holders[j + 1]) - now) end
  end
end
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local table = redis.call('GET', KEYS[#KEYS])
local born = nil
if table and string.sub(table, 1, #run_id) == run_id then born = tonumber(string.sub(table, #run_id + 2)) end
if not born then
  born = now
  redis.call('SET', KEYS[#KEYS], run_id .. ':' .. now)
end
return math.max(wait, born + lease - now)
"""


def _lease_key(full_key: str) -> str:
    return full_key + ":leases"


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

    # Read leases, for consent/cache.py's per-process copies: a writer waits
    # until every other process's copy of what it changed has expired.

    lease_table = "lease-table"

    @property
    def location(self) -> tuple:
        """Which servers this cache talks to: copies of one server's values are no good for another."""
        return tuple(self._servers)

    def clear(self):
        """Flush the database, and this process's copies of what it held."""
        from consent.cache import drop_local_copies

        super().clear()
        drop_local_copies(self.location)

    def get_many_leased(self, keys, leased, owner: str, lease_seconds: float) -> dict:
        """``get_many(keys)``, leasing the ``leased`` keys to ``owner`` for ``lease_seconds``."""
        full = [self.make_key(key) for key in keys]
        lease_keys = [_lease_key(self.make_key(key)) for key in leased]
        client = self._cache.get_client(write=True)
        script = self._script("_read_script", _READ_AND_LEASE, client)
        values = script(keys=[*full, *lease_keys], args=[owner, int(lease_seconds * 1000), len(full)])
        loads = self._cache._serializer.loads
        return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}

    def set_many_awaiting_leases(self, data: dict, timeout: int, leased, owner: str, lease_seconds: float) -> float:
        """``set_many(data)``; returns the seconds until every lease on the ``leased`` keys
        held by others than ``owner`` has run out (one ``leased`` key per ``data`` key)."""
        full = [self.make_key(key) for key in data]
        lease_keys = [_lease_key(self.make_key(key)) for key in leased]
        assert len(lease_keys) == len(full)
        client = self._cache.get_client(write=True)
        script = self._script("_write_script", _SET_AND_AWAIT_LEASES, client)
        dumps = self._cache._serializer.dumps
        waited_ms = script(keys=[*full, *lease_keys, self.make_key(self.lease_table)],
                           args=[owner, int(lease_seconds * 1000), int(timeout), len(full), *map(dumps, data.values())])
        return max(0, int(waited_ms)) / 1000

    def _script(self, name, source, client):
        script = getattr(self, name, None)
        if script is None or script.registered_client is not client:
            script = client.register_script(source)
            setattr(self, name, script)
        return script

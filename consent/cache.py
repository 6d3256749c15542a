"""A cache that never answers with what the database has since changed (docs/cache.md argues it).

1. Entries count only while the *version* they were read at is still the key's: every change replaces it.
2. Entries count only in the *epoch* they were filled in, trusted for one lease at a time, after checking
   that no change failed to reach the cache and that the cache is the same server.
3. A change that cannot reach the cache records the failure and waits one lease.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, transaction

from .models import CacheInvalidationFailure

logger = logging.getLogger(__name__)

EPOCH_KEY = "cache-epoch"
# A reader slower than this between its read and its fill does not fill; a
# version outlives every entry that a reader which saw the one before it may fill.
FILL_WINDOW = 2.0
# Waits are durations measured on each node's own clock: allow for clocks that run at slightly different rates.
DRIFT = 0.01


def version_key(key: str) -> str:
    """The key's version: the same name plus a suffix, so a hash tag in ``key`` puts both in one cluster slot."""
    return f"{key}:version"


@dataclass
class Local:
    """What one cache client keeps beside the cache: its epoch's lease, and objects built from cached entries."""

    epoch: str | None = None
    checked: float = float("-inf")  # time.monotonic() when the lease was last renewed
    connections: int = 0  # the client's connections_made when last checked
    built: dict = field(default_factory=dict)  # key -> (epoch, token, object): see build()


@dataclass(frozen=True)
class Snapshot:
    """What one round trip to the cache returned: entries and versions of some keys."""

    epoch: str | None  # None: the cache cannot be trusted for this request
    values: dict
    started: float  # time.monotonic() before the round trip

    def get(self, key):
        """The cached value of ``key``, if it was filled in this epoch at the current version."""
        entry = self.values.get(key)
        if self.epoch is None or not (isinstance(entry, tuple) and len(entry) == 3):
            return None
        epoch, version, value = entry
        return value if epoch == self.epoch and version == self.values.get(version_key(key)) else None

    def changed_lately(self, key) -> bool:
        """Whether a change of ``key`` reached the cache within the life of its version (:func:`forget`)."""
        return self.values.get(version_key(key)) is not None


def read(*keys) -> Snapshot:
    """``keys`` and their versions, in one round trip."""
    started = time.monotonic()
    store, local = _client()
    try:
        values = store.get_many([*keys, *map(version_key, keys)])
    except Exception:
        logger.warning("cache unreachable on read; answering from the database")
        return Snapshot(None, {}, started)
    return Snapshot(_epoch(store, local), values, started)


def fill(snapshot: Snapshot, key: str, value, timeout: int) -> bool:
    """Cache ``value``, read from the database after ``snapshot`` was taken."""
    if snapshot.epoch is None or time.monotonic() - snapshot.started > FILL_WINDOW:
        return False  # no trusted cache, or so slow that the version it saw may have expired
    try:
        caches["default"].set(key, (snapshot.epoch, snapshot.values.get(version_key(key)), value), timeout)
        return True
    except Exception:
        logger.warning("cache unreachable on fill; not cached")
        return False


def build(snapshot: Snapshot, key: str, make, timeout: int):
    """The object ``make()`` builds from the database, kept by this client while the cached ``key`` stays the same.

    ``key``'s cached value is a token: ``make`` is called again once it changes.
    """
    _, local = _client()
    token = snapshot.get(key)
    kept = local.built.get(key)
    if token is not None and kept is not None and kept[:2] == (snapshot.epoch, token):
        return kept[2]
    made = make()
    if made is None:
        return None
    if token is None:
        token = secrets.token_hex(8)
        if not fill(snapshot, key, token, timeout):
            token = None  # kept only for fail-closed answers (:func:`last_built`)
    local.built[key] = (snapshot.epoch, token, made)
    return made


def last_built(key: str):
    """What :func:`build` last made for ``key`` in this client, however old, or None."""
    kept = _client()[1].built.get(key)
    return kept[2] if kept else None


def forget(keys, entry_seconds: int | None) -> None:
    """Replace the versions of ``keys`` now and when the transaction commits: every cached entry of them is disowned.

    Call it inside the transaction that changes the rows behind ``keys``;
    ``entry_seconds`` is how long those entries are cached (None: until changed).
    """
    keys = tuple(keys)
    if not keys:
        return
    if not _new_versions(keys, entry_seconds):
        _record_failure(keys)  # part of the transaction: committed with the change
    transaction.on_commit(lambda: _after_commit(keys, entry_seconds))


def _after_commit(keys, entry_seconds) -> None:
    if _new_versions(keys, entry_seconds):
        return
    try:
        _record_failure(keys)
    except DatabaseError:
        logger.error("could not record a failed cache invalidation of %s", keys)
    # Every lease renewed before the record was committed runs out within one lease: then none trusts the old entries.
    time.sleep(lease_seconds() * (1 + DRIFT))


def _new_versions(keys, entry_seconds) -> bool:
    # A version outlives every entry filled by a reader that saw the version before it.
    lasting = None if entry_seconds is None else int(entry_seconds + 2 * FILL_WINDOW) + 1
    try:
        caches["default"].set_many({version_key(key): secrets.token_hex(8) for key in keys}, lasting)
        return True
    except Exception:
        logger.warning("cache unreachable on invalidation of %s", keys)
        return False


def _record_failure(keys) -> None:
    CacheInvalidationFailure.objects.create(keys=" ".join(keys)[:500])


def lease_seconds() -> float:
    return settings.CMP_CACHE_LEASE_SECONDS


def _client():
    """This thread's cache client (Django makes one per thread) and what it keeps beside the cache."""
    store = caches["default"]
    local = getattr(store, "consent_local", None)
    if local is None:
        local = store.consent_local = Local()
    return store, local


def _epoch(store, local: Local) -> str | None:
    """The epoch to trust now; renewed every half-lease, and before anything else after a reconnection."""
    made = getattr(store, "connections_made", 0)  # the local-memory cache has no connections
    if made == local.connections and time.monotonic() < local.checked + lease_seconds() / 2:
        return local.epoch
    local.connections = made
    checked = time.monotonic()
    try:
        last_failure = CacheInvalidationFailure.objects.order_by("-id").values_list("id", flat=True).first() or 0
    except DatabaseError:
        last_failure = None  # no change can commit, nor fail, while the database is down
    try:
        server = store.server_id() if hasattr(store, "server_id") else "local"
        stored = store.get(EPOCH_KEY)
        if isinstance(stored, tuple) and stored[1:] == (last_failure, server):
            epoch = stored[0]
        elif last_failure is None and isinstance(stored, tuple) and stored[0] == local.epoch \
                and stored[2] == server and checked < local.checked + lease_seconds():
            epoch = stored[0]  # keep answering cached visitors while the lease holds (docs/cache.md)
        elif last_failure is None:
            epoch = None  # cannot check: trust nothing cached, disown nothing
        else:
            epoch = secrets.token_hex(8)  # a failure on record, another server, or none yet: disown every entry
            store.set(EPOCH_KEY, (epoch, last_failure, server), None)
    except Exception:
        logger.warning("cache unreachable on lease renewal")
        epoch = None
    if epoch is None:
        local.epoch, local.checked = None, float("-inf")
        return None
    local.epoch, local.checked = epoch, checked
    return epoch

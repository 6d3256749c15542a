"""A cache that never answers with what the database has since changed.

The database is the source of truth; the cache (Redis in production, the
local-memory cache on the embedded default) only saves work on the lookup
path. Three rules keep it honest, even when Redis is slow, unreachable, or
restarted:

1. **Change marks, not deletes.** A change writes a mark with its time next
   to each cached key (``changed:<key>``), in its transaction and again after
   it commits. An entry carries the time its reader started; it counts only
   if it started after the latest mark (with a margin for clock
   differences). A reader that loaded the old row before the commit can
   therefore never put it back, however late its write lands; the mark
   outlives every entry it could disown.
2. **An epoch under a lease.** Every entry is tagged with the current epoch,
   stored in the cache itself with a lease: readers trust an entry only when
   it carries the epoch and the lease has not run out. Readers renew the
   lease every half-lease after checking, in the database, that no
   invalidation has failed since and that Redis has not restarted (its run
   id); if either happened, they start a new epoch, which disowns every
   entry written before.
3. **Failures are recorded and waited out.** When a change cannot reach the
   cache after its commit, it records a :class:`~consent.models.CacheInvalidationFailure`
   and waits one lease before returning: by then no reader anywhere trusts
   an entry from before the change.

When the cache cannot be reached at all, reads miss and nothing is filled:
every request is answered from the database.

**Local copies.** A round trip to Redis costs a lookup more than everything
else it does, so each process also keeps what it read, for at most
``CMP_LOCAL_CACHE_SECONDS``, under a *read lease* it takes in Redis in the
same round trip (cmp/redis_cache.py). A change's mark after its commit
answers how long other processes' leases on those keys still run, and the
writer waits that long before it returns; it drops its own process's copies
at once. Copies never outlive the epoch's lease either, so rule 3 covers
them. README.md ("Never a stale decision", rule 4) walks through why.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache as _store
from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

EPOCH_KEY = "cache-epoch"
# A reader slower than this between its read and its fill does not fill.
FILL_WINDOW = 2.0
# Allowed clock difference between application nodes (their clocks judge marks and leases).
CLOCK_MARGIN = 0.25


def mark_key(key: str) -> str:
    return f"changed:{key}"


@dataclass
class Snapshot:
    """What one round trip to the cache returned: the epoch and some entries."""

    epoch: str | None  # None: the cache cannot be trusted for this request
    entries: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    copies: dict = field(default_factory=dict)  # values already checked, from this process's local copies
    leased: LocalCopies | None = None  # where to keep what this read returned, if it took leases
    generation: int = 0  # of ``leased`` when the read started
    copies_expire: float = 0.0  # (monotonic) when copies of this read must be dropped

    def get(self, key):
        """The cached value of ``key``, if it is of this epoch and newer than its last change."""
        if key in self.copies:
            return self.copies[key]
        entry = self.entries.get(key)
        if self.epoch is None or not isinstance(entry, tuple) or len(entry) != 3 or entry[0] != self.epoch:
            return None
        changed_at = self.entries.get(mark_key(key))
        if changed_at is not None and entry[1] - CLOCK_MARGIN <= changed_at:
            return None  # its reader may have started before the change committed
        return entry[2]


def read(*keys) -> Snapshot:
    """The epoch, ``keys`` and their change marks: from this process's copies, or in one round trip."""
    copies = _local_copies()
    if copies is not None:
        kept = copies.snapshot(keys)
        if kept is not None:
            return kept
    snapshot = Snapshot(None)
    wanted = [EPOCH_KEY, *keys, *map(mark_key, keys)]
    try:
        if copies is None:
            entries = _store.get_many(wanted)
        else:
            snapshot.leased, snapshot.generation = copies, copies.generation
            entries = _store.get_many_leased(wanted, keys, _owner(), copies.seconds)
    except Exception:
        logger.warning("cache unreachable on read; answering from the database")
        return Snapshot(None)
    snapshot.epoch, lease_ends = _current_epoch(entries.pop(EPOCH_KEY, None))
    snapshot.entries = entries
    if copies is not None and snapshot.epoch is not None:
        # Neither the read lease (taken after ``started``) nor the epoch's lease may run out on a copy.
        lasts = min(copies.seconds, lease_ends - snapshot.started)
        snapshot.copies_expire = snapshot.started_monotonic + lasts
        copies.keep(snapshot, {key: snapshot.get(key) for key in keys})
    return snapshot


def fill(snapshot: Snapshot, key: str, value, timeout: int) -> bool:
    """Cache ``value``, read from the database after ``snapshot`` was taken."""
    if snapshot.epoch is None or time.monotonic() - snapshot.started_monotonic > FILL_WINDOW:
        return False  # no trusted cache, or too slow: a change mark may expire before this entry
    try:
        _store.set(key, (snapshot.epoch, snapshot.started, value), timeout)
    except Exception:
        logger.warning("cache unreachable on fill; not cached")
        return False
    if snapshot.leased is not None:
        # Read after the leases were taken: a write that commits later waits for them.
        snapshot.leased.keep(snapshot, {key: value})
    return True


def forget(keys, entry_seconds: int) -> None:
    """Disown every cached copy of ``keys``, now and when the transaction commits.

    Call it inside the transaction that changes the rows behind ``keys``;
    ``entry_seconds`` is how long those entries are cached.
    """
    keys = tuple(keys)
    if not keys:
        return
    copies = _local_copies()
    if copies is not None:
        copies.drop(keys)  # and again after the commit: a read in between may have kept the old value
    if not _mark(keys, entry_seconds):
        _record_failure(keys)  # part of the transaction: committed with the change
    transaction.on_commit(lambda: _forget_after_commit(keys, entry_seconds))


def _forget_after_commit(keys, entry_seconds: int) -> None:
    copies = _local_copies()
    if copies is None:
        marked, wait = _mark(keys, entry_seconds), 0.0
    else:
        wait = _mark_awaiting_leases(keys, entry_seconds, copies.seconds)
        marked = wait is not None
        # After the mark, not before: a read in this process that came before
        # the mark may have kept the old value; one after it sees the mark.
        copies.drop(keys)
    if marked:
        time.sleep(wait)  # until no other process can still answer from a copy of the old value
        return
    try:
        _record_failure(keys)
    except DatabaseError:
        logger.error("could not record a failed cache invalidation of %s", keys)
    # A lease still valid now was renewed by a check that did not see the
    # failure, so it ends within one lease from now: wait it out.
    recorded_at = time.time()
    time.sleep(max(0.0, recorded_at + lease_seconds() + CLOCK_MARGIN - time.time()))


def _mark(keys, entry_seconds: int) -> bool:
    lasting = _mark_lasting(entry_seconds)
    try:
        if len(keys) == 1:  # the usual case; set_many would wrap it in MULTI/EXEC
            _store.set(mark_key(keys[0]), time.time(), lasting)
        else:
            _store.set_many({mark_key(key): time.time() for key in keys}, lasting)
        return True
    except Exception:
        logger.warning("cache unreachable on invalidation of %s", keys)
        return False


def _mark_awaiting_leases(keys, entry_seconds: int, lease: float) -> float | None:
    """Mark ``keys`` changed; the seconds other processes' copies may still live, or None if Redis failed."""
    try:
        return _store.set_many_awaiting_leases({mark_key(key): time.time() for key in keys},
                                               _mark_lasting(entry_seconds), keys, _owner(), lease)
    except Exception:
        logger.warning("cache unreachable on invalidation of %s", keys)
        return None


def _mark_lasting(entry_seconds: int) -> int:
    # A mark must outlive any entry filled by a reader that started before it.
    return int(entry_seconds + FILL_WINDOW + CLOCK_MARGIN) + 1


def _record_failure(keys) -> None:
    from .models import CacheInvalidationFailure

    CacheInvalidationFailure.objects.create(keys=" ".join(keys)[:500])


# --- The epoch and its lease ------------------------------------------------------

_renewing = threading.Lock()
_last_renewal = {"at": 0.0, "needed": False}


def lease_seconds() -> float:
    return settings.CMP_CACHE_LEASE_SECONDS


def _current_epoch(value) -> tuple[str | None, float]:
    """The epoch to trust for this request and when its lease ends; renews the lease when due.

    After a reconnection the lease is not trusted until renewed: Redis may
    have restarted from a snapshot that predates some change marks.
    """
    now = time.time()
    lease = lease_seconds()
    if _reconnected():
        _last_renewal["needed"] = True
    known = isinstance(value, tuple) and len(value) == 4
    valid = known and value[3] > now and not _last_renewal["needed"]
    if valid and value[3] - now > lease / 2:
        return value[0], value[3]
    # Due: extend it at most every quarter-lease per process. Ran out: renew now.
    if valid and time.monotonic() - _last_renewal["at"] < lease / 4:
        return value[0], value[3]
    if not _renewing.acquire(blocking=not valid):
        return (value[0], value[3]) if valid else (None, 0.0)
    try:
        _last_renewal["at"] = time.monotonic()
        return _renew(value if known else None, now, lease)
    finally:
        _renewing.release()


def _renew(value, checked_at: float, lease: float) -> tuple[str | None, float]:
    """Extend the epoch's lease, or start a new epoch if it may hold stale entries."""
    from .models import CacheInvalidationFailure

    try:
        last_failure = CacheInvalidationFailure.objects.order_by("-id").values_list("id", flat=True).first() or 0
    except DatabaseError:
        if value is None:
            return None, 0.0
        # The database is down: no write can commit, so none can have failed
        # since the last check. Keep answering from the cache (SECURITY.md).
        last_failure = value[1]
    try:
        server = _server_id()
    except Exception:
        logger.warning("cache unreachable on lease renewal")
        return None, 0.0
    if value is not None and value[1:3] == (last_failure, server):
        epoch = value[0]  # no failed invalidation, same server: every entry is still good
    else:
        # A failed invalidation is on record, or Redis restarted (perhaps
        # from a snapshot older than some writes): disown every entry.
        epoch = secrets.token_hex(8)
    try:
        # The lease counts from the check, not from now: a failure recorded
        # after the check is waited out by its writer (see _forget_after_commit).
        _store.set(EPOCH_KEY, (epoch, last_failure, server, checked_at + lease), timeout=None)
    except Exception:
        logger.warning("cache unreachable on lease renewal")
        return None, 0.0
    _last_renewal["needed"] = False
    return epoch, checked_at + lease


_seen_connections = {"count": None}


def _reconnected() -> bool:
    """Has this process opened a new connection to the cache since it last looked?"""
    counter = getattr(_store, "connections_made", None)
    if counter is None:
        return False  # the local-memory cache: no server to restart
    made = counter()
    changed, _seen_connections["count"] = made != _seen_connections["count"], made
    return changed


def _server_id() -> str:
    """Which cache server answers; the local-memory cache lives and dies with the process."""
    server_id = getattr(_store, "server_id", None)
    return server_id() if server_id else "local"


# --- This process's copies ------------------------------------------------------------

class LocalCopies:
    """Values this process read and checked, each kept until its read lease ends."""

    MOST = 4096  # copies kept at once, at most; expired ones are swept every other lease too

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.generation = 0  # bumped by every change this process makes
        self._kept = {}  # key -> (expires, monotonic; epoch; value)
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def snapshot(self, keys) -> Snapshot | None:
        """A snapshot of ``keys`` from copies alone, or None if one is missing or expired."""
        now, epoch, copies = time.monotonic(), None, {}
        for key in keys:
            kept = self._kept.get(key)
            if kept is None or kept[0] <= now or (epoch is not None and kept[1] != epoch):
                return None
            epoch, copies[key] = kept[1], kept[2]
        return Snapshot(epoch, copies=copies)

    def keep(self, snapshot: Snapshot, values: dict) -> None:
        """Keep the checked ``values`` that ``snapshot``'s leases cover, unless this process changed anything since."""
        with self._lock:
            if snapshot.generation != self.generation:
                return  # a change here may have come between the read and now
            if len(self._kept) >= self.MOST or time.monotonic() > self._swept + self.seconds * 2:
                self._sweep()
            for key, value in values.items():
                if value is not None:
                    self._kept[key] = (snapshot.copies_expire, snapshot.epoch, value)

    def _sweep(self) -> None:
        now = self._swept = time.monotonic()
        self._kept = {key: kept for key, kept in self._kept.items() if kept[0] > now}
        if len(self._kept) >= self.MOST // 2:
            self._kept = {}  # too many live ones: a copy only saves one round trip

    def drop(self, keys) -> None:
        with self._lock:
            self.generation += 1
            for key in keys:
                self._kept.pop(key, None)


_copies: dict[tuple, LocalCopies] = {}
_process = {"pid": None, "owner": ""}


def _local_copies() -> LocalCopies | None:
    """This process's copies for the current cache server, or None where leases are off or unsupported."""
    seconds = min(settings.CMP_LOCAL_CACHE_SECONDS, lease_seconds())
    location = getattr(_store, "location", None)  # only cmp.redis_cache.RedisCache takes leases
    if seconds <= 0 or location is None:
        return None
    if _process["pid"] != os.getpid():  # a forked child must not answer from its parent's copies
        _copies.clear()
        _process.update(pid=os.getpid(), owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    copies = _copies.get(location)
    if copies is None or copies.seconds != seconds:
        copies = _copies[location] = LocalCopies(seconds)
    return copies


def _owner() -> str:
    """Who holds this process's leases (set by :func:`_local_copies`)."""
    return _process["owner"]


def drop_local_copies(location: tuple) -> None:
    _copies.pop(location, None)

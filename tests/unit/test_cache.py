"""The cache's promise (consent/cache.py, docs/cache.md): an entry read before a change is never served after it.

These run on whichever cache the suite runs on (local memory, or Redis in
CI's second pass); tests/integration/test_faults_cache.py cuts and restarts a real Redis.
"""
import time
import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings
from redis.crc import key_slot

from consent import cache, lookups, sites
from consent.models import CacheInvalidationFailure
from tests.support import wait_until

pytestmark = pytest.mark.django_db
KEY = "visitor:{demo:test}"


def change(capture, *keys):
    """A change of the rows behind ``keys``, committed."""
    with capture(execute=True):
        cache.forget(keys, 60)


def test_a_fill_is_served_until_the_key_changes(django_capture_on_commit_callbacks):
    before = cache.read(KEY)
    assert before.get(KEY) is None
    assert cache.fill(before, KEY, {"choice": "old"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "old"}
    change(django_capture_on_commit_callbacks, KEY)
    assert cache.read(KEY).get(KEY) is None


def test_a_reader_that_started_before_a_change_cannot_put_the_old_value_back(django_capture_on_commit_callbacks):
    slow_reader = cache.read(KEY)  # reads the old row ...
    change(django_capture_on_commit_callbacks, KEY)  # ... a write changes it and commits ...
    assert cache.fill(slow_reader, KEY, {"choice": "old"}, 60)  # ... and the slow reader's fill lands last
    assert cache.read(KEY).get(KEY) is None
    fresh_reader = cache.read(KEY)
    assert cache.fill(fresh_reader, KEY, {"choice": "new"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "new"}


def test_a_reader_inside_the_change_cannot_put_the_old_value_back(django_capture_on_commit_callbacks):
    """The version set in the transaction is replaced again after the commit."""
    with django_capture_on_commit_callbacks(execute=True):
        cache.forget([KEY], 60)
        reader = cache.read(KEY)  # sees the transaction's version, but reads the row as it was before
        cache.fill(reader, KEY, {"choice": "old"}, 60)
        assert cache.read(KEY).get(KEY) == {"choice": "old"}  # not committed yet: still the truth
    assert cache.read(KEY).get(KEY) is None


def test_a_change_to_one_key_leaves_the_others(django_capture_on_commit_callbacks):
    other = "visitor:{demo:other}"
    for key in (KEY, other):
        cache.fill(cache.read(key), key, key, 60)
    change(django_capture_on_commit_callbacks, KEY)
    assert cache.read(KEY, other).get(other) == other


def test_an_entry_and_its_version_share_a_cluster_slot_and_visitors_spread_over_the_slots():
    """On a Redis Cluster one MGET of one slot reads an entry with its version (docs/cache.md: the key layout)."""
    def slot(key):
        return key_slot(caches["default"].make_key(key).encode())

    for key in (lookups.cache_key("demo", uuid.uuid4()), sites.cache_key("demo")):
        assert slot(key) == slot(cache.version_key(key)), key
    assert len({slot(lookups.cache_key("demo", uuid.uuid4())) for _ in range(100)}) > 90  # not one slot per site


def test_a_reader_slower_than_the_fill_window_does_not_fill():
    reader = cache.read(KEY)
    late = cache.Snapshot(reader.epoch, reader.values, reader.started - cache.FILL_WINDOW - 1)
    assert cache.fill(late, KEY, {"choice": "old"}, 60) is False
    assert cache.read(KEY).get(KEY) is None


def test_what_is_built_from_a_token_is_kept_until_the_token_changes(django_capture_on_commit_callbacks):
    built = []

    def make():
        built.append(object())
        return built[-1]

    first = cache.build(cache.read(KEY), KEY, make, 60)
    assert cache.build(cache.read(KEY), KEY, make, 60) is first
    change(django_capture_on_commit_callbacks, KEY)
    second = cache.build(cache.read(KEY), KEY, make, 60)
    assert second is not first and cache.last_built(KEY) is second and len(built) == 2


def renewed(after: float):
    """True once this client's lease was renewed after ``after`` (time.monotonic())."""
    return cache._client()[1].checked > after


def next_renewal():
    """Wait for this client to renew its lease (reading, as lookups do)."""
    now = time.monotonic()
    wait_until(lambda: cache.read(KEY) and renewed(now), 10, "the lease's renewal")


@override_settings(CMP_CACHE_LEASE_SECONDS=0.2)
def test_a_recorded_invalidation_failure_disowns_every_entry_at_the_next_renewal():
    # First the epoch of this test's emptied cache: a renewal between the fill and the read below would
    # otherwise start it, and disown the entry before any failure is recorded.
    next_renewal()
    cache.fill(cache.read(KEY), KEY, {"choice": "old"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "old"}
    CacheInvalidationFailure.objects.create(keys=KEY)  # a write somewhere could not reach the cache
    next_renewal()
    assert cache.read(KEY).get(KEY) is None


@override_settings(CMP_CACHE_LEASE_SECONDS=0.2)
def test_without_failures_a_renewal_keeps_the_entries():
    next_renewal()  # of the epoch this test's emptied cache starts
    cache.fill(cache.read(KEY), KEY, {"choice": "same"}, 60)
    next_renewal()
    assert cache.read(KEY).get(KEY) == {"choice": "same"}

"""The cache's promise (consent/cache.py): an entry read before a change is never served after it.

These run on whichever cache the suite runs on (local memory, or Redis in
CI's second pass); tests/integration/test_faults_cache.py cuts and restarts a real Redis.
"""
import time

import pytest
from django.test import override_settings

from consent import cache
from consent.models import CacheInvalidationFailure

pytestmark = pytest.mark.django_db
KEY = "visitor:demo:test"


def test_a_fill_is_served_until_the_key_changes(django_capture_on_commit_callbacks):
    before = cache.read(KEY)
    assert before.get(KEY) is None
    assert cache.fill(before, KEY, {"choice": "old"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "old"}


def test_a_reader_that_started_before_a_change_cannot_put_the_old_value_back(django_capture_on_commit_callbacks):
    slow_reader = cache.read(KEY)  # reads the old row ...
    with django_capture_on_commit_callbacks(execute=True):
        cache.forget([KEY], 60)  # ... a write changes it and commits ...
    cache.fill(slow_reader, KEY, {"choice": "old"}, 60)  # ... and the slow reader's fill lands last
    assert cache.read(KEY).get(KEY) is None
    time.sleep(cache.CLOCK_MARGIN + 0.05)
    fresh_reader = cache.read(KEY)
    assert cache.fill(fresh_reader, KEY, {"choice": "new"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "new"}


def test_a_reader_slower_than_the_fill_window_does_not_fill(monkeypatch):
    reader = cache.read(KEY)
    reader.started_monotonic -= cache.FILL_WINDOW + 1
    assert cache.fill(reader, KEY, {"choice": "old"}, 60) is False
    assert cache.read(KEY).get(KEY) is None


@override_settings(CMP_CACHE_LEASE_SECONDS=0.2)
def test_a_recorded_invalidation_failure_disowns_every_entry_at_the_next_renewal():
    reader = cache.read(KEY)
    cache.fill(reader, KEY, {"choice": "old"}, 60)
    assert cache.read(KEY).get(KEY) == {"choice": "old"}
    CacheInvalidationFailure.objects.create(keys=KEY)  # a write somewhere could not reach the cache
    time.sleep(0.25)  # the lease runs out; the next read renews it and sees the failure
    assert cache.read(KEY).get(KEY) is None


@override_settings(CMP_CACHE_LEASE_SECONDS=0.2)
def test_without_failures_a_renewal_keeps_the_entries():
    reader = cache.read(KEY)
    cache.fill(reader, KEY, {"choice": "same"}, 60)
    time.sleep(0.25)
    assert cache.read(KEY).get(KEY) == {"choice": "same"}

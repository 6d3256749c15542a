"""Cache access that never fails a request.

The database is the source of truth; the cache only saves work. When the
cache (Redis) is unreachable, reads miss and writes are skipped, so lookups
and consent writes carry on from the database (and nothing is served from a
cache that could not be told about a change: a failed invalidation is
reported to the caller, which records it).
"""
import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def get(key):
    try:
        return cache.get(key)
    except Exception:
        logger.warning("cache unreachable on get; reading the database")
        return None


def set(key, value, timeout):  # noqa: A001 - mirrors the cache API
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache unreachable on set; not cached")


def delete(key) -> bool:
    """Drop ``key``; False when the cache could not be reached."""
    try:
        cache.delete(key)
        return True
    except Exception:
        logger.warning("cache unreachable on delete of %s", key)
        return False

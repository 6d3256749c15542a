"""Fixed-window rate limits counted in the cache (Redis in production).

``check("writes-ip", ip, (120, 60))`` raises :class:`~consent.errors.RateLimited`
on the 121st call within a minute. Rates are parsed once, with the other
settings (``cmp/settings.py``). If the cache is unreachable the limit is not
applied: refusing a visitor's consent because a counter is down would lose a
choice.
"""
import logging
import time

from django.core.cache import cache

from .errors import RateLimited

logger = logging.getLogger(__name__)


def check(scope: str, key: str, rate: tuple[int, int], now=None) -> None:
    limit, window = rate
    if limit <= 0:
        return  # 0 disables the limit
    now = now or time.time()
    window_start = int(now // window * window)
    cache_key = f"rl:{scope}:{key}:{window_start}"
    try:
        count = _count(cache_key, window + 1)
    except Exception:  # the counter store is down: let the request through
        logger.warning("Rate limit store unavailable; %s not limited", scope)
        return
    if count > limit:
        raise RateLimited(max(1, int(window_start + window - now + 0.999)))


def _count(key: str, seconds: int) -> int:
    """One more call in the window: one round trip on Redis (its backend counts), three with Django's API."""
    if hasattr(cache, "count"):
        return cache.count(key, seconds)
    cache.add(key, 0, timeout=seconds)
    return cache.incr(key)

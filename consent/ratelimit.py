"""Fixed-window rate limits counted in the cache (Redis in production).

``check("writes-ip", ip, "120/60")`` raises :class:`RateLimited` on the 121st
call within a minute. If the cache is unreachable the limit is not applied:
refusing a visitor's consent because a counter is down would lose a choice.
"""
import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many requests; retry after {retry_after} s.")
        self.retry_after = retry_after


def parse(rate: str) -> tuple[int, int]:
    count, _, seconds = rate.partition("/")
    return int(count), int(seconds or 60)


def check(scope: str, key: str, rate: str, now=None) -> None:
    limit, window = parse(rate)
    if limit <= 0:
        return  # 0 disables the limit
    now = now or time.time()
    window_start = int(now // window * window)
    cache_key = f"rl:{scope}:{key}:{window_start}"
    try:
        cache.add(cache_key, 0, timeout=window + 1)
        count = cache.incr(cache_key)
    except Exception:  # the counter store is down: let the request through
        logger.warning("Rate limit store unavailable; %s not limited", scope)
        return
    if count > limit:
        raise RateLimited(retry_after=max(1, int(window_start + window - now + 0.999)))

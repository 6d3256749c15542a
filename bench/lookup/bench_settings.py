"""The product's settings plus the benchmarks' baselines (bench/lookup/bench_urls.py).

The trivial view's middleware sits right after the lookup's fast path, so the
two go through the same middleware (security, static files, CORS, the fast
path's test of the URL) and skip the same (sessions, CSRF, auth, messages).
"""
from cmp.settings import *  # noqa: F403
from cmp.settings import MIDDLEWARE

ROOT_URLCONF = "bench.lookup.bench_urls"
_FAST_PATH = MIDDLEWARE.index("cmp.fastpath.FastPathMiddleware")
MIDDLEWARE = [*MIDDLEWARE[:_FAST_PATH + 1], "bench.lookup.bench_urls.TrivialFastPath", *MIDDLEWARE[_FAST_PATH + 1:]]

"""The product's settings plus one trivial view: the web stack's own ceiling."""
from cmp.settings import *  # noqa: F403

ROOT_URLCONF = "bench.lookup.bench_urls"

"""Lookup latency with 100,000 visitors against 10,000,000, cache cold and warm, and the size on disk.

    .venv/bin/python bench/lookup/bench_scale.py [--small 100000] [--large 10000000] [--sample 2000]

For each size, a fresh PostgreSQL database gets that many visitors loaded with
COPY, as their first write through the API leaves them (bench/stack.py), and
vacuumed as a long-lived table is; the product runs under gunicorn (2 sync
workers) on a redis-server of its own, and one client looks up the same number of stored visitors, drawn at random,
twice, one request at a time: first with Redis emptied (each lookup reads
PostgreSQL: cold), then again (each is answered from Redis: warm). The two
sizes are measured in the same run, the small one first. It also reports the
size on disk of the visitors table (with its indexes) per million visitors.
Writes bench/lookup/SCALE.md (bench/results.py).
"""
import argparse
import random
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import results, stack

DB = "perf_bench_scale"
MEASURED = ["bench/lookup/bench_scale.py", "bench/stack.py", "bench/lookup/bench_settings.py", "cmp/fastpath.py",
            "api/lookup.py", "consent/lookups.py", "consent/cache.py", "cmp/redis_cache.py", "consent/sites.py",
            "consent/models.py"]


def timed_lookups(base, ids):
    """Milliseconds of each lookup, one at a time."""
    times = []
    for n in ids:
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/v1/sites/demo/decisions/{stack.visitor_id(n)}") as response:
            assert b'"reason":"choice"' in response.read(), "the visitor's stored choice should decide"
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times):
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def measure(redis_port, count, sample):
    stack.fresh_database(DB, redis_port)
    started = time.perf_counter()
    stack.load_visitors(DB, count)
    loaded = time.perf_counter() - started
    # As a long-lived table is: vacuumed, so no autovacuum of the fresh rows runs through the measurement and
    # no lookup pays for setting the rows' hint bits (both would be charged to the large size alone).
    stack.psql("VACUUM (ANALYZE) consent_visitor", db=DB)
    size = int(stack.psql("SELECT pg_total_relation_size('consent_visitor')", db=DB)[0])
    ids = random.Random(count).sample(range(1, count + 1), sample)
    try:
        with stack.gunicorn(DB, redis_port) as base:
            timed_lookups(base, random.Random(0).sample(range(1, count + 1), 50))  # connections, imports, the site
            stack.redis_cli(redis_port, "flushdb")
            cold = summary(timed_lookups(base, ids))
            warm = summary(timed_lookups(base, ids))
    finally:
        stack.drop_database(DB)
    return count, loaded, size, cold, warm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=2000)
    args = stack.arguments(parser)
    started = datetime.now(UTC)
    with stack.redis_server() as redis_port:
        small = measure(redis_port, args.small, args.sample)
        large = measure(redis_port, args.large, args.sample)
    lines = [
        f"| visitors in PostgreSQL ({args.sample:,} lookups of stored visitors each, one at a time) | cold p50 ms | "
        "cold p99 ms | warm p50 ms | warm p99 ms | visitors table on disk |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, _, size, (cold50, cold99), (warm50, warm99) in (small, large):
        lines.append(f"| {count:,} | {cold50:.2f} | {cold99:.2f} | {warm50:.2f} | {warm99:.2f} | "
                     f"{size / 2**20:,.0f} MiB ({size / 2**20 / count * 1e6:,.0f} MiB per million) |")
    ratios = [large[i][j] / small[i][j] for i, j in ((3, 0), (3, 1), (4, 0), (4, 1))]
    lines.append(f"| {args.large:,} / {args.small:,} | {ratios[0]:.2f}× | {ratios[1]:.2f}× | {ratios[2]:.2f}× | "
                 f"{ratios[3]:.2f}× | |")
    table = "\n".join(lines)
    report = "\n\n".join([table, f"Loaded with COPY in {small[1]:.0f} s and {large[1]:.0f} s."])
    results.write(Path(__file__).parent / "SCALE.md", "Lookup latency against the number of visitors",
                  "bench/lookup/bench_scale.py", MEASURED, report, table, started)


if __name__ == "__main__":
    main()

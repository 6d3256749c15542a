"""Lookup latency with 100,000 visitors against 10,000,000, cache cold and warm, and the size on disk.

    .venv/bin/python bench/lookup/bench_scale.py [--small 100000] [--large 10000000] [--sample 10000]

For each size, a fresh PostgreSQL database gets that many visitors loaded with
COPY, as their first write through the API leaves them (bench/stack.py), and
vacuumed as a long-lived table is; the product runs on each under gunicorn (2
sync workers), both on one redis-server of their own. Each round, one client
looks up ``--sample`` stored visitors of each size, drawn at random, twice,
one request at a time and the sizes taking turns request by request: first
with both Redis databases emptied (each lookup reads PostgreSQL: cold), then
again (each is answered from Redis: warm). Each table is vacuumed and read once into the operating
system's cache after its load (:func:`load`), as a long-lived table's pages
are; PostgreSQL's shared buffers stay at the server's default. The sizes take turns, so the machine's load at any
moment (this machine is shared) falls on both alike. It also reports the size on disk of the
visitors table (with its indexes) per million visitors.
Writes bench/lookup/SCALE.md (bench/results.py).
"""
import argparse
import contextlib
import random
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import results, stack

DB_SMALL, DB_LARGE = "perf_bench_scale_small", "perf_bench_scale_large"
MEASURED = ["bench/lookup/bench_scale.py", "bench/stack.py", "bench/lookup/bench_settings.py", "cmp/fastpath.py",
            "api/lookup.py", "consent/lookups.py", "consent/cache.py", "cmp/redis_cache.py", "consent/sites.py",
            "consent/models.py"]


def timed_lookup(base, n):
    """Milliseconds of one lookup of stored visitor ``n``."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{base}/api/v1/sites/demo/decisions/{stack.visitor_id(n)}") as response:
        assert b'"reason":"choice"' in response.read(), "the visitor's stored choice should decide"
    return (time.perf_counter() - started) * 1000


def taking_turns(bases, samples):
    """{db: milliseconds of each lookup of ``samples[db]``}, one request at a time, the sizes taking turns."""
    times = {db: [] for db in samples}
    for turn in zip(*samples.values(), strict=True):
        for db, n in zip(samples, turn, strict=True):
            times[db].append(timed_lookup(bases[db], n))
    return times


def summary(times):
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def load(db, count, redis_port):
    """A fresh database with ``count`` visitors, as a long-lived table is: vacuumed (no autovacuum of the fresh rows
    runs through the measurement, no lookup pays for setting their hint bits) and in the machine's memory (read
    once into the operating system's cache with pg_prewarm, not into PostgreSQL's own shared buffers, which stay
    at their default 128 MB: no cold lookup waits for the disk); (seconds to load, bytes on disk)."""
    stack.fresh_database(db, redis_port)
    started = time.perf_counter()
    stack.load_visitors(db, count)
    loaded = time.perf_counter() - started
    stack.psql("VACUUM (ANALYZE) consent_visitor", db=db)
    stack.psql("CREATE EXTENSION IF NOT EXISTS pg_prewarm", db=db)
    stack.psql("SELECT pg_prewarm(oid, 'read') FROM pg_class WHERE oid = 'consent_visitor'::regclass "
               "OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'consent_visitor'::regclass)", db=db)
    return loaded, int(stack.psql("SELECT pg_total_relation_size('consent_visitor')", db=db)[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=10_000, help="lookups a pass (p99: the 100th slowest of 10,000)")
    args = stack.arguments(parser)
    started = datetime.now(UTC)
    sizes = {DB_SMALL: args.small, DB_LARGE: args.large}
    passes = {db: [] for db in sizes}  # db -> per round: (cold p50, cold p99, warm p50, warm p99)
    try:
        with stack.redis_server() as redis_port, contextlib.ExitStack() as servers:
            loads = {db: load(db, count, redis_port) for db, count in sizes.items()}
            bases = {}
            for number, db in enumerate(sizes):  # a Redis database each: the two hold the same visitor ids
                env = {**stack.environment(db, redis_port), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{number}"}
                bases[db] = servers.enter_context(stack.gunicorn(db, redis_port, env=env))
                for n in random.Random(0).sample(range(1, sizes[db] + 1), 50):  # connections, imports
                    timed_lookup(bases[db], n)
            for _ in range(args.rounds):
                samples = {db: random.Random().sample(range(1, count + 1), args.sample) for db, count in sizes.items()}
                for number in range(len(sizes)):
                    stack.redis_cli(redis_port, "-n", str(number), "flushdb")
                cold, warm = taking_turns(bases, samples), taking_turns(bases, samples)
                for db in sizes:
                    passes[db].append((*summary(cold[db]), *summary(warm[db])))
    finally:
        for db in sizes:
            stack.drop_database(db)
    write_report(args, sizes, loads, passes, started)


def write_report(args, sizes, loads, passes, started):
    lines = [
        f"| visitors in PostgreSQL ({args.sample:,} lookups of stored visitors a pass, one at a time; "
        f"{args.rounds} rounds, the sizes taking turns) | cold p50 ms | cold p99 ms | warm p50 ms | warm p99 ms | "
        "visitors table on disk |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for db, count in sizes.items():
        columns = [stack.spread([run[i] for run in passes[db]], "{:.2f}") for i in range(4)]
        size = loads[db][1]
        lines.append(f"| {count:,} | {' | '.join(columns)} | "
                     f"{size / 2**20:,.0f} MiB ({size / 2**20 / count * 1e6:,.0f} MiB per million) |")
    ratios = [stack.spread([large[i] / small[i] for small, large in zip(passes[DB_SMALL], passes[DB_LARGE],
                                                                        strict=True)], "{:.2f}") + "×"
              for i in range(4)]
    lines.append(f"| {args.large:,} / {args.small:,}, each round's | {' | '.join(ratios)} | |")
    table = "\n".join(lines)
    report = "\n\n".join([table, "Ranges are over the rounds. Loaded with COPY in "
                                  f"{loads[DB_SMALL][0]:.0f} s and {loads[DB_LARGE][0]:.0f} s."])
    results.write(Path(__file__).parent / "SCALE.md", "Lookup latency against the number of visitors",
                  "bench/lookup/bench_scale.py", MEASURED, report, table, started)


if __name__ == "__main__":
    main()

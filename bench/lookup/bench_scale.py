"""Lookup latency with 1,000 visitors against 1,000,000, cache cold and warm.

    .venv/bin/python bench/lookup/bench_scale.py [--sample 1000] [--large 1000000]

For each size, a fresh PostgreSQL database gets that many visitors with a
choice (one INSERT ... SELECT), the product runs under gunicorn (2 workers),
and one client looks up the same random sample of visitors twice, one request
at a time: first with the cache empty (each lookup reads PostgreSQL), then
again (each lookup is answered from Redis). Writes bench/lookup/SCALE.md.
"""
import argparse
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import stack

DB = "cmp_bench_scale"


def visitor_id(i):
    return f"00000000-0000-4000-8000-{i:012d}"


def fill(db, count):
    """``count`` visitors of the demo site, each with a choice, in one statement."""
    stack.psql(f"""
        INSERT INTO consent_visitor (site_id, uuid, token_hash, created_at, updated_at, choices, chosen_at,
            policy_version, choice_signals, signals, banner_version, language)
        SELECT (SELECT id FROM consent_site WHERE key = 'demo'),
               ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
               md5(i::text) || md5(i::text), now(), now(),
               '{{"analytics": true, "advertising": false, "recognition": false}}', now(), '1', '{{}}', '{{}}',
               '1.1.0', 'en'
        FROM generate_series(1, {count}) AS i;
        ANALYZE consent_visitor;""", db=db)


def timed_lookups(base, ids):
    """Milliseconds of each lookup, one at a time."""
    times = []
    for i in ids:
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/v1/sites/demo/decisions/{visitor_id(i)}") as response:
            assert b'"reason":"choice"' in response.read(), "the visitor's stored choice should decide"
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times):
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def measure(count, sample):
    stack.fresh_database(DB)
    started = time.perf_counter()
    fill(DB, count)
    filled = time.perf_counter() - started
    ids = random.Random(count).sample(range(1, count + 1), sample)
    try:
        with stack.gunicorn(DB) as base:
            timed_lookups(base, ids[:50])  # connections, imports and site rules, not measured
            stack.flush_cache()
            cold = summary(timed_lookups(base, ids))
            warm = summary(timed_lookups(base, ids))
    finally:
        stack.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    return count, filled, cold, warm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    small = measure(1000, min(args.sample, 1000))
    large = measure(args.large, args.sample)
    lines = [
        f"| visitors in PostgreSQL | cold p50 ms | cold p99 ms | warm p50 ms | warm p99 ms | ({args.sample} lookups each, one at a time) |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for count, filled, (cold50, cold99), (warm50, warm99) in (small, large):
        lines.append(f"| {count:,} | {cold50:.2f} | {cold99:.2f} | {warm50:.2f} | {warm99:.2f} | filled in {filled:.1f} s |")
    ratio_cold, ratio_warm = large[2][0] / small[2][0], large[3][0] / small[3][0]
    lines.append(f"| 1M / 1k | {ratio_cold:.2f}× | | {ratio_warm:.2f}× | | p50 ratios |")
    report = "\n".join(lines)
    print(report)
    (Path(__file__).parent / "SCALE.md").write_text(
        "# Lookup latency against the number of visitors\n\nMade by `bench/lookup/bench_scale.py`.\n\n" + report + "\n")


if __name__ == "__main__":
    main()

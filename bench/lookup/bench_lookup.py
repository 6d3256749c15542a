"""Lookup throughput and latency against the web stack's own ceiling.

    .venv/bin/python bench/lookup/bench_lookup.py [--seconds 10] [--connections 16]

Starts gunicorn (2 workers) on the local PostgreSQL and Redis, with one extra
bench-only view returning a constant JSON body through the same middleware,
and drives it with wrk on 127.0.0.1 in the same run: the trivial view (the
ceiling); the lookup of one known visitor (warm: each process answers from
its own leased copy, consent/cache.py); lookups spread over 2,000 visitors
(a process rarely holds a copy of the one asked for: one Redis round trip
each); and the known visitor again with the copies turned off. Writes
bench/lookup/RESULTS.md.
"""
import json
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import stack

DB = "cmp_bench_lookup"
MARK_SECONDS = 2.5  # consent/cache.py: a lookup right after a write reads the database


def main():
    args = stack.arguments()
    stack.fresh_database(DB)
    try:
        with stack.gunicorn(DB, args.workers) as base:
            visitor = str(uuid.uuid4())
            body = json.dumps({"visitor_id": visitor, "choices": {"analytics": True}, "policy_version": "1"}).encode()
            urllib.request.urlopen(urllib.request.Request(base + "/api/v1/sites/demo/consents", data=body,
                                                          headers={"Content-Type": "application/json"}))
            time.sleep(MARK_SECONDS)
            lookup = f"{base}/api/v1/sites/demo/decisions/{visitor}"
            urllib.request.urlopen(lookup)  # warm the cache
            trivial = stack.wrk(base + "/bench/trivial", args.seconds, args.connections)
            mine = stack.wrk(lookup, args.seconds, args.connections)
            stack.wrk(base + "/", 3, args.connections, "many_visitors.lua")  # warm: every visitor cached in Redis
            spread = stack.wrk(base + "/", args.seconds, args.connections, "many_visitors.lua")
        with stack.gunicorn(DB, args.workers, CMP_LOCAL_CACHE_SECONDS="0") as base:
            urllib.request.urlopen(lookup.replace(lookup.split("/api/")[0], base))
            no_copies = stack.wrk(lookup.replace(lookup.split("/api/")[0], base), args.seconds, args.connections)
    finally:
        stack.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    report = stack.table(
        f"gunicorn {args.workers} workers, wrk {args.connections} connections, {args.seconds} s each",
        [("trivial Django view, constant JSON (ceiling)", *trivial),
         ("consent lookup, known visitor, warm (the process's leased copy)", *mine),
         ("consent lookup, 2,000 visitors at random (mostly one Redis round trip)", *spread),
         ("consent lookup, known visitor, copies off (`CMP_LOCAL_CACHE_SECONDS=0`)", *no_copies)],
        trivial[0],
    )
    print(report)
    (Path(__file__).parent / "RESULTS.md").write_text(
        "# Lookup against the web stack's ceiling\n\nMade by `bench/lookup/bench_lookup.py`.\n\n" + report + "\n")


if __name__ == "__main__":
    main()

"""Consent writes against a bare insert, and the banner's config with and without an ETag hit.

    .venv/bin/python bench/api/bench_api.py [--seconds 10] [--connections 16]

One gunicorn (2 workers) on PostgreSQL and Redis, driven by wrk on 127.0.0.1:

3. ``POST /api/v1/sites/demo/consents`` for a new visitor each time (the
   banner's first write: validation, the visitor row, the hash-chained audit
   event, cache invalidation), against a bench-only view that parses the same
   body and INSERTs the same visitor row, nothing else;
4. ``GET /api/v1/sites/demo/config`` without, then with ``If-None-Match``
   carrying its ETag (a 304 with no body).

Writes bench/api/RESULTS.md.
"""
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import stack

DB = "cmp_bench_api"


def main():
    args = stack.arguments()
    run = f"gunicorn {args.workers} workers, wrk {args.connections} connections, {args.seconds} s each"
    stack.fresh_database(DB)
    try:
        with stack.gunicorn(DB, args.workers) as base:
            bare = stack.wrk(base + "/bench/bare-insert", args.seconds, args.connections, "new_visitor_writes.lua")
            stack.psql("TRUNCATE consent_visitor CASCADE", db=DB)
            writes = stack.wrk(base + "/api/v1/sites/demo/consents", args.seconds, args.connections,
                               "new_visitor_writes.lua")
            events = count_rows("consent_consentevent")
            config_url = base + "/api/v1/sites/demo/config?lang=en"
            etag = urllib.request.urlopen(config_url).headers["ETag"]
            config = stack.wrk(config_url, args.seconds, args.connections)
            config_304 = stack.wrk(config_url, args.seconds, args.connections, headers=[f"If-None-Match: {etag}"])
    finally:
        stack.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    report = "\n\n".join([
        stack.table(run, [("bare INSERT of the visitor row (baseline)", *bare),
                          ("consent write: visitor + hash-chained audit event", *writes)], bare[0]),
        f"Audit events in the database after the write run: {events:,}.",
        stack.table(run, [("config, full body (baseline)", *config), ("config, If-None-Match hit (304)", *config_304)],
                    config[0]),
    ])
    print(report)
    (Path(__file__).parent / "RESULTS.md").write_text(
        "# Consent writes and the banner's config\n\nMade by `bench/api/bench_api.py`.\n\n" + report + "\n")


def count_rows(table):
    import subprocess

    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-tAc", f"SELECT count(*) FROM {table}"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


if __name__ == "__main__":
    main()

"""Consent writes against a bare statement on the same row, and the banner's config with and without an ETag hit.

    .venv/bin/python bench/api/bench_api.py [--seconds 10] [--rounds 2] [--visitors 20000]

One gunicorn (2 sync workers) on PostgreSQL and a redis-server of its own,
driven by wrk (one thread, 16 connections) on 127.0.0.1, rows interleaved,
``--rounds`` times:

- first writes: ``POST /api/v1/sites/demo/consents`` for a new visitor each
  time (the banner's first write: validation, the visitor row with the first
  hash-chained audit event, the cache's versions), against
  ``/bench/bare-insert``: a plain view, through the same middleware, that
  parses the same body and INSERTs the visitor row, nothing else;
- later writes: stored visitors (``--visitors``, created through the API
  first) changing their choice with their token (the row locked, the token
  checked, the next event of the chain, the versions), twice: with nothing
  of them in the cache (Redis emptied before the row: a change long after
  the visitor's last write or lookup, so the write tries the first write's
  insert before it locks the row), and with each looked up just before
  (lookups of all of them before the row: a change within the cache's
  lifetime of a lookup or a write, so the write locks the row first), against
  ``/bench/bare-update``: the same body, one UPDATE of the same row; and
  ``/bench/bare-update-rest``, that UPDATE as a REST framework view, which
  shows what REST framework itself costs a write (the stored visitors are
  loaded with COPY as their first write leaves them: bench/stack.py);
- the config, full body, then with ``If-None-Match`` carrying its ETag (304).

For the write rows it also reads from ``/proc`` the CPU time that each side
spent during the run (the gunicorn master and workers, every PostgreSQL
process, the benchmark's redis-server; a process's reaped children
included), per request: where a write's cost is, against its baseline's.

Writes bench/api/RESULTS.md (bench/results.py).
"""
import argparse
import os
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import results, stack
from bench.lookup.bench_lookup import warm_up

DB = "perf_bench_api"
TICK = os.sysconf("SC_CLK_TCK")
MEASURED = ["bench/api/bench_api.py", "bench/lookup/bench_settings.py", "bench/lookup/bench_urls.py", "bench/stack.py",
            "bench/lookup/bench_lookup.py",
            "bench/lua/new_visitor_writes.lua", "bench/lua/returning_writes.lua",
            "bench/lua/visitors.lua",
            "api/views.py", "api/serializers.py", "api/parsers.py", "api/authentication.py", "consent/writes.py",
            "consent/chain.py", "consent/rows.py", "consent/cache.py", "cmp/redis_cache.py", "consent/lookups.py",
            "delivery/outbox.py", "banner/config.py", "banner/views.py", "cmp/settings.py", "consent/ratelimit.py"]


def cpu_seconds(redis_port) -> dict:
    """CPU seconds each side has used so far: gunicorn (this process's descendants), PostgreSQL (the whole
    shared server: its background writers work for the writes too) and the benchmark's redis-server."""
    processes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                fields, command = stat.read().rsplit(")", 1)[1].split(), cmdline.read().replace(b"\0", b" ")
        except OSError:
            continue  # exited while we looked: its time is in its parent's reaped-children fields
        # After the name and ")": state, ppid, …, utime (12th), stime, cutime, cstime.
        processes[int(pid)] = (int(fields[1]), command, sum(map(int, fields[11:15])) / TICK)
    side = {"gunicorn": 0.0, "PostgreSQL": 0.0, "Redis": 0.0}
    for pid, (_, command, seconds) in processes.items():
        # The postmaster too (its command is its path): a backend that exits mid-run (a connection
        # closed at its maximum age) takes its time out of the sum, and the postmaster reaps it back in.
        if command.startswith(b"postgres") or command.split(b" ", 1)[0].endswith(b"/postgres"):
            side["PostgreSQL"] += seconds
        elif command.startswith(b"redis-server") and f":{redis_port}".encode() in command:
            side["Redis"] += seconds
        elif b"gunicorn" in command and _descends_from(pid, os.getpid(), processes):
            side["gunicorn"] += seconds
    return side


def _descends_from(pid, ancestor, processes) -> bool:
    while pid in processes and pid != ancestor:
        pid = processes[pid][0]
    return pid == ancestor


def cpu_table(rows, cpu, names, seconds) -> str:
    """CPU milliseconds per request of each side (requests: wrk's rate times its duration), ranges over the rounds."""
    sides = list(next(iter(cpu.values()))[0])
    lines = [f"| CPU ms per request | {' | '.join(sides)} | all three |", "|---|" + "---:|" * (len(sides) + 1)]
    for key, runs in cpu.items():
        per_request = [{name: used[name] * 1000 / (run[0] * seconds) for name in sides}
                       for used, run in zip(runs, rows[key], strict=True)]
        cells = [stack.spread([p[name] for p in per_request], "{:.2f}") for name in sides]
        lines.append(f"| {names[key]} | {' | '.join(cells)} | "
                     f"{stack.spread([sum(p.values()) for p in per_request], '{:.2f}')} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=20_000, help="stored visitors the later writes change")
    args = stack.arguments(parser)
    started = datetime.now(UTC)
    names = {
        "insert": "baseline: bare INSERT of the visitor row",
        "first": "consent write, new visitor (visitor row + first audit event)",
        "update": "baseline: bare UPDATE of the visitor row",
        "update_rest": "the bare UPDATE as a REST framework view",
        "later": "consent write, stored visitor changing their choice (with its token), nothing of it in the cache",
        "later_seen": "the same, each visitor looked up just before (the cache saw it stored)",
        "config": "baseline: config, full body",
        "config_304": "config, If-None-Match hit (304)",
    }
    rows = {key: [] for key in names}
    cpu = {key: [] for key in ("insert", "first", "update", "later", "later_seen")}  # CPU seconds by side, a round each
    with stack.redis_server() as redis_port:
        stack.fresh_database(DB, redis_port)
        try:
            with stack.gunicorn(DB, redis_port, args.workers) as base:
                stack.load_visitors(DB, args.visitors)
                config_url = base + "/api/v1/sites/demo/config?lang=en"
                etag = urllib.request.urlopen(config_url).headers["ETag"]

                def run(path, script=None, script_args=(), headers=(), key=None):
                    before = cpu_seconds(redis_port)
                    measured = stack.wrk(base + path, args.seconds, args.connections, script, headers, script_args)
                    if key is not None:
                        after = cpu_seconds(redis_port)
                        cpu[key].append({side: after[side] - before[side] for side in after})
                    return measured

                for round_ in range(args.rounds):
                    fresh = (round_ * 10 + 1) * 10_000_000  # new visitor ids no earlier row used
                    rows["insert"].append(run("/bench/bare-insert", "new_visitor_writes.lua", [fresh], key="insert"))
                    rows["first"].append(run("/api/v1/sites/demo/consents", "new_visitor_writes.lua",
                                             [fresh + 10_000_000], key="first"))
                    rows["update"].append(run("/", "returning_writes.lua", [args.visitors, "/bench/bare-update"],
                                              key="update"))
                    stack.redis_cli(redis_port, "-n", "0", "flushdb")
                    rows["later"].append(run("/", "returning_writes.lua", [args.visitors], key="later"))
                    warm_up(base, args.visitors)
                    rows["later_seen"].append(run("/", "returning_writes.lua", [args.visitors], key="later_seen"))
                    rows["update_rest"].append(run("/", "returning_writes.lua",
                                                   [args.visitors, "/bench/bare-update-rest"]))
                    rows["config"].append(run("/api/v1/sites/demo/config?lang=en"))
                    rows["config_304"].append(run("/api/v1/sites/demo/config?lang=en", headers=[f"If-None-Match: {etag}"]))
                events = int(stack.psql("SELECT count(*) FROM consent_consentevent", db=DB)[0])
                broken = stack.psql("SELECT count(*) FROM (SELECT visitor_id FROM consent_consentevent GROUP BY "
                                    "visitor_id HAVING count(*) <> count(DISTINCT prev_hash)) AS forked", db=DB)[0]
        finally:
            stack.drop_database(DB)
    run_line = (f"gunicorn {args.workers} sync workers, wrk 1 thread {args.connections} connections, "
                f"{args.seconds} s a row, {args.rounds} rounds")

    def table(*keys):
        return stack.rounds_table(run_line, {names[k]: rows[k] for k in keys}, names[keys[0]])

    first, later, config = table("insert", "first"), table("update", "later", "later_seen", "update_rest"), table("config", "config_304")
    where = cpu_table(rows, cpu, names, args.seconds)
    report = "\n\n".join([
        "Ranges are over the rounds; each share is against the first row of its table, measured in the same round.",
        "First writes:", first, "Later writes (each stored visitor in turn, so no two requests wait on one row):", later,
        "Where the writes' CPU goes, per request (read from /proc over each run: the gunicorn master and workers, "
        "every PostgreSQL process, the benchmark's redis-server; wrk's own not counted):", where,
        "The banner's config:", config,
        f"The {args.visitors:,} stored visitors were loaded with COPY, as their first write leaves them. "
        f"Audit events in PostgreSQL after the run: {events:,}; visitors whose chain "
        f"has two events with the same predecessor: {broken}.",
    ])
    results.write(Path(__file__).parent / "RESULTS.md", "Consent writes and the banner's config", "bench/api/bench_api.py",
                  MEASURED, report, "\n\n".join([first, later, where, config]), started)


if __name__ == "__main__":
    main()

"""Lookup throughput and latency against the web stack's own ceiling.

    .venv/bin/python bench/lookup/bench_lookup.py [--seconds 10] [--connections 16]

Starts gunicorn (2 workers, as on this 2-core machine) on the local
PostgreSQL and Redis, with one extra bench-only view returning a constant
JSON body through the same middleware, and drives both with wrk on
127.0.0.1 in the same run: the trivial view (the ceiling), then the lookup of
a known visitor (warm cache). Writes bench/lookup/RESULTS.md.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOMBSTONE_SECONDS = 10  # consent/cache.py
DB = "cmp_bench_lookup"


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql], check=True, capture_output=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, percentile(50), percentile(99), int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}", "REDIS_URL": "redis://127.0.0.1:6379/11",
           "DJANGO_SETTINGS_MODULE": "bench.lookup.bench_settings", "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50,
           "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1", "CMP_RATE_WRITES_PER_IP": "0/60"}
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(manage + ["seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        visitor = str(uuid.uuid4())
        body = json.dumps({"visitor_id": visitor, "choices": {"analytics": True}, "policy_version": "1"}).encode()
        urllib.request.urlopen(urllib.request.Request(base + "/api/v1/sites/demo/consents", data=body,
                                                      headers={"Content-Type": "application/json"}))
        lookup = f"{base}/api/v1/sites/demo/decisions/{visitor}"
        time.sleep(TOMBSTONE_SECONDS + 1)  # a just-changed visitor is read from the database meanwhile
        urllib.request.urlopen(lookup)  # warm the cache
        trivial = wrk(base + "/bench/trivial", args.seconds, args.connections)
        mine = wrk(lookup, args.seconds, args.connections)
    finally:
        server.terminate()
        server.wait(timeout=20)
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    rows = [("trivial Django view, constant JSON (ceiling)", *trivial), ("consent lookup, known visitor, warm cache", *mine)]
    report = "\n".join([
        f"| gunicorn 2 workers, wrk {args.connections} connections, {args.seconds} s each | requests/s | p50 ms | p99 ms | errors | vs ceiling |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / trivial[0]:.0%} |" for name, rps, p50, p99, errors in rows],
    ])
    print(report)
    (Path(__file__).parent / "RESULTS.md").write_text(
        "# Lookup against the web stack's ceiling\n\nMade by `bench/lookup/bench_lookup.py` "
        "(before any work on a leaner lookup path).\n\n" + report + "\n")


if __name__ == "__main__":
    main()

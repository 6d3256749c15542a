"""What the HTTP benchmarks share: a fresh PostgreSQL database, the product
under gunicorn (2 workers, as on this 2-core machine) with the bench-only
views of bench/lookup/bench_urls.py, and wrk on 127.0.0.1."""
import argparse
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDIS_DB = "redis://127.0.0.1:6379/11"
LUA = Path(__file__).resolve().parent / "lua"


def arguments():
    """The options every wrk benchmark takes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    return parser.parse_args()


def psql(sql, db="postgres"):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc", sql], check=True, capture_output=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(db):
    return {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}", "REDIS_URL": REDIS_DB,
            "DJANGO_SETTINGS_MODULE": "bench.lookup.bench_settings", "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1", "CMP_RATE_WRITES_PER_IP": "0/60",
            "CMP_RATE_WRITES_PER_SITE": "0/60", "CELERY_TASK_ALWAYS_EAGER": "1"}


def fresh_database(db):
    """An empty database with the schema and the demo site."""
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")
    env = environment(db)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)


def flush_cache():
    subprocess.run(["redis-cli", "-n", REDIS_DB.rsplit("/", 1)[1], "flushdb"], check=True, capture_output=True)


@contextmanager
def gunicorn(db, workers=2, **settings):
    """The product under gunicorn (sync workers, no access log) on a free port; yields its base URL.

    ``settings`` are extra environment variables, e.g. ``CMP_LOCAL_CACHE_SECONDS="0"``.
    """
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "cmp.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}"],
                              cwd=ROOT, env={**environment(db), **settings}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def wrk(url, seconds, connections=16, script=None, headers=()):
    """Requests/s, p50 ms, p99 ms and non-2xx/3xx count of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(LUA / script)]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, percentile(50), percentile(99), int(errors.group(1)) if errors else 0


def table(header, rows, baseline_rps):
    """A Markdown table of wrk results, each row's throughput as a share of the baseline's."""
    return "\n".join([
        f"| {header} | requests/s | p50 ms | p99 ms | errors | vs baseline |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / baseline_rps:.0%} |"
          for name, rps, p50, p99, errors in rows],
    ])

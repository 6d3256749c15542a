"""What the HTTP benchmarks share: a throwaway PostgreSQL database, a redis-server
of their own, the product under gunicorn (2 sync workers, as on this 2-core
machine) with the bench-only baselines of bench/lookup/bench_urls.py, and wrk
on 127.0.0.1 (one thread, so it takes one core at most)."""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from consent.identity import certified_id  # pure: the benchmark's visitors prove their ids as the banner's do

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).resolve().parent / "lua"


def arguments(parser=None):
    """The options every wrk benchmark takes."""
    exit_on_sigterm()
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=2, help="each row this many times, rows interleaved")
    return parser.parse_args()


def exit_on_sigterm():
    """SIGTERM, like Ctrl-C, unwinds the benchmark: what it started is stopped, its databases dropped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))


def psql(sql, db="postgres"):
    """Run ``sql``; the first column of the last result's rows, as text."""
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qtAc", sql],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server():
    """A redis-server of the benchmark's own on a free port, in memory only; yields its URL's base."""
    port, workdir = free_port(), tempfile.mkdtemp(prefix="perf-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: redis_cli(port, "ping") == "PONG", "redis-server to start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout.strip()


def environment(db, redis_port):
    return {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DJANGO_SETTINGS_MODULE": "bench.lookup.bench_settings", "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1", "CMP_RATE_WRITES_PER_IP": "0/60",
            "CMP_RATE_WRITES_PER_SITE": "0/60", "CELERY_TASK_ALWAYS_EAGER": "1", "LOG_LEVEL": "ERROR"}


def fresh_database(db, redis_port):
    """An empty database with the schema and the demo site."""
    assert db.startswith("perf_"), "benchmark databases are named perf_… on the shared server"
    drop_database(db)
    psql(f"CREATE DATABASE {db}")
    env = environment(db, redis_port)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)


def drop_database(db):
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def wait_for(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


@contextmanager
def gunicorn(db, redis_port, workers=2, python=sys.executable, app="cmp.wsgi", env=None, **settings):
    """gunicorn (sync workers, no access log) on a free port; yields its base URL.

    By default the product on ``db`` and the Redis on ``redis_port``;
    ``settings`` are extra environment variables (``CMP_LOCAL_CACHE_SECONDS="0"``).
    """
    port = free_port()
    server = subprocess.Popen([python, "-m", "gunicorn", app, "-w", str(workers), "-b", f"127.0.0.1:{port}"],
                              cwd=ROOT, env={**(env or environment(db, redis_port)), **settings},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(base + "/healthz") or server.poll() is not None, "gunicorn to serve")
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn {app} exited with {server.returncode}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def wrk(url, seconds, connections=16, script=None, headers=(), script_args=()):
    """Requests/s, p50 ms, p99 ms and non-2xx/3xx count of one wrk run (one thread)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(LUA / script)]
    command.append(url)
    if script_args:
        command += ["--", *map(str, script_args)]
    run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    if run.stderr.strip():  # a script that does not load leaves wrk sending plain GETs of the URL
        raise RuntimeError(f"wrk: {run.stderr.strip()}")
    out = run.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(map(int, socket_errors.groups()))
    return rps, percentile(50), percentile(99), failed


def spread(values, fmt="{:,.0f}"):
    """``low–high`` of repeated measurements (one value alone as itself)."""
    low, high = min(values), max(values)
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}–{fmt.format(high)}"


def rounds_table(header, rows, baseline):
    """A Markdown table of repeated wrk runs: each row's ranges over the rounds, and its
    throughput as a share of the baseline's measured in the same round.

    ``rows``: name -> list of (rps, p50, p99, errors), one per round; ``baseline``: a name in ``rows``.
    """
    lines = [f"| {header} | requests/s | p50 ms | p99 ms | errors | share of the baseline |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, runs in rows.items():
        shares = [run[0] / base[0] for run, base in zip(runs, rows[baseline], strict=True)]
        lines.append(f"| {name} | {spread([r[0] for r in runs])} | {spread([r[1] for r in runs], '{:.2f}')} | "
                     f"{spread([r[2] for r in runs], '{:.2f}')} | {sum(r[3] for r in runs)} | "
                     f"{spread([s * 100 for s in shares], '{:.0f}')} % |")
    return "\n".join(lines)


def create_visitors(base, db, count, connections=16, rate_guess=200):
    """Visitors 1..``count`` (bench/lua/visitors.lua), each by its first write through the consent API,
    counted in PostgreSQL; (writes/s, failed requests)."""
    started, failed, stored = time.perf_counter(), 0, 0
    for _ in range(5):  # wrk runs for a set time: give it enough, then carry on from where it got
        if stored == count:
            break
        seconds = int((count - stored) / rate_guess) + 10
        failed += wrk(base, seconds, connections, "first_writes.lua", script_args=(stored + 1, count))[3]
        stored = int(psql("SELECT count(*) FROM consent_visitor", db=db)[0])  # a fresh database: only these
    if stored < count:  # a write wrk counted as failed (a timeout under load): send each missing one again
        have = set(psql("SELECT uuid FROM consent_visitor", db=db))
        for n in (n for n in range(1, count + 1) if visitor_id(n) not in have):
            body = json.dumps({"visitor_id": visitor_id(n), "token": token(n), "policy_version": "1",
                               "choices": {"analytics": n % 2 == 0, "advertising": False, "recognition": False},
                               "banner_version": "1.1.0", "language": "en"}).encode()
            request = urllib.request.Request(f"{base}/api/v1/sites/demo/consents", body,
                                             {"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=30).close()
        stored = int(psql("SELECT count(*) FROM consent_visitor", db=db)[0])
    assert stored == count, f"{stored} visitors stored, {count} written"
    return count / (time.perf_counter() - started), failed


def load_visitors(db, count, chunk=1_000_000):
    """Visitors 1..``count`` as their first write through the API leaves them (bench/lua/visitors.lua:
    same ids, tokens and choices), loaded with COPY: for counts the API would take hours to write here."""
    site = psql("SELECT id FROM consent_site WHERE key = 'demo'", db=db)[0]
    columns = ("site_id, uuid, token_hash, created_at, updated_at, choices, chosen_at, policy_version, "
               "choice_signals, signals, banner_version, language")
    signals = '"{""gpc"": false, ""ga_optout"": false, ""nai_optout"": false, ""lat"": false, ""dnt"": false}"'
    for start in range(1, count + 1, chunk):
        copy = subprocess.Popen(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc",
                                 f"COPY consent_visitor ({columns}) FROM STDIN (FORMAT csv)"],
                                stdin=subprocess.PIPE, text=True)
        for n in range(start, min(start + chunk, count + 1)):
            token_hash = hashlib.sha256(token(n).encode()).hexdigest()
            choices = f'"{{""analytics"": {str(n % 2 == 0).lower()}, ""advertising"": false, ""recognition"": false}}"'
            copy.stdin.write(f"{site},{visitor_id(n)},{token_hash},now,now,{choices},now,1,"
                             f"{signals},{signals},1.1.0,en\n")
        copy.stdin.close()
        if copy.wait() != 0:
            raise RuntimeError("COPY of visitors failed")
    psql("ANALYZE consent_visitor", db=db)


def token(n):
    """Stored visitor ``n``'s token (bench/lua/visitors.lua)."""
    return f"bench-token-{n:024d}"


def visitor_id(n):
    """Stored visitor ``n``'s id: the one its token certifies (bench/lua/visitors.lua)."""
    return str(certified_id(token(n)))

"""A bounded soak: mixed lookups and writes at a fixed rate, checking nothing is lost.

    .venv/bin/python bench/load/bench_soak.py [--seconds 180] [--rate 200] [--writes 0.2]

The product runs under gunicorn (2 workers) on a fresh PostgreSQL database
and Redis, on 127.0.0.1. A paced client sends ``--rate`` requests a second for
``--seconds``: a share ``--writes`` of them consent writes (new visitors, and
returning ones carrying their token, never two at once for one visitor), the
rest lookups of known visitors. Every 10 s it samples the resident memory of
gunicorn's processes. At the end it checks, in PostgreSQL, that every write
that got a 201 has its audit event and that each visitor's stored choice is
the last one acknowledged. Writes bench/load/RESULTS.md. Not part of CI.
"""
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import argparse

from bench import stack

DB = "cmp_bench_soak"


class Client:
    """Sends one request of the mix; remembers what the server acknowledged."""

    def __init__(self, port, write_share):
        self.port, self.write_share = port, write_share
        self.lock = threading.Lock()
        self.visitors = {}  # visitor id -> {"token", "last" (analytics choice acknowledged), "acked"}
        self.busy = set()
        self.errors, self.requests, self.created = [], 0, 0

    def one(self, rng):
        with self.lock:
            self.requests += 1
            idle = [v for v in self.visitors if v not in self.busy]
            if rng.random() < self.write_share or not idle:
                visitor = rng.choice(idle) if idle and rng.random() < 0.5 else str(uuid.uuid4())
                self.busy.add(visitor)
                write = True
            else:
                visitor, write = rng.choice(idle), False
        try:
            self.write(visitor, rng) if write else self.lookup(visitor)
        except Exception as error:
            with self.lock:
                self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            with self.lock:
                self.busy.discard(visitor)

    def write(self, visitor, rng):
        choice = rng.random() < 0.5
        known = self.visitors.get(visitor)
        body = {"visitor_id": visitor, "choices": {"analytics": choice, "advertising": False, "recognition": False},
                "policy_version": "1", "banner_version": "1.1.1", "language": "en"}
        if known:
            body["token"] = known["token"]
        status, answer = self.request("POST", "/api/v1/sites/demo/consents", body)
        if status != 201:
            raise RuntimeError(f"write answered {status}: {answer}")
        with self.lock:
            entry = self.visitors.setdefault(visitor, {"token": answer.get("token"), "acked": 0})
            entry["last"], entry["acked"] = choice, entry["acked"] + 1
            self.created += 1

    def lookup(self, visitor):
        status, answer = self.request("GET", f"/api/v1/sites/demo/decisions/{visitor}")
        if status != 200:
            raise RuntimeError(f"lookup answered {status}: {answer}")
        # The last acknowledged write must decide (no write for this visitor is in flight).
        expected = self.visitors[visitor]["last"]
        if answer["decisions"]["analytics"]["granted"] != expected:
            raise RuntimeError(f"stale lookup for {visitor}: {answer['decisions']['analytics']}, expected {expected}")

    def request(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()


def rss_mib(master_pid):
    pids = [master_pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True,
                                                          text=True).stdout.split()]
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def check_database(client):
    """Every acknowledged write has its event; every visitor's stored choice is the last acknowledged."""
    rows = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-tAF", ",", "-c",
         "SELECT v.uuid, v.choices->>'analytics', count(e.id) FROM consent_visitor v "
         "LEFT JOIN consent_consentevent e ON e.visitor_id = v.id GROUP BY v.id"],
        capture_output=True, text=True, check=True).stdout.split()
    stored = {row.split(",")[0]: (row.split(",")[1], int(row.split(",")[2])) for row in rows}
    lost = [v for v, e in client.visitors.items()
            if v not in stored or stored[v][0] != str(e["last"]).lower() or stored[v][1] != e["acked"]]
    return len(stored), sum(e for _, e in stored.values()), lost


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--rate", type=int, default=200, help="requests per second")
    parser.add_argument("--writes", type=float, default=0.2, help="share of writes")
    args = parser.parse_args()
    stack.fresh_database(DB)
    samples = []
    try:
        with stack.gunicorn(DB) as base:
            port = int(base.rsplit(":", 1)[1])
            master = int(subprocess.run(["pgrep", "-f", f"gunicorn cmp.wsgi -w 2 -b 127.0.0.1:{port}"],
                                        capture_output=True, text=True).stdout.split()[0])
            client = Client(port, args.writes)
            rng = random.Random(7)
            started = time.monotonic()
            next_sample = started
            with ThreadPoolExecutor(max_workers=32) as pool:
                for n in range(args.seconds * args.rate):
                    due = started + n / args.rate
                    while (now := time.monotonic()) < due:
                        time.sleep(min(due - now, 0.005))
                    if now >= next_sample:
                        samples.append((round(now - started), rss_mib(master)))
                        next_sample += 10
                    pool.submit(client.one, random.Random(rng.random()))
            elapsed = time.monotonic() - started
            samples.append((round(time.monotonic() - started), rss_mib(master)))
            visitors, events, lost = check_database(client)
    finally:
        stack.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    first, middle, last = samples[1][1], samples[len(samples) // 2][1], samples[-1][1]
    report = "\n".join([
        f"| soak: gunicorn 2 workers, {args.rate} req/s for {args.seconds} s, {args.writes:.0%} writes | value |",
        "|---|---:|",
        f"| requests sent (achieved rate) | {client.requests:,} ({client.requests / elapsed:,.0f}/s) |",
        f"| errors (non-2xx, exceptions, stale lookups) | {len(client.errors)} |",
        f"| writes acknowledged (201) | {client.created:,} |",
        f"| visitors / audit events in PostgreSQL | {visitors:,} / {events:,} |",
        f"| acknowledged writes lost or not last | {len(lost)} |",
        f"| gunicorn RSS at 10 s / middle / end (MiB) | {first:.1f} / {middle:.1f} / {last:.1f} |",
        f"| RSS growth from 10 s to the end | {last - first:+.1f} MiB ({(last - first) / first:+.1%}) |",
    ])
    print(report)
    if client.errors:
        print("first errors:", *client.errors[:5], sep="\n  ")
    (Path(__file__).parent / "RESULTS.md").write_text(
        "# Soak: mixed load at a fixed rate\n\nMade by `bench/load/bench_soak.py`. Memory samples every 10 s "
        f"(seconds, MiB): {samples}\n\n" + report + "\n")


if __name__ == "__main__":
    main()

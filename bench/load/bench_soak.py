"""A bounded soak: mixed lookups and writes at a fixed rate on hot visitors, checking nothing is lost or stale.

    .venv/bin/python bench/load/bench_soak.py [--seconds 180] [--rate 200] [--writes 0.2]

The product runs under gunicorn (2 sync workers) on a fresh PostgreSQL
database and a redis-server of its own, on 127.0.0.1. A paced client sends
``--rate`` requests a second for ``--seconds``: a share ``--writes`` of them
consent writes (one in ten for a new visitor, the others a stored visitor
changing their choice with its token), the rest lookups. Both pick visitors
from a Zipf distribution (s = 1) over the visitors made so far, so a few hot
visitors get most requests and a lookup often overlaps a write of the same
visitor (never two writes of one visitor at once). Each write of a visitor
sets the next of eight choices (three purposes), so a lookup is *stale* when
it answers with a choice older than the last one acknowledged before it
started (it may answer a write in flight, or acknowledged while it ran).
Every 10 s it samples the resident memory of gunicorn's processes. At the
end it checks, in PostgreSQL, that every acknowledged write has its audit
event and that each visitor's stored choice is the last one acknowledged.
Writes bench/load/RESULTS.md (bench/results.py). Not part of CI.
"""
import argparse
import bisect
import http.client
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import results, stack
from consent.identity import new_visitor

DB = "perf_bench_soak"
PURPOSES = ("analytics", "advertising", "recognition")
MEASURED = ["bench/load/bench_soak.py", "bench/stack.py", "api/views.py", "api/lookup.py", "consent/writes.py",
            "consent/chain.py", "consent/rows.py", "consent/cache.py", "cmp/redis_cache.py", "consent/lookups.py"]


def choice(k):
    """The k-th choice a visitor makes: eight in turn."""
    return {purpose: bool(k >> i & 1) for i, purpose in enumerate(PURPOSES)}


class Visitor:
    def __init__(self):
        visitor, self.token = new_visitor()  # the id is derived from the token, as the banner makes them
        self.id = str(visitor)
        self.acked = -1  # the last write acknowledged (its k)
        self.in_flight = None  # the k of the write in flight, if any
        self.writes = 0  # acknowledged


class Client:
    """Sends one request of the mix; remembers what the server acknowledged."""

    def __init__(self, port, write_share):
        self.port, self.write_share = port, write_share
        self.lock = threading.Lock()
        self.visitors, self.weights = [], []  # creation order; cumulative Zipf weights
        self.errors, self.stale, self.requests, self.acked, self.overlapping = [], [], 0, 0, 0

    def pick(self, rng):
        return self.visitors[bisect.bisect_left(self.weights, rng.random() * self.weights[-1])]

    def one(self, rng):
        with self.lock:
            self.requests += 1
            known = [v for v in self.visitors if v.acked >= 0]
            if not known or rng.random() < self.write_share:
                visitor = self.pick(rng) if known and rng.random() < 0.9 else None
                if visitor is None or visitor.in_flight is not None or visitor.acked < 0:
                    visitor = Visitor()
                    self.visitors.append(visitor)
                    self.weights.append((self.weights[-1] if self.weights else 0) + 1 / len(self.visitors))
                visitor.in_flight = visitor.acked + 1
                write, k = True, visitor.in_flight
            else:
                visitor = self.pick(rng)
                while visitor.acked < 0:
                    visitor = self.pick(rng)
                write, allowed = False, {visitor.acked, visitor.in_flight}
        try:
            if write:
                self.write(visitor, k)
            else:
                self.lookup(visitor, allowed)
        except Exception as error:
            with self.lock:
                self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            if write:
                with self.lock:
                    visitor.in_flight = None

    def write(self, visitor, k):
        body = {"visitor_id": visitor.id, "choices": choice(k), "policy_version": "1", "banner_version": "1.1.1",
                "language": "en", "token": visitor.token}
        status, answer = self.request("POST", "/api/v1/sites/demo/consents", body)
        if status != 201:
            raise RuntimeError(f"write answered {status}: {answer}")
        with self.lock:
            visitor.token = visitor.token or answer.get("token")
            visitor.acked, visitor.writes = k, visitor.writes + 1
            self.acked += 1

    def lookup(self, visitor, allowed):
        status, answer = self.request("GET", f"/api/v1/sites/demo/decisions/{visitor.id}")
        if status != 200:
            raise RuntimeError(f"lookup answered {status}: {answer}")
        with self.lock:
            allowed |= {visitor.acked, visitor.in_flight}  # acknowledged, or begun, while the lookup ran
            if len(allowed - {None}) > 1:
                self.overlapping += 1
        got = {purpose: answer["decisions"][purpose]["granted"] for purpose in PURPOSES}
        if got not in [choice(k) for k in allowed if k is not None]:
            with self.lock:
                self.stale.append(f"{visitor.id}: {got}, allowed {sorted(k for k in allowed if k is not None)}")

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
    rows = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-tA", "-c",
                           "SELECT v.uuid, v.choices::text, count(e.id) FROM consent_visitor v LEFT JOIN "
                           "consent_consentevent e ON e.visitor_id = v.id GROUP BY v.id"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    stored = {}
    for row in rows:
        visitor_id, choices, events = row.split("|")
        stored[visitor_id] = (json.loads(choices), int(events))
    lost = [v.id for v in client.visitors if v.acked >= 0 and stored.get(v.id) != (choice(v.acked), v.writes)]
    return len(stored), sum(e for _, e in stored.values()), lost


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--rate", type=int, default=200, help="requests per second")
    parser.add_argument("--writes", type=float, default=0.2, help="share of writes")
    args = parser.parse_args()
    stack.exit_on_sigterm()
    started_at = datetime.now(UTC)
    samples = []
    with stack.redis_server() as redis_port:
        stack.fresh_database(DB, redis_port)
        try:
            with stack.gunicorn(DB, redis_port) as base:
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
                            time.sleep(min(due - now, 0.005))  # pacing the client, not waiting for a result
                        if now >= next_sample:
                            samples.append((round(now - started), rss_mib(master)))
                            next_sample += 10
                        pool.submit(client.one, random.Random(rng.random()))
                elapsed = time.monotonic() - started
                samples.append((round(time.monotonic() - started), rss_mib(master)))
                visitors, events, lost = check_database(client)
        finally:
            stack.drop_database(DB)
    first, middle, last = samples[1][1], samples[len(samples) // 2][1], samples[-1][1]
    table = "\n".join([
        f"| soak: gunicorn 2 workers, {args.rate} req/s for {args.seconds} s, {args.writes:.0%} writes, hot visitors | value |",
        "|---|---:|",
        f"| requests sent (achieved rate) | {client.requests:,} ({client.requests / elapsed:,.0f}/s) |",
        f"| errors (non-2xx, exceptions) | {len(client.errors)} |",
        f"| stale lookups (older than the last write acknowledged before them) | {len(client.stale)} |",
        f"| lookups that overlapped a write of the same visitor | {client.overlapping:,} |",
        f"| writes acknowledged (201) | {client.acked:,} |",
        f"| visitors / audit events in PostgreSQL | {visitors:,} / {events:,} |",
        f"| acknowledged writes lost or not last | {len(lost)} |",
        f"| gunicorn RSS at 10 s / middle / end (MiB) | {first:.1f} / {middle:.1f} / {last:.1f} |",
        f"| RSS growth from 10 s to the end | {last - first:+.1f} MiB ({(last - first) / first:+.1%}) |",
    ])
    problems = [*client.errors[:5], *client.stale[:5]]
    report = "\n\n".join([table, f"Memory samples every 10 s (seconds, MiB): {samples}",
                           *(["First problems:\n\n" + "\n".join(f"- {p}" for p in problems)] if problems else [])])
    results.write(Path(__file__).parent / "RESULTS.md", "Soak: mixed load at a fixed rate on hot visitors",
                  "bench/load/bench_soak.py", MEASURED, report, table, started_at)


if __name__ == "__main__":
    main()

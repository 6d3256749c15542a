"""The lookup at real traffic, against the web stack's own ceiling and against the peer.

    .venv/bin/python bench/lookup/bench_lookup.py [--visitors 100000] [--load api|copy] [--seconds 10] [--rounds 2]

One run, on this machine's PostgreSQL and a redis-server of its own:

1. the product under gunicorn (2 sync workers); ``--visitors`` visitors are
   created through the consent API (wrk, ``first_writes.lua``) and counted
   in PostgreSQL, or, with ``--load copy``, the same rows are loaded with
   COPY (bench/stack.py; the API takes minutes for 100,000 on this machine);
2. wrk (one thread, 16 connections, 127.0.0.1) then runs each row for
   ``--seconds``, the rows interleaved, ``--rounds`` times:

   - the baseline: ``/bench/trivial``, a constant body the size of a lookup's
     answer, answered right after the lookup's fast path, so through the
     same middleware (bench/lookup/bench_settings.py);
   - the same body from a plain Django view through the product's whole
     middleware and URL resolution (``/bench/trivial-view``): what a trivial
     view costs on this stack, which the lookup's fast path does not pay; a
     second table sets the lookup's rows against it;
   - the baseline plus the lookup's one cache read, for the same Zipf draw
     of warm visitors (``/bench/one-read/<visitor>``): the ceiling of any
     lookup that never answers from before the last write; a third table
     sets the lookup's rows against it;
   - lookups of the stored visitors drawn from a Zipf distribution (s = 1:
     visitor n is asked for in proportion to 1/n), cold (Redis emptied just
     before: each first lookup of a visitor reads PostgreSQL); then every
     stored visitor is looked up once, in order (:func:`warm_up`), and the
     Zipf row runs warm. Without that pass a third of the "warm" row's draws
     are visitors the cold row never drew, that is misses: Zipf's long tail.
   - the same warm row with ``?purpose=analytics``;
   - django-cookie-consent 1.0's ``status/`` (bench/peer/), in a bench-only
     virtual environment, under the same gunicorn settings on the same
     PostgreSQL server with a Redis cache.

Writes bench/lookup/RESULTS.md (bench/results.py).
"""
import argparse
import contextlib
import http.client
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import results, stack

DB, PEER_DB = "perf_bench_lookup", "perf_bench_peer"
PEER_VENV = stack.ROOT / "bench" / "peer" / ".venv"
PEER_COOKIE = "Cookie: cookie_consent=analytics=2026-11-25T10:00:00|advertising=-1"
MEASURED = ["bench/lookup/bench_lookup.py", "bench/lookup/bench_settings.py", "bench/lookup/bench_urls.py",
            "bench/stack.py", "bench/lua/zipf_lookups.lua", "bench/lua/visitors.lua",
            "bench/peer/settings.py", "bench/peer/requirements.txt", "cmp/fastpath.py", "api/lookup.py",
            "consent/lookups.py", "consent/cache.py", "cmp/redis_cache.py", "consent/sites.py",
            "consent/decisions.py", "consent/client.py", "cmp/settings.py"]


def peer_python() -> str:
    """The bench-only virtual environment of django-cookie-consent (made on first use)."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(stack.ROOT / "bench/peer/requirements.txt")],
                       check=True)
    return str(python)


def peer_environment(redis_port):
    return {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "bench.peer.settings", "PEER_DATABASE": PEER_DB,
            "PEER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/1"}


def set_up_peer(python, redis_port):
    stack.drop_database(PEER_DB)
    stack.psql(f"CREATE DATABASE {PEER_DB}")
    env = peer_environment(redis_port)
    subprocess.run([python, "-m", "django", "migrate", "-v0"], cwd=stack.ROOT, env=env, check=True)
    groups = "; ".join(f"CookieGroup.objects.create(varname={key!r}, name={key!r})"
                       for key in ("analytics", "advertising", "recognition"))
    subprocess.run([python, "-m", "django", "shell", "-c", f"from cookie_consent.models import CookieGroup; {groups}"],
                   cwd=stack.ROOT, env=env, check=True)


def warm_up(base, count, threads=8):
    """Look up visitors 1..``count`` once each through the product (``threads`` keep-alive connections),
    so that the cache holds them all; Redis then holds at least that many keys."""
    host, port = base.removeprefix("http://").split(":")

    def lookups(first):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        for n in range(first, count + 1, threads):
            connection.request("GET", f"/api/v1/sites/demo/decisions/{stack.visitor_id(n)}")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"warm-up lookup of visitor {n}: HTTP {response.status}")
        connection.close()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lookups, range(1, threads + 1)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--zipf", type=float, default=1.0, help="the exponent s")
    parser.add_argument("--load", choices=("api", "copy"), default="api",
                        help="create the visitors through the API, or load the same rows with COPY (faster)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the product's processes")
    parser.add_argument("--compare", action="append", default=[],
                        help="KEY=VALUE: also the warm row on a second gunicorn with this setting")
    args = stack.arguments(parser)
    started = datetime.now(UTC)
    extra = dict(item.split("=", 1) for item in args.env)
    compare = dict(item.split("=", 1) for item in args.compare)
    python = peer_python()
    zipf = ("zipf_lookups.lua", (args.visitors, args.zipf))
    one_read = ("zipf_lookups.lua", (args.visitors, args.zipf, "", "/bench/one-read/"))
    rows = {name: [] for name in ("baseline", "plain", "one_read", "cold", "warm", "purpose", "peer", "compared")}
    with stack.redis_server() as redis_port:
        stack.fresh_database(DB, redis_port)
        set_up_peer(python, redis_port)
        try:
            with stack.gunicorn(DB, redis_port, args.workers, **extra) as base, \
                    stack.gunicorn(PEER_DB, redis_port, args.workers, python=python, app="bench.peer.wsgi",
                                   env=peer_environment(redis_port)) as peer, \
                    (stack.gunicorn(DB, redis_port, args.workers, **{**extra, **compare}) if compare
                     else contextlib.nullcontext()) as other:
                if args.load == "api":
                    created = stack.create_visitors(base, DB, args.visitors, args.connections)
                else:
                    stack.load_visitors(DB, args.visitors)
                    stack.psql("VACUUM (ANALYZE) consent_visitor", db=DB)  # as a long-lived table is (bench_scale.py)
                    created = None
                lookup = base + "/api/v1/sites/demo/decisions/"

                def run(url, script=None, query="", headers=()):
                    name, script_args = script or (None, ())
                    return stack.wrk(url, args.seconds, args.connections, name, headers,
                                     (*script_args, query) if name else ())

                for _ in range(args.rounds):
                    stack.redis_cli(redis_port, "-n", "0", "flushdb")
                    rows["cold"].append(run(lookup, zipf))
                    warm_up(base, args.visitors)
                    cached = int(stack.redis_cli(redis_port, "-n", "0", "dbsize"))
                    assert cached >= args.visitors, f"{cached} keys in Redis after warming {args.visitors:,} visitors"
                    rows["baseline"].append(run(base + "/bench/trivial"))
                    rows["plain"].append(run(base + "/bench/trivial-view"))
                    rows["one_read"].append(run(base, one_read))
                    rows["warm"].append(run(lookup, zipf))
                    rows["purpose"].append(run(lookup, zipf, "?purpose=analytics"))
                    rows["peer"].append(run(peer + "/cookies/status/", headers=[PEER_COOKIE]))
                    if compare:
                        rows["compared"].append(run(other + "/api/v1/sites/demo/decisions/", zipf))
        finally:
            stack.drop_database(DB)
            stack.drop_database(PEER_DB)
    write_report(args, extra, compare, created, rows, started)


def write_report(args, extra, compare, created, rows, started):
    names = {
        "baseline": "baseline: trivial view, same middleware as the lookup, constant body of a lookup's size",
        "warm": f"lookup, {args.visitors:,} stored visitors, Zipf s={args.zipf:g}, warm (each looked up once before)",
        "purpose": "the same with `?purpose=analytics`",
        "cold": "lookup, the same Zipf draw, cold (Redis emptied before the row)",
        "peer": "django-cookie-consent 1.0 `status/` (its own middleware; cookie groups cached in Redis)",
        "compared": f"the warm row with {', '.join(f'{k}={v}' for k, v in compare.items())}",
    }
    if not compare:
        del names["compared"]
    header = (f"gunicorn {args.workers} sync workers, wrk 1 thread {args.connections} connections, {args.seconds} s "
              f"a row, {args.rounds} rounds")
    table = stack.rounds_table(header, {names[key]: rows[key] for key in names}, names["baseline"])
    plain = {"plain": "baseline: the same body from a plain Django view, through the whole middleware and URL "
                      "resolution", **{key: names[key] for key in ("warm", "purpose", "cold")}}
    against_plain = stack.rounds_table(header, {plain[key]: rows[key] for key in plain}, plain["plain"])
    read = {"one_read": "baseline: the trivial view plus the lookup's one cache read (one `MGET` of the site's and the "
                        "visitor's keys with their versions), the same Zipf draw, warm",
            **{key: names[key] for key in ("warm", "purpose", "cold")}}
    against_read = stack.rounds_table(header, {read[key]: rows[key] for key in read}, read["one_read"])
    table = (f"{table}\n\nThe same lookup rows against a trivial view that goes through the whole stack, as a page of "
             f"the product does:\n\n{against_plain}\n\nThe same lookup rows against the trivial view that also makes "
             f"the lookup's one cache read, which a lookup that never answers from before the last write cannot "
             f"skip:\n\n{against_read}")
    settings = f" Product settings: {', '.join(f'{k}={v}' for k, v in extra.items())}." if extra else ""
    report = "\n".join([
        "Ranges are over the rounds; each share is against the baseline of the same round.",
        "",
        table,
        "",
        (f"The {args.visitors:,} visitors were created through `POST /api/v1/sites/demo/consents` at "
         f"{created[0]:,.0f} writes/s ({created[1]} failures) and counted in PostgreSQL." if created else
         f"The {args.visitors:,} visitors were loaded with COPY as their first write through the API leaves them "
         "(`--load copy`).") + settings,
    ])
    results.write(Path(__file__).parent / "RESULTS.md", "The lookup at real traffic", "bench/lookup/bench_lookup.py",
                  MEASURED, report, table, started)


if __name__ == "__main__":
    main()

"""Benchmark of the tamper-evident audit log, on PostgreSQL.

    .venv/bin/python bench/audit/bench_audit.py [--visitors 5000] [--workers 4] [--big-log 1000000]

Uses its own database (cmp_bench, dropped and re-created; set BENCH_DATABASE_URL
to change it), never the test database. In one run it measures:

1. appends/s for 5,000 visitors (two events each: the first choice and a
   change of mind) written concurrently by several processes through the real
   write path (``writes.record_consent``: visitor row lock, decision, event),
   *without* the hash chain (the event inserted as before), *with* it
   (``consent.chain.append_event``: the chain-only baseline), and with the
   chain *and the site log*: the same writes while another process extends the
   log and signs a tree head every second (``audit.log.extend_logs``, which
   beat runs every 10 minutes), each mode twice, alternated;
2. ``audit.verify.verify`` over the log just written (event hashes, chains,
   the site log: heads, roots, stored subtrees, leaves against events);
3. export of 1,000,000 events through the admin's streaming response
   (CSV), in a fresh process, with its peak RSS, against the same export of
   100,000 events: constant memory means the two peaks are about equal;
4. on those 1,000,000 events: extending the site log over all of them,
   what the tree stores, the size of an inclusion and a consistency proof,
   the time to serve each (``audit.log``) and to check each as an outsider
   does (``audit.checker``: the receipt's and the head's signatures, the
   proofs), and verify_audit's log check.

Results go to bench/audit/RESULTS.md, written by this script only.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench import results  # noqa: E402

# Production settings (DEBUG off), in this process and the workers it starts.
os.environ.update(DEBUG="0", SECRET_KEY="bench-" + "x" * 50, CMP_SIGNING_KEYS="bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")

# What the figures depend on: results.write stamps the file with their SHA-256.
MEASURED = ["bench/audit/bench_audit.py", "consent/writes.py", "consent/chain.py", "consent/rows.py",
            "audit/log.py", "audit/merkle.py", "audit/verify.py", "audit/checker.py", "audit/exports.py",
            "audit/signing.py"]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/cmp_bench"
TOKEN_PAD = "-bench-token-padding-0123456789abcdef"


def django_setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmp.settings")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()


def visitors(count):
    """(id, token) of each visitor, the id certified by its token as the banner makes them (consent/identity.py)."""
    from consent.identity import certified_id

    tokens = [f"bench-visitor-{i:08d}{TOKEN_PAD}" for i in range(count)]
    return [(certified_id(token), token) for token in tokens]


# --- worker process: appends ------------------------------------------------------

def worker(mode, index, workers, count_of_visitors, start_at):
    django_setup()
    from consent import chain, writes
    from consent.client import ClientInfo
    from consent.models import ConsentEvent
    from consent.rows import insert_row
    from consent.sites import site_rules

    if mode == "plain":
        def plain(*, site_id, site_key, visitor, created_at, **fields):  # the log before the chain existed
            # Like append_event: a new visitor goes in with its first event, or
            # not at all if its row exists by then (the caller then locks that row).
            if visitor.pk is None and not insert_row(visitor, ignore_conflicts=True):
                return None
            content = {name: fields[name] for name in chain.CONTENT_FIELDS}
            return ConsentEvent.objects.create(site_id=site_id, visitor=visitor, created_at=created_at, **content)

        chain.append_event = plain
    rules = site_rules("demo")
    ids = visitors(count_of_visitors)
    who = ClientInfo("FR", "203.0.113.0/24", "bench", {})
    first = ids[index::workers]
    second = ids[(index + 1) % workers::workers]  # another process changes its mind: chains are written across processes
    while time.time() < start_at:
        time.sleep(0.005)
    t0 = time.time()
    count = 0
    for batch, choices in ((first, {"analytics": True, "advertising": False, "recognition": False}),
                           (second, {"analytics": False, "advertising": True, "recognition": False})):
        for vid, token in batch:
            write = writes.ConsentWrite(visitor_id=vid, token=token, choices=choices,
                                        policy_version="1", banner_version="1.0.0", language="fr", source="banner")
            writes.record_consent(rules, write, who)
            count += 1
    print(json.dumps({"events": count, "start": t0, "end": time.time()}))


def sequencer(stop_file, interval):
    """Extend the site log and sign a head every ``interval`` seconds until ``stop_file`` exists."""
    django_setup()
    from audit.log import extend_logs

    heads = leaves = 0
    while not os.path.exists(stop_file):
        for head in extend_logs(lag_seconds=SEQUENCER_LAG):
            heads += 1
            leaves = head.tree_size
        time.sleep(interval)
    print(json.dumps({"heads": heads, "leaves": leaves}))


SEQUENCER_LAG = 2  # seconds: a write in flight longer than this would be missed (verify_audit says so)


def run_appends(mode, workers, visitors):
    start_at = time.time() + 4.0
    stop_file = Path(tempfile.mkdtemp()) / "stop"
    logger = None
    if mode == "tree":
        logger = subprocess.Popen([sys.executable, __file__, "sequencer", str(stop_file), "1.0"], stdout=subprocess.PIPE, text=True)
    procs = [
        subprocess.Popen([sys.executable, __file__, "worker", mode, str(i), str(workers), str(visitors), repr(start_at)],
                         stdout=subprocess.PIPE, text=True)
        for i in range(workers)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"worker failed ({mode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    events = sum(r["events"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    logged = None
    if logger is not None:
        stop_file.touch()
        out, _ = logger.communicate()
        if logger.returncode:
            raise SystemExit("sequencer failed")
        logged = json.loads(out.strip().splitlines()[-1])
    return events, wall, logged


# --- export process ---------------------------------------------------------------

def export_child(limit):
    django_setup()
    import resource

    from audit import exports
    from consent.models import ConsentEvent

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queryset = ConsentEvent.objects.all()
    if limit:
        first = ConsentEvent.objects.order_by("id").values_list("id", flat=True)[limit - 1]
        queryset = queryset.filter(id__lte=first)
    t0 = time.perf_counter()
    response = exports.streaming_response(queryset, "csv", "bench")
    size = rows = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        rows += chunk.count(b"\n")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows - 1, "bytes": size, "seconds": seconds, "rss_before_kb": before, "peak_kb": peak}))


def run_export(limit):
    out = subprocess.run([sys.executable, __file__, "export", str(limit)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- orchestration ------------------------------------------------------------------

def reset_database():
    import psycopg

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "ERROR"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def clear_events():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE consent_consentevent, consent_handoff, consent_visitor, consent_person, "
                       "audit_auditcheckpoint, audit_auditpurge, audit_logleaf, audit_lognode, audit_treehead, "
                       "delivery_outboxmessage")


def bulk_events(total):
    """Insert ``total`` synthetic events fast (SQL generate_series) for the export measurement."""
    from django.db import connection

    from consent.models import Site, Visitor

    site = Site.objects.get(key="demo")
    import uuid

    Visitor.objects.bulk_create([Visitor(site=site, uuid=uuid.uuid4(), token_hash="0" * 64) for _ in range(1000)])
    low = Visitor.objects.order_by("id").values_list("id", flat=True).first()
    decisions = json.dumps({"analytics": {"granted": True, "reason": "choice"}, "advertising": {"granted": False, "reason": "choice"},
                            "recognition": {"granted": False, "reason": "choice"}, "security": {"granted": True, "reason": "essential"},
                            "authentication": {"granted": True, "reason": "essential"}})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO consent_consentevent (site_id, visitor_id, source, choices, signals, decisions, consent_mode, regime,
                policy_version, banner_version, language, region, ip_prefix, user_agent, created_at, prev_hash, event_hash)
            SELECT %s, %s + (g %% 1000), 'banner', '{"analytics": true, "advertising": false, "recognition": false}'::jsonb,
                '{"gpc": false, "ga_optout": false, "nai_optout": false, "lat": false, "dnt": false}'::jsonb, %s::jsonb,
                '{"ad_storage": "denied", "analytics_storage": "granted"}'::jsonb, 'opt_in', '1', '1.0.0', 'fr', 'FR',
                '203.0.113.0/24', 'Mozilla/5.0 (X11; Linux x86_64) bench', now() - make_interval(secs => g),
                md5(g::text) || md5((g + 1)::text), md5((g + 1)::text) || md5(g::text)
            FROM generate_series(1, %s) AS g
            """,
            [site.pk, low, decisions, total],
        )
        cursor.execute("ANALYZE consent_consentevent")


def median_ms(action, samples):
    times = []
    for sample in samples:
        t0 = time.perf_counter()
        action(sample)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def big_log(total):
    """The site log over ``total`` events: extending it, what it stores, proofs served and checked."""
    from django.db import connection

    from audit import checker, log, receipts
    from audit.log import extend_logs
    from audit.merkle import Frontier, leaf_hash, verify_consistency
    from audit.signing import jwks
    from audit.verify import Report, _verify_log
    from consent.models import ConsentEvent

    t0 = time.perf_counter()
    [head] = extend_logs(lag_seconds=0)
    extend_s = time.perf_counter() - t0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('audit_logleaf'), pg_total_relation_size('audit_lognode'), "
                       "pg_total_relation_size('consent_consentevent')")
        leaf_bytes, node_bytes, event_bytes = cursor.fetchone()
    rows = list(ConsentEvent.objects.order_by("id").values_list("id", "event_hash"))
    rng = random.Random(7)
    picks = [rows[rng.randrange(len(rows))] for _ in range(200)]
    inclusion = log.inclusion_proof("demo", picks[0][0], picks[0][1])
    serve_inclusion = median_ms(lambda pick: log.inclusion_proof("demo", pick[0], pick[1]), picks)
    firsts = [rng.randrange(1, total) for _ in range(50)]
    consistency = log.consistency_proof("demo", total // 2 + 1, total)
    serve_consistency = median_ms(lambda first: log.consistency_proof("demo", first, total), firsts)

    # The outsider's check, without the network: the answers the API would give, handed over directly.
    saved = log.published(log.TreeHead.objects.get(tree_size=head.tree_size), "demo")
    event = ConsentEvent.objects.select_related("site", "visitor").get(pk=picks[0][0])
    document = receipts.build(event)
    answers = {"/.well-known/jwks.json": jwks(), "/api/v1/sites/demo/log": saved}

    def get(url):
        path, _, query = url.partition("?")
        path = path.replace("http://bench", "")
        if path.endswith("/inclusion"):
            return document["log"]["inclusion"]
        if path.endswith("/consistency"):
            return consistency
        return answers[path]

    outsider = checker.Checker("http://bench", get=get)
    check_receipt = median_ms(lambda _: outsider.check(document), range(200))
    prefix = Frontier()
    for event_id, hash_hex in rows[: total // 2 + 1]:
        prefix.append(leaf_hash(event_id, hash_hex))
    old_root, new_root = prefix.root(), bytes.fromhex(head.root_hash)
    path = [bytes.fromhex(h) for h in consistency["consistency_path"]]
    check_consistency = median_ms(lambda _: verify_consistency(total // 2 + 1, total, old_root, new_root, path), range(200))
    t0 = time.perf_counter()
    report = Report()
    _verify_log(report, head.site_id, "demo", {})
    verify_s = time.perf_counter() - t0
    assert report.ok, report.problems[:3]
    return {
        "events": total, "extend_s": extend_s, "leaf_bytes": leaf_bytes, "node_bytes": node_bytes, "event_bytes": event_bytes,
        "inclusion_hashes": len(inclusion["audit_path"]), "inclusion_json": len(json.dumps(inclusion)),
        "consistency_hashes": len(consistency["consistency_path"]), "consistency_json": len(json.dumps(consistency)),
        "receipt_json": len(json.dumps(document)), "serve_inclusion_ms": serve_inclusion, "serve_consistency_ms": serve_consistency,
        "check_receipt_ms": check_receipt, "check_consistency_ms": check_consistency, "verify_log_s": verify_s,
    }


LABELS = {"plain": "without hash chain", "chained": "hash chain only (baseline)", "tree": "hash chain + site log (tree head every second)"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--big-log", type=int, default=1_000_000)
    args = parser.parse_args()

    started, load_before = time.time(), os.getloadavg()[0]
    started_at = datetime.now(UTC)
    reset_database()
    django_setup()
    import django
    from django.db import connection

    rows = []
    totals = {mode: [0, 0.0] for mode in LABELS}
    logged = {}
    # Alternate the modes over two rounds (on a fresh table each time) so that
    # none profits from its place; the last round with the log is kept for verification.
    for round_ in (1, 2):
        for mode in ("plain", "chained", "tree") if round_ == 1 else ("tree", "chained", "plain"):
            clear_events()
            events, wall, sequenced = run_appends(mode, args.workers, args.visitors)
            totals[mode][0] += events
            totals[mode][1] += wall
            rows.append((round_, mode, events, wall, sequenced))
            if sequenced:
                logged = sequenced
                from audit.log import extend_logs
                from audit.verify import verify

                extend_logs(lag_seconds=0)  # the events of the last second
                t0 = time.perf_counter()
                report = verify()
                verify_s = time.perf_counter() - t0
                assert report.ok, report.problems[:3]
            print(f"round {round_} appends {mode}: {events} events in {wall:.1f} s = {events / wall:.0f}/s {sequenced or ''}", flush=True)
    rates = {mode: events / wall for mode, (events, wall) in totals.items()}
    print(f"verify: {report.events} events in {verify_s:.2f} s", flush=True)

    clear_events()
    t0 = time.perf_counter()
    bulk_events(args.big_log)
    insert_s = time.perf_counter() - t0
    print(f"inserted {args.big_log} synthetic events in {insert_s:.1f} s", flush=True)
    # Exports first: a child forked from this process starts with its peak memory, and the log's part grows it.
    small = run_export(args.big_log // 10)
    whole = run_export(0)
    print(f"export {small['rows']}: peak {small['peak_kb'] / 1024:.0f} MiB; export {whole['rows']}: peak {whole['peak_kb'] / 1024:.0f} MiB", flush=True)
    big = big_log(args.big_log)
    print(json.dumps(big), flush=True)

    total_s = time.time() - started
    pg = connection.cursor().connection.info.server_version
    cpu = os.cpu_count()
    ratio = rates["tree"] / rates["chained"]
    lines = [
        f"`.venv/bin/python bench/audit/bench_audit.py --visitors {args.visitors} --workers {args.workers} "
        f"--big-log {args.big_log}`: PostgreSQL {pg // 10000}.{pg % 10000}, {cpu} CPU cores, "
        f"Django {django.get_version()}, {args.workers} writer processes; whole run {total_s:.0f} s. "
        f"Load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (the machine is shared: "
        "compare the rows of one run with each other, not with another run's).",
        "",
        "## Appends (real write path: visitor row lock, decision, event; two events per visitor, the second written by another process)",
        "",
        "| round | mode | visitors | events | seconds | appends/s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for round_, mode, events, wall, _ in rows:
        lines.append(f"| {round_} | {LABELS[mode]} | {args.visitors:,} | {events:,} | {wall:.1f} | {events / wall:,.0f} |")
    for mode, rate in rates.items():
        lines.append(f"| both | **{LABELS[mode]}** | | {totals[mode][0]:,} | {totals[mode][1]:.1f} | **{rate:,.0f}** |")
    chain_cost = (1 - rates["chained"] / rates["plain"]) * 100
    lines += [
        "",
        f"**With the site log: {ratio:.0%} of the chain-only appends per second** (target: 80 % or more). The write "
        "path does not touch the log: a separate process appends the new events as leaves and signs a tree head, here "
        f"every second ({logged.get('heads', 0)} heads in the last round with it, {SEQUENCER_LAG} s lag), 600 times "
        "as often as beat does; its reads and inserts are what the writers share the machine with.",
        "",
        f"Hash chain cost: {abs(chain_cost):.1f} % {'fewer' if chain_cost >= 0 else 'more'} appends per second than "
        "without it (one SHA-256 per event; the previous hash comes with the visitor row the write already locks).",
        "",
        f"verify_audit over the last log (chains, site log, leaves against events): {report.events:,} events in "
        f"{verify_s:.2f} s ({report.events / verify_s:,.0f}/s); no event missing from the log.",
        "",
        f"## The site log at {big['events']:,} events",
        "",
        f"(Synthetic events inserted with SQL `generate_series` in {insert_s:.0f} s, one site.)",
        "",
        "| measure | result |",
        "|---|---|",
        f"| extending the log over all of them (one run: leaves, stored subtrees, signed head) | {big['extend_s']:.1f} s "
        f"({big['events'] / big['extend_s']:,.0f} leaves/s) |",
        f"| stored: leaves / subtrees (every 8th level) | {big['leaf_bytes'] / 2**20:,.0f} MiB / {big['node_bytes'] / 2**20:,.1f} MiB "
        f"({(big['leaf_bytes'] + big['node_bytes']) / big['events']:.0f} B per event; the events themselves: "
        f"{big['event_bytes'] / 2**20:,.0f} MiB) |",
        f"| inclusion proof | {big['inclusion_hashes']} hashes, {big['inclusion_json']:,} B as JSON with its signed head |",
        f"| consistency proof ({big['events'] // 2 + 1:,} → {big['events']:,} leaves) | {big['consistency_hashes']} hashes, "
        f"{big['consistency_json']:,} B as JSON |",
        f"| a whole receipt with its inclusion proof | {big['receipt_json']:,} B |",
        f"| serving an inclusion proof (median of 200 random events) | {big['serve_inclusion_ms']:.2f} ms |",
        f"| serving a consistency proof (median of 50) | {big['serve_consistency_ms']:.2f} ms |",
        f"| checking a receipt as an outsider (2 Ed25519 signatures + inclusion; median of 200, no network) | "
        f"{big['check_receipt_ms']:.2f} ms |",
        f"| checking the consistency proof (median of 200) | {big['check_consistency_ms']:.3f} ms |",
        f"| verify_audit's check of the site log (rebuild the tree, every leaf against its event) | {big['verify_log_s']:.1f} s "
        f"({big['events'] / big['verify_log_s']:,.0f} leaves/s) |",
        "",
        "## Export in constant memory (admin CSV export, StreamingHttpResponse + iterator(chunk_size=2000))",
        "",
        "| events exported | MB written | seconds | rows/s | RSS before | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (small, whole):
        lines.append(
            f"| {r['rows']:,} | {r['bytes'] / 1e6:,.0f} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
            f"{r['rss_before_kb'] / 1024:.0f} MiB | {r['peak_kb'] / 1024:.0f} MiB |"
        )
    lines += [
        "",
        f"Ten times the rows, peak RSS {whole['peak_kb'] / max(small['peak_kb'], 1):.2f}× : memory does not grow with the export.",
        "",
    ]
    readme = [
        "| measure | result |",
        "|---|---|",
        f"| appends/s without the hash chain / with it (the baseline) / with it and the site log, a tree head signed "
        f"every second (beat: every 10 minutes) | {rates['plain']:,.0f} / {rates['chained']:,.0f} / "
        f"{rates['tree']:,.0f} (**{ratio:.0%}** of the baseline; target 80 %) |",
        f"| `verify_audit` after the appends (chains, site log, leaves against events) | {report.events:,} events in "
        f"{verify_s:.2f} s |",
        f"| site log at {big['events']:,} events: inclusion proof / consistency proof | {big['inclusion_hashes']} hashes "
        f"({big['inclusion_json']:,} B as JSON with its signed head) / {big['consistency_hashes']} hashes "
        f"({big['consistency_json']:,} B) |",
        f"| checking a receipt as an outsider: 2 Ed25519 signatures and the inclusion proof / a consistency proof | "
        f"{big['check_receipt_ms']:.2f} ms / {big['check_consistency_ms']:.3f} ms (median, no network) |",
        f"| serving an inclusion / a consistency proof at {big['events']:,} events | {big['serve_inclusion_ms']:.1f} ms / "
        f"{big['serve_consistency_ms']:.1f} ms (median) |",
        f"| what the log stores | {(big['leaf_bytes'] + big['node_bytes']) / big['events']:.0f} B per event (leaves and "
        f"every eighth level of subtrees), beside {big['event_bytes'] / big['events']:.0f} B per event of the events |",
        f"| `verify_audit` of the site log at {big['events']:,} events (tree rebuilt, every leaf against its event) | "
        f"{big['verify_log_s']:.1f} s |",
        f"| export of {small['rows']:,} / {whole['rows']:,} events (CSV, streamed) | peak RSS "
        f"{small['peak_kb'] / 1024:.0f} MiB / {whole['peak_kb'] / 1024:.0f} MiB |",
    ]
    results.write(Path(__file__).parent / "RESULTS.md", "Audit log benchmark", "bench/audit/bench_audit.py",
                  MEASURED, "\n".join(lines), "\n".join(readme), started_at)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "sequencer":
        sequencer(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "export":
        export_child(int(sys.argv[2]))
    else:
        main()

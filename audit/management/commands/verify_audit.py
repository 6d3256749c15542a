"""Recompute the whole audit log and report the first broken link (exit 1 on any break)."""
import time
from datetime import UTC, datetime
from datetime import time as dtime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from audit.verify import verify
from consent.models import Site


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident audit log: every event's hash, every visitor's chain, every tombstone, every "
        "site's log (tree heads, Merkle roots, leaves against events) and the older checkpoints. Prints the first "
        "broken link; exits non-zero on any break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--site", help="Only this site's events, chains and log (older checkpoints are always checked whole).")
        parser.add_argument("--since", help="Start at the first event created on or after this date or ISO time.")
        parser.add_argument("--all", action="store_true", help="List every problem found (up to 1000), not only the first.")

    def handle(self, *args, site=None, since=None, all=False, **options):
        if site and not Site.objects.filter(key=site).exists():
            raise CommandError(f"No site with key '{site}'.")
        since_at = _moment(since) if since else None
        started = time.perf_counter()
        report = verify(site=site, since=since_at)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Checked {report.events} events in {report.visitors} visitor chains, {report.logs} site logs with "
            f"{report.tree_heads} tree heads, {report.checkpoints} checkpoints and {report.tombstones} tombstones "
            f"in {seconds:.1f} s."
        )
        if report.unchecked_tail:
            self.stdout.write(f"{report.unchecked_tail} events are not in a tree head yet (chain-checked only).")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Audit log intact."))
            return
        self.stderr.write(self.style.ERROR(f"BROKEN: {len(report.problems)} problem(s). First broken link:"))
        for problem in report.problems if all else report.problems[:1]:
            self.stderr.write(f"  [{problem.kind}] {problem}")
        raise CommandError("The audit log does not verify.", returncode=1)


def _moment(value):
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is not a date (2026-01-31) or ISO time.")
        moment = datetime.combine(day, dtime.min)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment

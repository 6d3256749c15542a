"""Scan a site now: ``manage.py scan_site demo`` (queued for a worker; ``--here`` runs it in this process)."""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consent.models import Site
from scanner import scans
from scanner.models import Scan
from scanner.tasks import scan_site, start_scan


class Command(BaseCommand):
    help = "Scan a site's pages for cookies, storage and third-party requests (three passes per page)."

    def add_arguments(self, parser):
        parser.add_argument("site", help="The site's key.")
        parser.add_argument("--here", action="store_true",
                            help="Run the scan in this process (needs Playwright and Chromium) instead of a worker.")

    def handle(self, *args, site, here, **options):
        target = Site.objects.filter(key=site).first()
        if target is None:
            raise CommandError(f"No site with key {site!r}.")
        try:
            if here:
                scan = scans.create_scan(target, "command")
                scan_site(scan.pk)
            else:
                with transaction.atomic():
                    scan = start_scan(target, "command")
        except scans.ScanRunning as busy:
            raise CommandError(str(busy))
        scan = Scan.objects.get(pk=scan.pk)
        self.stdout.write(f"Scan {scan.pk} of {site}: {scan.status}, {scan.pages_done} pages, "
                          f"{scan.items_seen} items, {scan.violation_count} violations")
        for note in scan.notes:
            self.stdout.write(f"  note: {note}")
        if scan.status == Scan.FAILED:
            raise CommandError(scan.error)

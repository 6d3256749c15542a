"""Extend every site's log and sign its new tree head now (Celery beat runs the same every 10 minutes)."""
from django.core.management.base import BaseCommand

from audit.log import extend_logs


class Command(BaseCommand):
    help = "Append each site's new consent events to its Merkle tree log and sign a new tree head for it."

    def add_arguments(self, parser):
        parser.add_argument("--lag", type=int, default=None,
                            help="Only events at least this many seconds old (default CMP_AUDIT_CHECKPOINT_LAG_SECONDS).")

    def handle(self, *args, lag=None, **options):
        heads = extend_logs(lag_seconds=lag)
        if not heads:
            self.stdout.write("Nothing new to log.")
        for head in heads:
            self.stdout.write(self.style.SUCCESS(
                f"Site {head.site.key}: tree head of {head.tree_size} leaves, root {head.root_hash}, signed with key {head.key_id!r}."
            ))

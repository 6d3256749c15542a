"""Record an audit checkpoint now (Celery beat runs the same every few minutes)."""
from django.core.management.base import BaseCommand

from audit.checkpoints import checkpoint


class Command(BaseCommand):
    help = "Record a Merkle-root checkpoint over every consent event appended since the previous checkpoint."

    def add_arguments(self, parser):
        parser.add_argument("--lag", type=int, default=None,
                            help="Only events at least this many seconds old (default CMP_AUDIT_CHECKPOINT_LAG_SECONDS).")

    def handle(self, *args, lag=None, **options):
        cp = checkpoint(lag_seconds=lag)
        if cp is None:
            self.stdout.write("Nothing new to checkpoint.")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Checkpoint {cp.pk}: events {cp.after_event_id + 1}–{cp.last_event_id} ({cp.event_count}), "
                f"root {cp.merkle_root}, signed with key {cp.key_id!r}."
            ))

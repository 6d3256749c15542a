"""What the audit log keeps besides the events themselves (``consent.ConsentEvent``):
signed checkpoints over them, tombstones of purged ones, and the dashboard's daily counts."""
from django.db import models
from django.utils import timezone


class AuditCheckpoint(models.Model):
    """A Merkle root over every event appended since the previous checkpoint.

    Covers the event ids in ``(after_event_id, last_event_id]``, counting the
    leaves of purged events recorded by tombstones (:class:`AuditPurge`), so a
    deleted or reordered event, or a whole deleted visitor chain, changes the
    root. Each checkpoint names the previous one's root and is signed.
    """

    created_at = models.DateTimeField(default=timezone.now)
    after_event_id = models.BigIntegerField(unique=True, help_text="The previous checkpoint's last event id (0 for the first).")
    first_event_id = models.BigIntegerField(null=True, blank=True)
    last_event_id = models.BigIntegerField()
    event_count = models.PositiveIntegerField()
    merkle_root = models.CharField(max_length=64)
    prev_root = models.CharField(max_length=64, blank=True, help_text="The previous checkpoint's root ('' for the first).")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-last_event_id"]
        get_latest_by = "last_event_id"

    def __str__(self):
        return f"checkpoint {self.after_event_id + 1}–{self.last_event_id} ({self.event_count} events)"


class AuditPurge(models.Model):
    """A tombstone: the only trace of events deleted by retention or erasure.

    It keeps no personal data, only each purged event's id, its visitor's row
    id and its hash (``leaves``), so checkpoints and chains still verify.
    """

    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200)
    sites = models.JSONField(default=list)
    visitor_count = models.PositiveIntegerField()
    event_count = models.PositiveIntegerField()
    first_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    last_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    leaves = models.JSONField(default=list, help_text="[event id, visitor row id, event hash] per purged event.")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit purge (tombstone)"
        verbose_name_plural = "audit purges (tombstones)"

    def __str__(self):
        return f"purge {self.pk}: {self.event_count} events ({self.reason})"


class ConsentRollup(models.Model):
    """Daily counts behind the dashboard, kept by a Celery task (audit/dashboard.py)."""

    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="rollups")
    day = models.DateField()
    source = models.CharField(max_length=16)
    region = models.CharField(max_length=2, blank=True)
    pattern = models.CharField(max_length=12, blank=True, help_text="accept_all, reject_all, custom; blank for events without a choice.")
    events = models.PositiveIntegerField(default=0)
    purposes = models.JSONField(default=dict, help_text='Per optional purpose: [times asked, times granted].')
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "day"]
        constraints = [
            models.UniqueConstraint(fields=["site", "day", "source", "region", "pattern"], name="rollup_unique_cell")
        ]

    def __str__(self):
        return f"{self.site_id} {self.day} {self.source}/{self.region}/{self.pattern}: {self.events}"

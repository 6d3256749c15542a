"""What the audit log keeps besides the events themselves (``consent.ConsentEvent``):
each site's Merkle tree over them (leaves, stored subtrees, signed tree heads),
tombstones of purged ones, the checkpoints of before the trees, and the
dashboard's daily counts."""
from django.db import models
from django.utils import timezone


class LogLeaf(models.Model):
    """One leaf of a site's log (audit/log.py): an event, by its id and hash, at its place in the tree.

    Kept when the event itself is purged: the hash then stands for it, so
    every proof over the tree stays valid. The event id is not a foreign key:
    the event may be gone, and the event table may be partitioned.
    """

    event_id = models.BigIntegerField(primary_key=True)
    site = models.ForeignKey("consent.Site", on_delete=models.PROTECT, related_name="+", db_index=False)
    index = models.BigIntegerField(help_text="The leaf's position in its site's tree, from 0.")
    event_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "index"], name="log_leaf_position")]

    def __str__(self):
        return f"{self.site_id} leaf {self.index}: event {self.event_id}"


class LogNode(models.Model):
    """The hash of a complete subtree of 2**level leaves (from leaf ``index * 2**level``), for every
    eighth level: any other node is recomputed from at most 128 stored ones."""

    site = models.ForeignKey("consent.Site", on_delete=models.PROTECT, related_name="+", db_index=False)
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "level", "index"], name="log_node_position")]

    def __str__(self):
        return f"{self.site_id} subtree {self.index} of level {self.level}"


class TreeHead(models.Model):
    """A signed tree head: the size and root of a site's log at a moment, signed with the platform's key.

    Published (the log API and webhooks) so that copies exist outside: a later
    head that does not extend one seen before proves the log was rewritten.
    """

    site = models.ForeignKey("consent.Site", on_delete=models.PROTECT, related_name="tree_heads", db_index=False)
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(help_text="When it was signed (its timestamp).")
    complete_until = models.DateTimeField(help_text="Every event of the site logged at or before this time is a leaf of this tree.")
    last_event_id = models.BigIntegerField(help_text="Events up to this id have been considered: the next head starts after it.")
    frontier = models.JSONField(default=list, help_text="The roots of the tree's perfect subtrees, largest first (hex): where the next head resumes.")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["site", "-tree_size"]
        constraints = [models.UniqueConstraint(fields=["site", "tree_size"], name="tree_head_size")]

    def __str__(self):
        return f"tree head {self.tree_size} of site {self.site_id}"


class AuditCheckpoint(models.Model):
    """Before per-site trees (:class:`TreeHead`): a Merkle root over every event appended since the
    previous checkpoint. No new ones are made; ``verify_audit`` still checks those that exist.

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
    id and its hash (``leaves``), so trees, checkpoints and chains still
    verify. One tombstone holds the events of one site (``sites``).
    """

    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200)
    sites = models.JSONField(default=list)
    visitor_count = models.PositiveIntegerField()
    event_count = models.PositiveIntegerField()
    first_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    last_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    leaves = models.JSONField(default=list, help_text="[event id, visitor row id, event hash] per purged event.")
    # Set when retention dropped a month's partition (audit/retention.py): the tombstone then stands for
    # ``event_count`` events of its site with ids from first to last, which the site's log keeps as leaves;
    # ``leaves`` lists only those that later events of their visitors link to (the chains' anchors).
    partition = models.CharField(max_length=63, blank=True, help_text="The dropped month's partition, if any.")
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
    region = models.CharField(max_length=6, blank=True)
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

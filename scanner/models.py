"""What the scanner keeps: each site's scan settings, its scans, the inventory of
what its pages store and fetch, and the violations a scan found.

A scan writes the inventory and its violations in one transaction at its end
(``scanner/scans.py``), so a scan that dies half-way leaves both as they were.
"""
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .kinds import KINDS, PHASES, REQUEST

MAX_PAGE_LIMIT = 500


class ScanSettings(models.Model):
    """Which pages of a site the scanner opens, and whether it does so every week."""

    site = models.OneToOneField("consent.Site", on_delete=models.CASCADE, related_name="scan_settings")
    urls = models.JSONField(
        default=list, blank=True,
        help_text='Pages to open, e.g. ["https://shop.example.com/", "https://shop.example.com/cart"].',
    )
    use_sitemap = models.BooleanField(default=True, help_text="Also open the pages listed in /sitemap.xml of those origins.")
    page_limit = models.PositiveIntegerField(default=50, help_text=f"At most this many pages per scan (1–{MAX_PAGE_LIMIT}).")
    weekly = models.BooleanField(default=True, help_text="Scan every week (Celery beat).")

    class Meta:
        verbose_name_plural = "scan settings"

    def __str__(self):
        return f"scan settings of {self.site.key}"

    def clean(self):
        if not isinstance(self.urls, list) or not all(isinstance(u, str) for u in self.urls):
            raise ValidationError({"urls": "Must be a list of page URLs."})
        for url in self.urls:
            if not url.startswith(("http://", "https://")) or len(url) > 2000:
                raise ValidationError({"urls": f"{url[:80]!r} is not an http(s) URL of at most 2,000 characters."})
        if not 1 <= self.page_limit <= MAX_PAGE_LIMIT:
            raise ValidationError({"page_limit": f"Must be between 1 and {MAX_PAGE_LIMIT}."})


class Scan(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed")]
    ACTIVE = (QUEUED, RUNNING)

    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="scans")
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=QUEUED)
    trigger = models.CharField(max_length=20, help_text="admin, command, schedule or task")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker running it renews this after every page; past it, the scan is
    # taken to be abandoned (its worker died) and may be taken over or replaced.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    pages_planned = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    items_seen = models.PositiveIntegerField(default=0)
    violation_count = models.PositiveIntegerField(default=0)
    notes = models.JSONField(default=list, blank=True, help_text="Pages that failed to load, missing banners, refused addresses.")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One scan per site at a time.
            models.UniqueConstraint(fields=["site"], condition=Q(status__in=("queued", "running")), name="scan_one_active_per_site"),
        ]

    def __str__(self):
        return f"scan {self.pk} of {self.site.key} ({self.status})"


class Tracker(models.Model):
    """One thing a site's pages store or fetch: a cookie, a storage key, or a host requested."""

    OCD, CATALOGUE, OWNER, PLATFORM = "ocd", "catalogue", "owner", "platform"
    CLASSIFIED_BY = [
        (OCD, "Open Cookie Database"), (CATALOGUE, "Tag host catalogue"), (OWNER, "Site owner"), (PLATFORM, "This platform"),
    ]

    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="trackers")
    kind = models.CharField(max_length=16, choices=KINDS)
    name = models.CharField(max_length=255, help_text="Cookie name, storage key, or the host requested.")
    domain = models.CharField(max_length=255, blank=True, help_text="Cookie domain, the storing page's host, or the host requested.")
    first_party = models.BooleanField(default=True)
    category = models.CharField(max_length=32, blank=True, help_text="What the database or catalogue says it is for.")
    vendor = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    purpose = models.SlugField(max_length=64, blank=True, help_text="The site's purpose it serves; empty: not classified yet.")
    classified_by = models.CharField(max_length=10, choices=CLASSIFIED_BY, blank=True)
    prefix = models.CharField(max_length=255, blank=True, help_text="The database's wildcard this name matched (e.g. _ga_): clean-up removes every name starting with it.")
    lifetime_seconds = models.BigIntegerField(null=True, blank=True, help_text="Cookies: empty for a session cookie.")
    secure = models.BooleanField(null=True, blank=True)
    same_site = models.CharField(max_length=8, blank=True)
    http_only = models.BooleanField(null=True, blank=True)
    resource_type = models.CharField(max_length=32, blank=True, help_text="Requests: script, image, sub_frame…")
    set_by = models.CharField(max_length=500, blank=True, help_text="The response or script that set or requested it.")
    initiator = models.CharField(max_length=500, blank=True, help_text="Requests: what made the request.")
    pages = models.JSONField(default=list, blank=True, help_text="Some of the pages it was seen on.")
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "purpose", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "kind", "name", "domain"], name="tracker_unique_per_site")]
        indexes = [models.Index(fields=["site", "purpose"], name="tracker_site_purpose")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.name}" + (f" ({self.domain})" if self.domain and self.kind != REQUEST else "")


class Violation(models.Model):
    """Something non-essential (or not yet classified) stored or fetched before a choice or after "Reject all"."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="violations")
    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="violations")
    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="violations")
    page = models.CharField(max_length=2000)
    phase = models.CharField(max_length=8, choices=PHASES)
    purpose = models.CharField(max_length=64, blank=True, help_text="Empty: not classified yet.")
    set_by = models.CharField(max_length=500, blank=True)
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-found_at", "page"]

    def __str__(self):
        return f"{self.tracker} on {self.page} ({self.phase})"

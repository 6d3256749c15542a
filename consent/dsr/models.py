"""Records of data subject requests, and of every step taken on them.

A request record is kept 24 months (CCPA regulations §7101); it never holds
the visitor's consent data itself, only what is needed to answer and to prove
the answer.
"""
import uuid

from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone

from . import deadlines


def _private_storage():
    # Agent authorisations are never served by the web server: they live
    # outside STATIC/MEDIA and are read only through the admin.
    from django.conf import settings

    return FileSystemStorage(location=settings.CMP_PRIVATE_FILES_DIR)


class DataSubjectRequest(models.Model):
    KNOW, DELETE, CORRECT, OPT_OUT_MARKETING = "know", "delete", "correct", "opt_out_marketing"
    KIND_CHOICES = [
        (KNOW, "Right to know (a copy of my data)"),
        (DELETE, "Right to delete"),
        (CORRECT, "Correct my data"),
        (OPT_OUT_MARKETING, "Opt out of marketing"),
    ]
    UNVERIFIED, VERIFIED, FULFILLED, DENIED, EXPIRED = "unverified", "verified", "fulfilled", "denied", "expired"
    STATUS_CHOICES = [
        (UNVERIFIED, "Waiting for email verification"),
        (VERIFIED, "Verified: to be answered"),
        (FULFILLED, "Fulfilled"),
        (DENIED, "Denied"),
        (EXPIRED, "Expired unverified"),
    ]
    CLOSED = (FULFILLED, DENIED, EXPIRED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey("consent.Site", on_delete=models.PROTECT, related_name="data_requests")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    status = models.CharField(max_length=12, choices=STATUS_CHOICES, default=UNVERIFIED)
    email = models.EmailField(help_text="Where the requester proves control and gets answers.")
    details = models.TextField(blank=True, max_length=2000)
    language = models.CharField(max_length=35, default="en")
    # The browser whose consent data the request is about, if it came from the banner.
    visitor_uuid = models.UUIDField(null=True, blank=True)
    visitor_token_verified = models.BooleanField(
        default=False, help_text="The request carried this browser's write token: its data may be disclosed or deleted."
    )
    agent_name = models.CharField(max_length=200, blank=True)
    agent_document = models.FileField(storage=_private_storage, upload_to="agent-authorizations/", blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    denial_reason = models.TextField(blank=True)
    download_token_hash = models.CharField(max_length=64, blank=True)
    download_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at"]
        verbose_name = "data subject request"

    def __str__(self):
        return f"{self.get_kind_display()} for {self.site.key} ({self.status})"

    @property
    def is_closed(self):
        return self.status in self.CLOSED

    @property
    def due_at(self):
        return deadlines.answer_due(self.received_at, extended=self.extended_at is not None)

    @property
    def confirmation_due_at(self):
        return deadlines.confirmation_due(self.received_at)

    def urgency(self, now=None):
        return deadlines.urgency(self.due_at, now or timezone.now(), self.is_closed)


class RequestStep(models.Model):
    """One step of a request: every action is logged, with who and when."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=40)
    actor = models.CharField(max_length=150, blank=True, help_text="Admin user, 'requester' or 'system'.")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"

"""Records of data subject requests, and of every step taken on them.

A request record is kept 24 months (CCPA regulations §7101); it never holds
the visitor's consent data itself, only what is needed to answer and to prove
the answer.
"""
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import deadlines


def _private_storage():
    # Agent authorisations are never served by the web server: they live
    # outside STATIC/MEDIA and are read only through the admin.
    return FileSystemStorage(location=settings.CMP_PRIVATE_FILES_DIR)


class DataSubjectRequest(models.Model):
    class Kind(models.TextChoices):
        KNOW = "know", "Right to know (a copy of my data)"
        DELETE = "delete", "Right to delete"
        CORRECT = "correct", "Correct my data"
        OPT_OUT_MARKETING = "opt_out_marketing", "Opt out of marketing"

    # Each kind as the requester asks for it, on the form and in the emails,
    # in their language (the labels above are the privacy team's, in the admin).
    KIND_AS_ASKED = {
        Kind.KNOW: _("A copy of the data about me (right to know)"),
        Kind.DELETE: _("Delete the data about me (right to delete)"),
        Kind.CORRECT: _("Correct the data about me"),
        Kind.OPT_OUT_MARKETING: _("Stop marketing to me"),
    }

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Waiting for email verification"  # until the requester follows the link
        VERIFIED = "verified", "Verified: to be answered"  # the team's queue, within the legal deadline
        # Closed:
        FULFILLED = "fulfilled", "Fulfilled"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired unverified"  # the link was never followed

    CLOSED = (Status.FULFILLED, Status.DENIED, Status.EXPIRED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey("consent.Site", on_delete=models.PROTECT, related_name="data_requests")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNVERIFIED)
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
    downloaded_at = models.DateTimeField(null=True, blank=True, help_text="When the single-use download link was used.")

    class Meta:
        ordering = ["received_at"]
        verbose_name = "data subject request"

    def __str__(self):
        return f"{self.get_kind_display()} for {self.site.key} ({self.status})"

    def log_step(self, action: str, actor: str = "system", detail: str = "") -> "RequestStep":
        """Record one step taken on this request (every action is logged)."""
        return RequestStep.objects.create(request=self, action=action, actor=actor, detail=detail[:2000])

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

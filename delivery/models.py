"""Webhook endpoints and the transactional outbox of their deliveries."""
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from . import addresses


def _webhook_secret():
    return secrets.token_hex(32)


def validate_webhook_url(url: str) -> None:
    """At save: https to a name whose every address is public (``delivery/addresses.py``); checked again at send."""
    try:
        addresses.resolve(url)
    except addresses.Refused as refused:
        raise ValidationError(str(refused).removeprefix("refused: ").capitalize() + ".") from None


class WebhookEvent(models.TextChoices):
    """What an endpoint is sent (the ``type`` of each message)."""

    DECISIONS_CHANGED = "consent.decisions_changed", "A visitor's decisions changed (the site's back end)"
    TREE_HEAD = "audit.tree_head", "A new signed tree head of the site's log (an auditor, a regulator, a second site)"
    VIOLATIONS_FOUND = "scanner.violations_found", "A scan found trackers set or requested before a choice or after Reject all"


class WebhookEndpoint(models.Model):
    """Someone who wants to hear of a site's changes: its back end (decisions), or a keeper of its log's tree heads."""

    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500, validators=[validate_webhook_url],
                          help_text="https only; the name must resolve to public addresses (checked again at each send).")
    event_type = models.CharField(
        max_length=40, choices=WebhookEvent.choices, default=WebhookEvent.DECISIONS_CHANGED,
        help_text="Tree heads carry no personal data: send them to outsiders, so copies of the log's heads exist outside.",
    )
    secret = models.CharField(
        max_length=64, default=_webhook_secret, help_text="Shared HMAC-SHA256 key; the receiver checks X-CMP-Signature with it."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.site.key} → {self.url}"


class OutboxMessage(models.Model):
    """One webhook delivery, written in the same transaction as the change it reports."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
    STATUS_CHOICES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Gave up after 24 hours")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="The event id receivers deduplicate on.")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self):
        return f"webhook {self.id} ({self.status})"

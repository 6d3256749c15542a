"""Webhook endpoints and the transactional outbox of their deliveries."""
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def _webhook_secret():
    return secrets.token_hex(32)


# What an endpoint may be sent (each message's "type"), and what each means.
DECISIONS_CHANGED = "consent.decisions_changed"
EVENT_TYPES = {
    DECISIONS_CHANGED: "A visitor's decisions changed",
    "scanner.violations_found": "A scan found trackers set or requested before a choice or after Reject all",
}


def _default_events():
    # Endpoints registered before other types existed keep getting exactly what they got.
    return [DECISIONS_CHANGED]


class WebhookEndpoint(models.Model):
    """A site's back end that wants to hear when a visitor's decisions change."""

    site = models.ForeignKey("consent.Site", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(
        max_length=64, default=_webhook_secret, help_text="Shared HMAC-SHA256 key; the receiver checks X-CMP-Signature with it."
    )
    active = models.BooleanField(default=True)
    events = models.JSONField(default=_default_events, help_text="The event types sent to this endpoint.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.site.key} → {self.url}"

    def clean(self):
        if not isinstance(self.events, list) or not set(self.events) <= set(EVENT_TYPES):
            raise ValidationError({"events": f"Must be a list of event types among {sorted(EVENT_TYPES)}."})


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

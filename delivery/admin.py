"""Webhook endpoints in the admin, with each endpoint's deliveries."""
from django.contrib import admin
from django.db import models

from .models import OutboxMessage, WebhookEndpoint


class OutboxMessageInline(admin.TabularInline):
    model = OutboxMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "status", "attempts", "last_status_code", "last_error", "next_attempt_at", "delivered_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-created_at")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Where decision changes are POSTed, and how each delivery went."""

    list_display = ("site", "url", "event_type", "active", "pending", "failed")
    list_filter = ("site", "event_type", "active")
    inlines = [OutboxMessageInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # typed without it: https, the only one allowed

    @admin.display(description="Pending deliveries")
    def pending(self, obj):
        return obj.messages.filter(status=OutboxMessage.PENDING).count()

    @admin.display(description="Failed deliveries")
    def failed(self, obj):
        return obj.messages.filter(status=OutboxMessage.FAILED).count()

"""Webhook endpoints in the admin, with each endpoint's deliveries."""
from django import forms
from django.contrib import admin

from .models import EVENT_TYPES, OutboxMessage, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=list(EVENT_TYPES.items()), widget=forms.CheckboxSelectMultiple,
                                       help_text="The event types sent to this endpoint.")

    class Meta:
        model = WebhookEndpoint
        fields = ("site", "url", "secret", "active", "events")


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

    form = WebhookEndpointForm
    list_display = ("site", "url", "active", "events", "pending", "failed")
    list_filter = ("site", "active")
    inlines = [OutboxMessageInline]

    @admin.display(description="Pending deliveries")
    def pending(self, obj):
        return obj.messages.filter(status=OutboxMessage.PENDING).count()

    @admin.display(description="Failed deliveries")
    def failed(self, obj):
        return obj.messages.filter(status=OutboxMessage.FAILED).count()

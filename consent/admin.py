"""The privacy team's admin: configure sites, their purposes, policies and API keys; read visitors.

Visitors are evidence: they are shown, never edited here. The audit log's
pages are the audit app's (``audit/admin.py``).
"""
from django.contrib import admin, messages

from .api_keys import issue_key
from .models import ApiKey, PolicyVersion, Purpose, Site, Visitor


class PurposeInline(admin.TabularInline):
    model = Purpose
    extra = 0
    fields = ("key", "essential", "position", "names", "descriptions")


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    extra = 0
    fields = ("version", "url", "effective_at", "material")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "default_regime", "consent_lifetime_days", "honor_dnt")
    search_fields = ("key", "name")
    inlines = [PurposeInline, PolicyVersionInline]

    def get_readonly_fields(self, request, obj=None):
        # The key is in every embed tag and cache entry: fixed once created.
        return ("key",) if obj else ()


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    """Publishing a version is a record: once saved it is not edited (publish a new one)."""

    list_display = ("site", "version", "effective_at", "material")
    list_filter = ("site", "material")

    def get_readonly_fields(self, request, obj=None):
        return ("site", "version", "url", "effective_at", "material") if obj else ()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shows records without any way to add, change or delete them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Visitor)
class VisitorAdmin(ReadOnlyAdmin):
    list_display = ("uuid", "site", "chosen_at", "policy_version", "created_at")
    list_filter = ("site",)
    search_fields = ("uuid",)
    exclude = ("token_hash",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Per-site keys for server writes. The key is shown once, when created."""

    list_display = ("site", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("site",)
    readonly_fields = ("prefix", "created_at", "last_used_at")
    fields = ("site", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key = issue_key(obj)
        messages.warning(request, f"New API key for {obj.site.key}: {key} (copy it now: it is not shown again).")


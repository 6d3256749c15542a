"""The scanner in the admin: scan settings with a "Scan now" button, scans, the inventory
(where the owner classifies what the references do not know), and violations."""
from django import forms
from django.contrib import admin, messages

from consent.models import Purpose

from .inventory import forget
from .models import Scan, ScanSettings, Tracker, Violation
from .scans import ScanRunning
from .tasks import start_scan


def _scan_now(request, sites) -> None:
    for site in sites:
        try:
            scan = start_scan(site, "admin")
            messages.success(request, f"Scan {scan.pk} of {site.key} queued.")
        except ScanRunning as busy:
            messages.warning(request, str(busy))


@admin.register(ScanSettings)
class ScanSettingsAdmin(admin.ModelAdmin):
    list_display = ("site", "page_limit", "use_sitemap", "weekly")
    actions = ["scan_selected"]

    @admin.action(description="Scan the selected sites now")
    def scan_selected(self, request, queryset):
        _scan_now(request, [settings.site for settings in queryset.select_related("site")])

    def response_change(self, request, obj):
        if "_scan_now" in request.POST:
            _scan_now(request, [obj.site])
        return super().response_change(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        if "_scan_now" in request.POST:
            _scan_now(request, [obj.site])
        return super().response_add(request, obj, post_url_continue)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Scan)
class ScanAdmin(ReadOnly):
    list_display = ("id", "site", "status", "trigger", "created_at", "finished_at", "pages_done", "pages_planned",
                    "items_seen", "violation_count")
    list_filter = ("site", "status")


class Unclassified(admin.SimpleListFilter):
    title = "classification"
    parameter_name = "classified"  # ?classified=no: the owner's queue (the README's "Not classified yet")

    def lookups(self, request, model_admin):
        return [("no", "Not classified yet"), ("yes", "Classified")]

    def queryset(self, request, queryset):
        # "no" is the owner's queue: items no purpose claims yet.
        keep_or_drop = {"no": queryset.filter, "yes": queryset.exclude}.get(self.value())
        return keep_or_drop(purpose="") if keep_or_drop else queryset


class TrackerForm(forms.ModelForm):
    class Meta:
        model = Tracker
        fields = ("purpose",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keys = Purpose.objects.filter(site=self.instance.site_id).values_list("key", flat=True)
        self.fields["purpose"] = forms.ChoiceField(
            choices=[("", "— not classified —"), *((k, k) for k in keys)], required=False,
            help_text="The site purpose this serves. Your choice is kept by later scans.")


@admin.register(Tracker)
class TrackerAdmin(admin.ModelAdmin):
    """The inventory: what the site's pages store and fetch; the owner sets the purpose of what is unknown."""

    form = TrackerForm
    list_display = ("name", "kind", "domain", "vendor", "category", "purpose", "classified_by", "first_seen", "last_seen")
    list_filter = ("site", Unclassified, "kind", "purpose", "classified_by")
    search_fields = ("name", "domain", "vendor")
    readonly_fields = ("site", "kind", "name", "domain", "first_party", "category", "vendor", "description", "classified_by",
                       "prefix", "lifetime_seconds", "secure", "same_site", "http_only", "resource_type", "set_by",
                       "initiator", "pages", "first_seen", "last_seen")
    fields = ("purpose", *readonly_fields)

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if "purpose" in form.changed_data:
            obj.classified_by = Tracker.OWNER
        super().save_model(request, obj, form, change)
        forget(obj.site.key)


@admin.register(Violation)
class ViolationAdmin(ReadOnly):
    list_display = ("page", "tracker", "phase", "purpose", "set_by", "scan", "found_at")
    list_filter = ("site", "phase", "purpose")
    list_select_related = ("tracker", "scan")

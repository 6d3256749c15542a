"""The audit log in the admin: filter, search, export, each visitor's history, the dashboard.

Consent events are evidence: nobody, superusers included, can add, change or
delete one here. Auditors (the ``auditor`` group: view permissions only) can
read and export all of it and change nothing.
"""
from datetime import UTC, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from consent.admin import ReadOnlyAdmin
from consent.models import ConsentEvent, Purpose, Site, Visitor

from . import dashboard, exports
from .models import AuditCheckpoint, AuditPurge, TreeHead
from .verify import chain_status


class DateRangeFilter(admin.ListFilter):
    """Events created from one day to another (inclusive), as ?created_from=&created_to= (YYYY-MM-DD)."""

    title = "date range"
    template = "admin/audit/date_range_filter.html"
    names = ("created_from", "created_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.names:
            if name in params:
                value = params.pop(name)
                self.used_parameters[name] = value[-1] if isinstance(value, list) else value

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.names)

    def choices(self, changelist):
        other = {k: v for k, v in changelist.get_filters_params().items() if k not in self.names}
        yield {"values": {name: self.used_parameters.get(name, "") for name in self.names},
               "hidden": [(k, v[-1] if isinstance(v, list) else v) for k, v in other.items()],
               "query_string": changelist.get_query_string(remove=list(self.names))}

    def queryset(self, request, queryset):
        for name, value in self.used_parameters.items():
            day = parse_date(value) if value else None
            if value and day is None:
                raise IncorrectLookupParameters(f"{name} must be a date like 2026-01-31")
            if day:
                start = datetime.combine(day, time.min, tzinfo=UTC)
                queryset = queryset.filter(created_at__gte=start) if name == "created_from" else queryset.filter(created_at__lt=start + timedelta(days=1))
        return queryset


class PurposeFilter(admin.SimpleListFilter):
    """Events where the visitor chose about this purpose (with Decision: what was decided for it)."""

    title = "purpose"
    parameter_name = "purpose"

    def lookups(self, request, model_admin):
        keys = sorted(set(Purpose.objects.filter(essential=False).values_list("key", flat=True)))
        return [(key, key) for key in keys]

    def queryset(self, request, queryset):
        if self.value() and request.GET.get("decision") not in ("granted", "denied"):
            return queryset.filter(choices__has_key=self.value())
        return queryset


class DecisionFilter(admin.SimpleListFilter):
    """Granted or denied, for the purpose chosen in the Purpose filter."""

    title = "decision (for the purpose above)"
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [("granted", "Granted"), ("denied", "Denied")]

    def queryset(self, request, queryset):
        purpose = request.GET.get("purpose")
        if purpose and not Purpose.objects.filter(key=purpose).exists():
            return queryset.none()  # the key goes into a JSON path: only real purpose keys
        if self.value() in ("granted", "denied") and purpose:
            return queryset.filter(**{f"decisions__{purpose}__granted": self.value() == "granted"})
        return queryset


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    """The audit log: filter, search by visitor id, export (CSV / JSON Lines), per-visitor history, dashboard.

    Auditors (the ``auditor`` group: view permissions only) can do all of it and change nothing.
    """

    list_display = ("created_at", "site_key", "visitor_short", "source", "chosen", "regime", "region", "policy_version",
                    "history_link")
    list_filter = ("site", DateRangeFilter, "source", PurposeFilter, DecisionFilter, "region", "regime")
    search_fields = ("visitor__uuid",)
    date_hierarchy = "created_at"
    list_select_related = ("site", "visitor")
    readonly_fields = ("prev_hash", "event_hash")
    change_list_template = "admin/consent/consentevent/change_list.html"

    @admin.display(description="Site", ordering="site__key")
    def site_key(self, obj):
        return obj.site.key

    @admin.display(description="Visitor")
    def visitor_short(self, obj):
        # The first block of the UUID tells visitors apart on a page; the whole id is in the tooltip and the history.
        uuid = str(obj.visitor.uuid)
        return format_html('<span title="{}">{}…</span>', uuid, uuid[:8])

    @admin.display(description="Chosen")
    def chosen(self, obj):
        """A mark per purpose chosen: ✓ granted, ✗ refused (the full words in the tooltip); — for none."""
        if not obj.choices:
            return "—"
        return format_html_join(" ", '<span class="cmp-mark" title="{0}: {1}" aria-label="{0}: {1}">{2}{3}</span>', (
            (key, "granted" if granted else "refused", key[:3].capitalize(), "✓" if granted else "✗")
            for key, granted in obj.choices.items()))

    @admin.display(description="History")
    def history_link(self, obj):
        return format_html('<a href="{}">history</a>', reverse("admin:consent_consentevent_visitor_history", args=[obj.visitor_id]))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export.<str:fmt>", view(self.export_view), name="consent_consentevent_export"),
            path("visitor/<int:visitor_pk>/", view(self.visitor_history_view), name="consent_consentevent_visitor_history"),
            path("dashboard/", view(self.dashboard_view), name="consent_consentevent_dashboard"),
        ] + super().get_urls()

    def _require_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def export_view(self, request, fmt):
        """The changelist's filtered set (same query string), streamed in constant memory."""
        self._require_view(request)
        if fmt not in exports.FORMATS:
            raise Http404("Export formats: csv, jsonl.")
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters as error:
            return HttpResponseBadRequest(f"Bad filter: {error}")
        return exports.streaming_response(queryset, fmt, f"consent-events-{timezone.now():%Y%m%d-%H%M%S}")

    def visitor_history_view(self, request, visitor_pk):
        """One visitor's whole history, oldest first, with its chain checked."""
        self._require_view(request)
        visitor = get_object_or_404(Visitor.objects.select_related("site"), pk=visitor_pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": f"History of visitor {visitor.uuid}",
            "visitor": visitor, "events": visitor.events.order_by("id"), "chain": chain_status(visitor),
        }
        return TemplateResponse(request, "admin/consent/consentevent/history.html", context)

    def dashboard_view(self, request):
        """Opt-in rates and choices per site, from the daily rollups (audit/dashboard.py)."""
        self._require_view(request)
        sites = list(Site.objects.all())
        site = next((s for s in sites if s.key == request.GET.get("site")), sites[0] if sites else None)
        try:
            days = min(max(int(request.GET.get("days", 30)), 1), 366)
        except ValueError:
            days = 30
        data = dashboard.dashboard_data(site, days) if site else None
        charts = {k: mark_safe(v) for k, v in dashboard.charts(data).items()} if data else {}
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Consent dashboard",
            "sites": sites, "site": site, "days": days, "data": data, "charts": charts, "day_choices": (7, 30, 90, 365),
        }
        return TemplateResponse(request, "admin/consent/consentevent/dashboard.html", context)


@admin.register(TreeHead)
class TreeHeadAdmin(ReadOnlyAdmin):
    """Signed heads of each site's log, as published at /api/v1/sites/<site>/log (``verify_audit`` checks them)."""

    list_display = ("site", "tree_size", "created_at", "complete_until", "root_hash", "key_id")
    list_filter = ("site",)
    exclude = ("frontier",)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    """Signed Merkle roots over the log, from before the site logs (``manage.py verify_audit`` still checks them)."""

    list_display = ("created_at", "after_event_id", "last_event_id", "event_count", "merkle_root", "key_id")


@admin.register(AuditPurge)
class AuditPurgeAdmin(ReadOnlyAdmin):
    """Tombstones left by retention and erasure: no personal data, only the purged events' hashes."""

    list_display = ("created_at", "reason", "sites", "visitor_count", "event_count", "key_id")
    exclude = ("leaves",)

"""The privacy team's queue of data subject requests.

A request is read-only evidence except for the two reason fields; the buttons
under the form fulfil, extend (once) or deny it, and every action is logged
as a step.
"""
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import documents, service
from .models import DataSubjectRequest, RequestStep

URGENCY_STYLE = {
    "overdue": ("#b00020", "Overdue"),
    "near_due": ("#8a5a00", "Due within 7 days"),
    "on_time": ("#1b5e20", "On time"),
    "closed": ("#4a4a4a", "Closed"),
}


class RequestStepInline(admin.TabularInline):
    model = RequestStep
    extra = 0
    can_delete = False
    fields = ("at", "action", "actor", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(admin.ModelAdmin):
    list_display = ("received_at", "site", "kind", "status", "urgency_badge", "due", "verified", "agent_name")
    list_filter = ("status", "kind", "site")
    search_fields = ("email", "id")
    ordering = ("received_at",)
    inlines = [RequestStepInline]
    change_form_template = "admin/privacy_requests/datasubjectrequest/change_form.html"
    readonly_fields = (
        "id", "site", "kind", "status", "email", "details", "language", "visitor_uuid", "visitor_token_verified",
        "agent_name", "agent_document_link", "received_at", "confirmation_sent_at", "verified_at", "due",
        "extended_at", "closed_at",
    )
    fields = readonly_fields + ("extension_reason", "denial_reason")

    def has_add_permission(self, request):
        return False  # requests come from the public form only

    def has_delete_permission(self, request, obj=None):
        return False  # request records are kept 24 months, then purged by the retention task

    @admin.display(description="Due")
    def due(self, obj):
        return obj.due_at.strftime("%Y-%m-%d")

    @admin.display(description="Urgency")
    def urgency_badge(self, obj):
        colour, label = URGENCY_STYLE[obj.urgency(timezone.now())]
        return format_html('<strong style="color:{}">{}</strong>', colour, label)

    @admin.display(description="Verified", boolean=True)
    def verified(self, obj):
        return obj.verified_at is not None

    @admin.display(description="Agent authorization")
    def agent_document_link(self, obj):
        if not obj.agent_document:
            return "—"
        url = reverse("admin:privacy_requests_agent_document", args=[obj.pk])
        return format_html('<a href="{}">Download the authorization</a>', url)

    def get_urls(self):
        extra = [
            path(
                "<uuid:object_id>/agent-document/",
                self.admin_site.admin_view(self.agent_document_view),
                name="privacy_requests_agent_document",
            ),
            path(
                "<uuid:object_id>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="privacy_requests_act",
            ),
        ]
        return extra + super().get_urls()

    def agent_document_view(self, request, object_id):
        obj = self.get_object(request, str(object_id))
        if obj is None or not obj.agent_document or not self.has_view_permission(request, obj):
            raise Http404("No authorization document.")
        name = obj.agent_document.name
        kind = documents.content_type(name)
        ext = name.rsplit(".", 1)[-1].lower() if kind != "application/octet-stream" else "bin"
        return FileResponse(obj.agent_document.open("rb"), as_attachment=True, content_type=kind,
                            filename=f"authorization-{obj.pk}.{ext}")

    def act_view(self, request, object_id, action):
        """The Fulfil / Extend / Deny buttons post here, with the reason fields of the form."""
        obj = self.get_object(request, str(object_id))
        if obj is None or action not in ("fulfil", "extend", "deny"):
            raise Http404("No such request or action.")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        actor = request.user.get_username()
        try:
            if action == "fulfil":
                service.fulfil(obj, actor)
            elif action == "extend":
                service.extend(obj, request.POST.get("extension_reason", ""), actor)
            else:
                service.deny(obj, request.POST.get("denial_reason", ""), actor)
        except service.RequestError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, DONE[action])
        return HttpResponseRedirect(reverse("admin:privacy_requests_datasubjectrequest_change", args=[obj.pk]))


DONE = {
    "fulfil": "Request fulfilled; the requester is emailed.",
    "extend": "Request extended by 45 days; the requester is emailed the reason.",
    "deny": "Request denied; the requester is emailed the reason.",
}

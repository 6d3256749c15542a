"""The privacy team's admin: configure sites, their purposes, policies and API keys; read visitors.

Visitors are evidence: they are shown, never edited here. The audit log's
pages are the audit app's (``audit/admin.py``).
"""
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .api_keys import issue_key
from .forms import NewSiteForm, PolicyVersionForm, PolicyVersionFormSet, PurposeForm, SiteForm, normalize_origin
from .models import ApiKey, PolicyVersion, Purpose, Site, SiteGroup, Visitor
from .refused_origins import refused_recently
from .site_setup import create_site


class PurposeInline(admin.TabularInline):
    model = Purpose
    form = PurposeForm
    extra = 0
    fields = ("key", "essential", "sale_or_sharing", "position", "texts")


class PolicyVersionInline(admin.TabularInline):
    """A version in force shows its fields read-only, and one that events name cannot be deleted (the forms say why)."""

    model = PolicyVersion
    form = PolicyVersionForm
    formset = PolicyVersionFormSet
    extra = 0
    fields = ("version", "url", "effective_at", "material")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    """A site's settings as form fields (``consent/forms.py``), its purposes and policy versions.

    A new site is made by :func:`~consent.site_setup.create_site`, with policy
    version 1 from the add form's URL; its purposes and versions are edited
    on its page once it exists.
    """

    form = SiteForm
    list_display = ("key", "name", "default_regime", "policy_in_force", "consent_lifetime_days", "honor_dnt")
    search_fields = ("key", "name")
    inlines = [PurposeInline, PolicyVersionInline]
    readonly_fields = ("refused_origins", "identity_secret")

    class Media:
        css = {"all": ["consent/admin.css"]}

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = NewSiteForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*NewSiteForm.Meta.fields, "policy_url"]
        return [*SiteForm.Meta.fields[:3], "refused_origins", *SiteForm.Meta.fields[3:], "identity_secret"]

    def get_readonly_fields(self, request, obj=None):
        # The key is in every embed tag and cache entry: fixed once created.
        return ("key", *self.readonly_fields) if obj else ()

    def get_inlines(self, request, obj):
        # A new site gets the default purposes and policy version 1 when saved; edit them then.
        return self.inlines if obj else []

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, PurposeInline):
            kwargs["form_kwargs"] = {"languages": obj.languages}
        return kwargs

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        create_site(obj, form.cleaned_data["policy_url"])

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the new site's page: its embed snippet, purposes and policy version.
        return HttpResponseRedirect(reverse("admin:consent_site_change", args=[obj.pk]))

    @admin.display(description="Policy in force")
    def policy_in_force(self, obj):
        policy = PolicyVersion.objects.filter(site=obj, effective_at__lte=timezone.now()).order_by("effective_at", "id").last()
        if policy is None:
            return format_html('<strong style="color:#b00020">{}</strong>', "none: choices are refused")
        return policy.version

    @admin.display(description="Refused origins")
    def refused_origins(self, obj):
        """Origins whose pages tried to use this site's banner or API lately, each with a button to allow it."""
        refused = refused_recently(obj.key, obj.allowed_origins)
        if not refused:
            return "None lately. Pages on an origin not listed above get no banner; they would show here."
        url = reverse("admin:consent_site_allow_origin", args=[obj.pk])
        # formaction: the button posts the change form (with its CSRF token) to the allow view.
        return format_html_join("", '<p>{} <small>(last {} UTC)</small> '
                                '<button type="submit" class="button" formaction="{}" name="origin" value="{}">Allow</button></p>',
                                ((origin, datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M"), url, origin)
                                 for origin, at in refused))

    def get_urls(self):
        allow = path("<int:site_pk>/allow-origin/", self.admin_site.admin_view(self.allow_origin_view),
                     name="consent_site_allow_origin")
        return [allow, *super().get_urls()]

    def allow_origin_view(self, request, site_pk):
        """Add one origin to the site's allowed origins (the Allow buttons)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        site = get_object_or_404(Site, pk=site_pk)
        if not self.has_change_permission(request, site):
            raise PermissionDenied
        origin = normalize_origin(request.POST.get("origin", ""))
        if origin not in site.allowed_origins:
            site.allowed_origins = [*site.allowed_origins, origin]
            try:
                site.full_clean()
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
            else:
                site.save()
                messages.success(request, f"{origin} may now show the banner and call the API of {site.key}.")
        return HttpResponseRedirect(reverse("admin:consent_site_change", args=[site.pk]))


@admin.register(SiteGroup)
class SiteGroupAdmin(admin.ModelAdmin):
    """Brand sites that share a signed-in person's consent; a site joins one on its own page."""

    list_display = ("key", "name")
    search_fields = ("key", "name")


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    """Publishing a version is a record: once saved it is not edited (publish a new one)."""

    list_display = ("site", "version", "effective_at", "material")
    list_filter = ("site", "material")

    def get_readonly_fields(self, request, obj=None):
        return ("site", "version", "url", "effective_at", "material") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.named_by_events())


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


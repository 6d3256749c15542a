"""The site's admin page, with the snippet that embeds its banner (the banner's own concern)."""
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from consent.admin import SiteAdmin
from consent.models import Site

from .embed import embed_snippets


class SiteWithEmbedAdmin(SiteAdmin):
    readonly_fields = ("embed", *SiteAdmin.readonly_fields)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return ["embed", *fields] if obj else fields

    @admin.display(description="Embed")
    def embed(self, obj):
        plain, pinned = embed_snippets(settings.CMP_PUBLIC_URL, obj.key)
        return format_html(
            "<p>Paste one of these into the head of every page of the allowed origins:</p>"
            '<pre class="cmp-snippet">{}</pre><p>or the runtime pinned with Subresource Integrity:</p>'
            '<pre class="cmp-snippet">{}</pre>', plain, pinned)


admin.site.unregister(Site)
admin.site.register(Site, SiteWithEmbedAdmin)

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cmp import health
from consent import embed, nai, pages

urlpatterns = [
    path("", RedirectView.as_view(url="/demo/", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("consent.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("c/cmp.css", embed.stylesheet, name="embed-css"),
    path("c/v/<str:version>/cmp.min.js", embed.versioned_runtime, name="embed-runtime"),
    path("c/<str:site_key>.js", embed.embed_script, name="embed-script"),
    path("demo/", pages.demo, name="demo"),
    path(".well-known/gpc.json", pages.gpc_json, name="gpc-json"),
    path("nai/optout", nai.opt_out, name="nai-optout"),
    path("nai/optin", nai.opt_in, name="nai-optin"),
    path("nai/status", nai.status, name="nai-status"),
    path("nai/status.gif", nai.status_gif, name="nai-status-gif"),
    path("privacy/requests/", include("consent.dsr.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "consent.pages.not_found"
handler500 = "consent.pages.server_error"

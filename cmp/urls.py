from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cmp import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="demo", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    path("", include("banner.urls")),
    path("", include("audit.urls")),
    path("privacy/requests/", include("privacy_requests.urls")),
    path("", include("scanner.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"

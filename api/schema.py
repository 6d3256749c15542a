"""How the OpenAPI schema describes the API's two credentials (drf-spectacular extensions)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SiteApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.SiteApiKeyAuthentication"
    name = "siteApiKey"
    # The banner writes without it (each visitor proves itself with its token in the body).
    optional = True

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "cmp_…",
                "description": "A site's API key (created in the admin under API keys), for apps and back ends."}


class VisitorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.VisitorTokenAuthentication"
    name = "visitorToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "The visitor's write token, returned by its first write (the banner keeps it in its cookie)."}

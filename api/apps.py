from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "HTTP API"

    def ready(self):
        from . import schema  # noqa: F401  (registers the credentials with the OpenAPI schema)
        from .cors import connect_cors

        connect_cors()

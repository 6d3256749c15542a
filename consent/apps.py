from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy checks)
        from .cors import connect_cors
        from .defaults import connect_defaults
        from .sites import connect_invalidation

        connect_defaults()
        connect_invalidation()
        connect_cors()
        from .dsr import tasks  # noqa: F401  (registers the request tasks with Celery)

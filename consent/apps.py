from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"

    def ready(self):
        from .defaults import connect_defaults
        from .sites import connect_invalidation

        connect_defaults()
        connect_invalidation()

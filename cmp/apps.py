from django.apps import AppConfig


class CmpConfig(AppConfig):
    """The project itself, as an app: only for its system checks."""

    name = "cmp"
    verbose_name = "Consent platform"

    def ready(self):
        from . import checks  # noqa: F401  (registers the settings check)

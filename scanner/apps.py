from django.apps import AppConfig


class ScannerConfig(AppConfig):
    name = "scanner"
    verbose_name = "Tracker scanner"
    default_auto_field = "django.db.models.BigAutoField"

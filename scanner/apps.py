from django.apps import AppConfig


class ScannerConfig(AppConfig):
    name = "scanner"
    verbose_name = "Tracker scanner"

    def ready(self):
        from banner.signals import embed_boot

        from .inventory import embed_fields

        embed_boot.connect(embed_fields, dispatch_uid="scanner-held-hosts")

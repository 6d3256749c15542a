from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Webhook delivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from consent.signals import decisions_changed
        from consent.sites import retire_on_change

        from .models import WebhookEndpoint
        from .outbox import queue_change

        decisions_changed.connect(queue_change, dispatch_uid="delivery-outbox")
        retire_on_change(WebhookEndpoint)

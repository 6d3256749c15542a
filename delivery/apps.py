from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Webhook delivery"

    def ready(self):
        from consent.signals import decisions_changed, tree_head_signed
        from consent.sites import retire_on_change

        from .models import WebhookEndpoint
        from .outbox import queue_change, queue_tree_head

        decisions_changed.connect(queue_change, dispatch_uid="delivery-outbox")
        tree_head_signed.connect(queue_tree_head, dispatch_uid="delivery-tree-heads")
        retire_on_change(WebhookEndpoint)

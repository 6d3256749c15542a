"""Celery tasks of webhook delivery. Each is idempotent and safe to retry (``acks_late``)."""
import logging

from celery import shared_task

from . import webhooks

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def deliver_webhook(message_id: str) -> str:
    return webhooks.deliver(message_id)


@shared_task(acks_late=True)
def sweep_outbox() -> int:
    """Re-enqueue every webhook message that is due: retries, and any whose first
    enqueue was lost because the broker was down."""
    ids = webhooks.due_message_ids()
    enqueue(ids)
    return len(ids)


@shared_task(acks_late=True)
def prune_messages() -> int:
    """Delete delivered and failed messages older than 30 days."""
    return webhooks.prune()


def enqueue(message_ids) -> None:
    """Hand messages to Celery; if the broker is down, the periodic sweep retries later."""
    for message_id in message_ids:
        try:
            deliver_webhook.delay(message_id)
        except Exception:  # broker unreachable: the rows stay pending, nothing is lost
            logger.warning("Broker unreachable; webhook %s left for the sweep", message_id)
            return

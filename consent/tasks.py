"""Celery tasks. Each is idempotent and safe to retry (``acks_late``): running one
twice, or after a crash half-way, has the effect of running it once."""
from celery import shared_task

from . import lifecycle, webhooks


@shared_task(acks_late=True)
def deliver_webhook(message_id: str) -> str:
    return webhooks.deliver(message_id)


@shared_task(acks_late=True)
def sweep_outbox() -> int:
    """Re-enqueue every webhook message that is due: retries, and any whose first
    enqueue was lost because the broker was down."""
    ids = webhooks.due_message_ids()
    webhooks.enqueue(ids)
    return len(ids)


@shared_task(acks_late=True)
def expire_choices() -> int:
    return lifecycle.expire_choices()


@shared_task(acks_late=True)
def apply_retention() -> dict:
    return lifecycle.apply_retention()


# --- Audit log and dashboard (consent/audit.py, consent/dashboard.py) ---------------

@shared_task(acks_late=True)
def audit_checkpoint() -> int | None:
    """Seal the events appended since the last checkpoint under a signed Merkle root."""
    from . import audit

    checkpoint = audit.checkpoint()
    return checkpoint.pk if checkpoint else None


@shared_task(acks_late=True)
def refresh_rollups(days: int = 2) -> int:
    """Recount the dashboard's daily rollups for the last ``days`` days (today included)."""
    from . import dashboard

    return dashboard.refresh_rollups(days=days)

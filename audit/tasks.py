"""Celery tasks of the audit log. Each is idempotent and safe to retry (``acks_late``)."""
from celery import shared_task

from . import dashboard, log, retention


@shared_task(acks_late=True)
def audit_checkpoint() -> list[int]:
    """Append each site's new events to its log and sign its new tree head; returns the new heads' sizes."""
    return [head.tree_size for head in log.extend_logs()]


@shared_task(acks_late=True)
def refresh_rollups(days: int = 2) -> int:
    """Recount the dashboard's daily rollups for the last ``days`` days (today included)."""
    return dashboard.refresh_rollups(days=days)


@shared_task(acks_late=True)
def apply_retention() -> dict:
    """Drop the months of events, and purge the visitors (with their events), past their retention period."""
    months, visitors = retention.apply_retention()
    return {"events_dropped_with_their_months": months, "visitors_purged": visitors}

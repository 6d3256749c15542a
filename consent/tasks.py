"""Celery tasks of the consent core. Each is idempotent and safe to retry
(``acks_late``): running one twice, or after a crash half-way, has the effect
of running it once."""
from celery import shared_task
from django.utils import timezone

from . import expiry, partitions, people


@shared_task(acks_late=True)
def make_event_partitions() -> list[str]:
    """Make the event table's partitions of this month and the next ones (PostgreSQL); returns those made."""
    return partitions.ensure_ahead(timezone.now())


@shared_task(acks_late=True)
def expire_choices() -> int:
    return expiry.expire_choices()


@shared_task(acks_late=True)
def forget_expired_links() -> int:
    """Used identity assertions and hand-offs past their expiry: refused by their time anyway, so kept no longer."""
    return people.forget_expired()

"""Celery tasks of the consent core. Each is idempotent and safe to retry
(``acks_late``): running one twice, or after a crash half-way, has the effect
of running it once."""
from celery import shared_task

from . import expiry


@shared_task(acks_late=True)
def expire_choices() -> int:
    return expiry.expire_choices()

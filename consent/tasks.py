"""Celery tasks of the consent core. Each is idempotent and safe to retry
(``acks_late``): running one twice, or after a crash half-way, has the effect
of running it once."""
from celery import shared_task

from . import expiry, people


@shared_task(acks_late=True)
def expire_choices() -> int:
    return expiry.expire_choices()


@shared_task(acks_late=True)
def forget_expired_links() -> int:
    """Used identity assertions and hand-offs past their expiry: refused by their time anyway, so kept no longer."""
    return people.forget_expired()

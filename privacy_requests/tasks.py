"""Celery tasks of data subject requests. Each is idempotent: safe to run twice."""
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from . import emails, service
from .models import DataSubjectRequest as Request


@shared_task(acks_late=True)
def send_missing_confirmations() -> int:
    """Hand over again any receipt confirmation whose task was lost (a broker
    restart): the request row is the record, the task only its messenger."""
    missing = Request.objects.filter(status=Request.Status.UNVERIFIED, confirmation_sent_at__isnull=True)
    ids = [str(pk) for pk in missing.values_list("pk", flat=True)[:500]]
    for request_id in ids:
        emails.send_verification_email.delay(request_id)
    return len(ids)


@shared_task(acks_late=True)
def expire_unverified_requests() -> int:
    return service.expire_unverified()


@shared_task(acks_late=True)
def send_daily_digest() -> int:
    """Email the privacy team the open requests that are overdue or due within a week."""
    now = timezone.now()
    urgent = [r for r in Request.objects.exclude(status__in=Request.CLOSED).select_related("site") if r.urgency(now) != "on_time"]
    if not urgent:
        return 0
    lines = [
        f"{r.urgency(now).upper():9} due {r.due_at:%Y-%m-%d}  {r.site.key:12} {r.get_kind_display()}  "
        f"{emails.public_url(reverse('admin:privacy_requests_datasubjectrequest_change', args=[r.pk]))}"
        for r in sorted(urgent, key=lambda r: r.due_at)
    ]
    send_mail(
        f"[consent platform] {len(urgent)} data subject request(s) need attention",
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        settings.CMP_PRIVACY_TEAM_EMAILS,
    )
    return len(urgent)


@shared_task(acks_late=True)
def purge_old_requests() -> int:
    """Delete request records older than 24 months, with their agent documents."""
    return service.purge_old_records()

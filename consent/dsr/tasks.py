"""Celery tasks of data subject requests. Each is idempotent: safe to run twice."""
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from . import texts
from .models import DataSubjectRequest as Request


def _url(path: str) -> str:
    return settings.CMP_PUBLIC_URL.rstrip("/") + path


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_verification_email(request_id: str) -> None:
    """Confirm receipt and ask the requester to prove control of the address."""
    from .service import log, verification_code

    with transaction.atomic():
        request = Request.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.confirmation_sent_at:
            return  # gone, or already sent by an earlier run
        t = texts.for_language(request.language)
        link = _url(f"/privacy/requests/verify/{verification_code(request)}/")
        body = t["email_verify_body"].format(
            kind=t["kinds"][request.kind], link=link, hours=settings.CMP_DSR_VERIFY_HOURS,
            due=request.due_at.date().isoformat(), reference=request.pk,
        )
        send_mail(t["email_verify_subject"], body, settings.DEFAULT_FROM_EMAIL, [request.email])
        request.confirmation_sent_at = timezone.now()
        request.save(update_fields=["confirmation_sent_at"])
        log(request, "receipt_confirmed", detail="Receipt confirmed and verification link emailed.")


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_request_update(request_id: str, what: str, download_token: str | None = None) -> None:
    request = Request.objects.filter(pk=request_id).first()
    if request is None:
        return
    t = texts.for_language(request.language)
    link = _url(f"/privacy/requests/download/{request.pk}/{download_token}/") if download_token else ""
    body = t[f"email_{what}_body"].format(
        kind=t["kinds"][request.kind], reason=request.extension_reason or request.denial_reason,
        due=request.due_at.date().isoformat(), link=link, reference=request.pk,
        hours=settings.CMP_DSR_DOWNLOAD_HOURS,
    )
    send_mail(t[f"email_{what}_subject"], body, settings.DEFAULT_FROM_EMAIL, [request.email])


@shared_task(acks_late=True)
def send_missing_confirmations() -> int:
    """Hand over again any receipt confirmation whose task was lost (a broker
    restart): the request row is the record, the task only its messenger."""
    missing = Request.objects.filter(status=Request.UNVERIFIED, confirmation_sent_at__isnull=True)
    ids = [str(pk) for pk in missing.values_list("pk", flat=True)[:500]]
    for request_id in ids:
        send_verification_email.delay(request_id)
    return len(ids)


@shared_task(acks_late=True)
def expire_unverified_requests() -> int:
    from .service import expire_unverified

    return expire_unverified()


@shared_task(acks_late=True)
def send_daily_digest() -> int:
    """Email the privacy team the open requests that are overdue or due within a week."""
    now = timezone.now()
    urgent = [r for r in Request.objects.exclude(status__in=Request.CLOSED).select_related("site") if r.urgency(now) != "on_time"]
    if not urgent:
        return 0
    lines = [
        f"{r.urgency(now).upper():9} due {r.due_at:%Y-%m-%d}  {r.site.key:12} {r.get_kind_display()}  "
        f"{_url(f'/admin/consent/datasubjectrequest/{r.pk}/change/')}"
        for r in sorted(urgent, key=lambda r: r.due_at)
    ]
    send_mail(
        f"[consent platform] {len(urgent)} data subject request(s) need attention",
        "\n".join(lines),
        settings.DEFAULT_FROM_EMAIL,
        settings.CMP_PRIVACY_TEAM_EMAILS,
    )
    return len(urgent)

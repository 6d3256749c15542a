"""What the requester is emailed, as Celery tasks: each is idempotent, and retried when the mail server fails."""
from celery import shared_task
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from . import texts
from .models import DataSubjectRequest as Request

VERIFY_SALT = "cmp.dsr.verify"


def public_url(path: str) -> str:
    """An absolute link to ``path`` on the platform, for emails."""
    return settings.CMP_PUBLIC_URL.rstrip("/") + path


def verification_code(request: Request) -> str:
    return signing.TimestampSigner(salt=VERIFY_SALT).sign(str(request.pk))


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_verification_email(request_id: str) -> None:
    """Confirm receipt and ask the requester to prove control of the address."""
    with transaction.atomic():
        request = Request.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.confirmation_sent_at:
            return  # gone, or already sent by an earlier run
        t = texts.for_language(request.language)
        link = public_url(reverse("dsr-verify", args=[verification_code(request)]))
        body = t["email_verify_body"].format(
            kind=t["kinds"][request.kind], link=link, hours=settings.CMP_DSR_VERIFY_HOURS,
            due=request.due_at.date().isoformat(), reference=request.pk,
        )
        send_mail(t["email_verify_subject"], body, settings.DEFAULT_FROM_EMAIL, [request.email])
        request.confirmation_sent_at = timezone.now()
        request.save(update_fields=["confirmation_sent_at"])
        request.log_step("receipt_confirmed", detail="Receipt confirmed and verification link emailed.")


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_request_update(request_id: str, what: str, download_token: str | None = None) -> None:
    request = Request.objects.filter(pk=request_id).first()
    if request is None:
        return
    t = texts.for_language(request.language)
    link = public_url(reverse("dsr-download", args=[request.pk, download_token])) if download_token else ""
    body = t[f"email_{what}_body"].format(
        kind=t["kinds"][request.kind], reason=request.extension_reason or request.denial_reason,
        due=request.due_at.date().isoformat(), link=link, reference=request.pk,
        hours=settings.CMP_DSR_DOWNLOAD_HOURS,
    )
    send_mail(t[f"email_{what}_subject"], body, settings.DEFAULT_FROM_EMAIL, [request.email])

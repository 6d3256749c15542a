"""What the requester is emailed, as Celery tasks: each is idempotent, and retried when the mail server fails.

Every email is written in the request's language (English where the platform
has no translation), and its links carry that language (``?lang=``) so the
page they open speaks it too, even when the link can no longer be used.
"""
from urllib.parse import urlencode

from celery import shared_task
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from consent.languages import interface_language

from .models import DataSubjectRequest as Request

VERIFY_SALT = "cmp.dsr.verify"

VERIFICATION = (
    _("Confirm your privacy request"),
    _(
        "We received your request: %(kind)s.\n\nTo confirm that this address is yours, open this link within "
        "%(hours)s hours:\n%(link)s\n\nWe will answer by %(due)s. Nothing is disclosed or deleted before you "
        "confirm.\nIf you did not make this request, ignore this email.\n\nReference: %(reference)s"
    ),
)
# The updates the privacy team's actions send (service.extend, deny, fulfil): subject and body.
UPDATES = {
    "extended": (
        _("Your privacy request needs more time"),
        _(
            "We need more time to answer your request (%(kind)s) because: %(reason)s\n\n"
            "We will answer by %(due)s.\n\nReference: %(reference)s"
        ),
    ),
    "denied": (
        _("Your privacy request"),
        _("We could not grant your request (%(kind)s) because: %(reason)s\n\nReference: %(reference)s"),
    ),
    "fulfilled": (
        _("Your privacy request is done"),
        _(
            "We have completed your request: %(kind)s.\n%(link)s\n\n"
            "(A download link, if any, works once, within %(hours)s hours.)\n\nReference: %(reference)s"
        ),
    ),
}


def public_url(path: str, **query) -> str:
    """An absolute link to ``path`` on the platform, for emails."""
    return settings.CMP_PUBLIC_URL.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")


def verification_code(request: Request) -> str:
    return signing.TimestampSigner(salt=VERIFY_SALT).sign(str(request.pk))


def _send(request: Request, email: tuple, **values) -> None:
    """Send ``email`` (subject, body) to the requester, in the request's language."""
    subject, body = email
    with override(interface_language(request.language)):
        body %= {"kind": request.KIND_AS_ASKED[request.kind], "due": request.due_at.date().isoformat(),
                 "reference": request.pk, **values}
        send_mail(str(subject), body, settings.DEFAULT_FROM_EMAIL, [request.email])


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_verification_email(request_id: str) -> None:
    """Confirm receipt and ask the requester to prove control of the address."""
    with transaction.atomic():
        request = Request.objects.select_for_update().filter(pk=request_id).first()
        if request is None or request.confirmation_sent_at:
            return  # gone, or already sent by an earlier run
        link = public_url(reverse("dsr-verify", args=[verification_code(request)]), lang=request.language)
        _send(request, VERIFICATION, link=link, hours=settings.CMP_DSR_VERIFY_HOURS)
        request.confirmation_sent_at = timezone.now()
        request.save(update_fields=["confirmation_sent_at"])
        request.log_step("receipt_confirmed", detail="Receipt confirmed and verification link emailed.")


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_request_update(request_id: str, what: str, download_token: str | None = None) -> None:
    request = Request.objects.filter(pk=request_id).first()
    if request is None:
        return
    link = ""
    if download_token:
        link = public_url(reverse("dsr-download", args=[request.pk, download_token]), lang=request.language)
    _send(request, UPDATES[what], link=link, reason=request.extension_reason or request.denial_reason,
          hours=settings.CMP_DSR_DOWNLOAD_HOURS)

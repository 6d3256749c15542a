"""Working a data subject request, from intake to answer.

Every function here logs a :class:`RequestStep`. Nothing is disclosed or
deleted before the requester has proved control of their email address, and a
browser's consent data only when the request also carried that browser's
write token (only the banner of that browser has it).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.errors import DomainError
from consent.models import Visitor

from . import emails, erasure
from .models import DataSubjectRequest as Request

RECORDS_KEPT = timedelta(days=730)  # CCPA regulations §7101: 24 months


class RequestError(DomainError):
    """An action that cannot be taken now; ``code`` and the message say why.

    Messages a requester reads (about their links) are translated: they are
    in the language active where the page shows them. The privacy team's are
    English, as the admin is.
    """


@transaction.atomic
def file_request(site, *, kind, email, details="", language="en", visitor_uuid=None, visitor_token=None,
                 agent_name="", agent_document=None) -> Request:
    request = Request(
        site=site, kind=kind, email=email, details=details, language=language,
        visitor_uuid=visitor_uuid, agent_name=agent_name,
    )
    request.visitor_token_verified = _token_matches(site, visitor_uuid, visitor_token)
    if agent_document is not None:
        request.agent_document = agent_document
    request.save()
    via = f"authorized agent {agent_name}" if agent_name else "the requester"
    browser = "with this browser's token" if request.visitor_token_verified else "without a browser token"
    request.log_step("received", "requester", f"Filed by {via}, {browser}.")
    request_id = str(request.pk)
    transaction.on_commit(lambda: emails.send_verification_email.delay(request_id))
    return request


def _token_matches(site, visitor_uuid, token) -> bool:
    if not visitor_uuid or not token:
        return False
    visitor = Visitor.objects.filter(site=site, uuid=visitor_uuid).first()
    return visitor is not None and visitor.holds_token(token)


def verify(code: str, now=None) -> Request:
    """Mark the request verified from its emailed link; refuses replays and old links."""
    max_age = timedelta(hours=settings.CMP_DSR_VERIFY_HOURS)
    try:
        request_id = signing.TimestampSigner(salt=emails.VERIFY_SALT).unsign(code, max_age=max_age)
    except signing.SignatureExpired:
        raise RequestError("link_expired", _("This verification link has expired. Please file the request again.")) from None
    except signing.BadSignature:
        raise RequestError("link_invalid", _("This verification link is not valid.")) from None
    with transaction.atomic():
        request = Request.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise RequestError("link_invalid", _("This verification link is not valid."))
        if request.status == Request.Status.EXPIRED:
            raise RequestError("link_expired", _("This request expired before it was verified. Please file it again."))
        if request.status != Request.Status.UNVERIFIED:
            raise RequestError("link_used", _("This link was already used; your request is being worked on."))
        request.status = Request.Status.VERIFIED
        request.verified_at = now or timezone.now()
        request.save(update_fields=["status", "verified_at"])
        request.log_step("verified", "requester", "Control of the email address proved by the emailed link.")
    return request


def expire_unverified(now=None) -> int:
    """Close requests whose verification link has run out (a daily task)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.CMP_DSR_VERIFY_HOURS)
    expired = 0
    for request in Request.objects.filter(status=Request.Status.UNVERIFIED, received_at__lt=cutoff):
        request.status, request.closed_at = Request.Status.EXPIRED, now
        request.save(update_fields=["status", "closed_at"])
        request.log_step("expired", detail="Not verified in time; nothing was disclosed or deleted.")
        expired += 1
    return expired


def extend(request: Request, reason: str, actor: str) -> None:
    """Use the one 45-day extension, telling the requester why."""
    if request.is_closed:
        raise RequestError("closed", "The request is already closed.")
    if request.extended_at:
        raise RequestError("already_extended", "The request was already extended once; the law allows one extension.")
    if not reason.strip():
        raise RequestError("reason_required", "Say why the request needs more time; the requester is told.")
    request.extended_at, request.extension_reason = timezone.now(), reason
    request.save(update_fields=["extended_at", "extension_reason"])
    request.log_step("extended", actor, reason)
    _notify(request, "extended")


def deny(request: Request, reason: str, actor: str) -> None:
    if request.is_closed:
        raise RequestError("closed", "The request is already closed.")
    if not reason.strip():
        raise RequestError("reason_required", "Say why the request is denied; the requester is told.")
    request.status, request.denial_reason, request.closed_at = Request.Status.DENIED, reason, timezone.now()
    request.save(update_fields=["status", "denial_reason", "closed_at"])
    request.log_step("denied", actor, reason)
    _notify(request, "denied")


def fulfil(request: Request, actor: str) -> None:
    """Answer a verified request: export for "know", erasure for "delete"."""
    if request.status != Request.Status.VERIFIED:
        raise RequestError("not_verified", "Only a verified, open request can be fulfilled.")
    if request.kind == Request.Kind.KNOW:
        token = secrets.token_urlsafe(32)
        request.download_token_hash = hashlib.sha256(token.encode()).hexdigest()
        request.download_expires_at = timezone.now() + timedelta(hours=settings.CMP_DSR_DOWNLOAD_HOURS)
        detail = "Export prepared; download link emailed."
    elif request.kind == Request.Kind.DELETE:
        token = None
        detail = erasure.erase_for_request(request)
    else:
        token = None
        detail = "Handled by the privacy team (see notes)."
    request.status, request.closed_at = Request.Status.FULFILLED, timezone.now()
    request.save()
    request.log_step("fulfilled", actor, detail)
    _notify(request, "fulfilled", download_token=token)


def open_download(request_id, token: str, now=None) -> Request:
    """The request whose export this download link may fetch, if it is still valid; uses the link up.

    A link works once: the request row is locked and marked downloaded, so a
    second use (or a concurrent one) is refused with ``link_used``. Call it in
    the transaction that builds the export, so a failed build leaves the link
    unused.
    """
    request = (
        Request.objects.select_for_update()
        .filter(pk=request_id, kind=Request.Kind.KNOW, status=Request.Status.FULFILLED).first()
    )
    valid = (
        request is not None
        and request.download_token_hash
        and hmac.compare_digest(request.download_token_hash, hashlib.sha256(token.encode()).hexdigest())
    )
    if not valid:
        raise RequestError("link_invalid", _("This download link is not valid."))
    now = now or timezone.now()
    if request.downloaded_at is not None:
        raise RequestError("link_used", _("This download link was already used; ask the privacy team for a new one."))
    if now > request.download_expires_at:
        raise RequestError("link_expired", _("This download link has expired; ask the privacy team for a new one."))
    request.downloaded_at = now
    request.save(update_fields=["downloaded_at"])
    request.log_step("downloaded", "requester")
    return request


def _notify(request: Request, what: str, download_token=None) -> None:
    request_id = str(request.pk)
    transaction.on_commit(lambda: emails.send_request_update.delay(request_id, what, download_token))


def purge_old_records(now=None) -> int:
    """Delete request records older than 24 months, with their agent documents; returns how many."""
    count = 0
    for request in Request.objects.filter(received_at__lt=(now or timezone.now()) - RECORDS_KEPT):
        if request.agent_document:
            request.agent_document.delete(save=False)
        request.delete()
        count += 1
    return count

"""The public pages of data subject requests: the form, the email link, the download.

Each page is in one of the site's languages (``?lang=``, else the browser's
first Accept-Language) served by the platform's closest translation; the
pages an emailed link opens are in the request's language.
"""
import hashlib

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from consent import ratelimit
from consent.client import client_ip, limit_key
from consent.errors import RateLimited
from consent.languages import interface_language
from consent.models import Site

from . import export, service
from .deadlines import answer_due
from .forms import MAX_DOCUMENT_BYTES, RequestForm

# The largest body the form can take: the document and room for the other fields.
MAX_FORM_BYTES = MAX_DOCUMENT_BYTES + 64 * 1024


def _language(request, site):
    asked = request.GET.get("lang") or request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    return site.pick_language(asked)


@csrf_exempt  # checked in _request_form, after the refusals that must come before the body is read
def request_form(request, site_key):
    site = get_object_or_404(Site, key=site_key)
    language = _language(request, site)
    with override(interface_language(language)):
        if request.method == "POST":
            refused = _refuse_before_reading(request, site)
            if refused is not None:
                return refused
        return _request_form(request, site, language)


def _refuse_before_reading(request, site):
    """The client's rate limit, then the body's declared size: neither needs the body parsed."""
    try:
        ratelimit.check("requests-ip", limit_key(client_ip(request)), settings.CMP_RATE_REQUESTS_PER_IP)
    except RateLimited as limited:
        return _too_many(request, site, limited,
                         _("Too many requests have come from your network. Please try again later."))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_FORM_BYTES:
        return _message(request, site, _("Request too large"),
                        _("The request is too large: the authorization may be at most 5 MB."), status=413)
    return None


def _too_many(request, site, limited, message):
    response = _message(request, site, _("Too many requests"), message, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


@csrf_protect
def _request_form(request, site, language):
    form = RequestForm(request.POST or None, request.FILES or None)
    context = {"site": site, "form": form, "hours": settings.CMP_DSR_VERIFY_HOURS}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        recipient = hashlib.sha256(data["email"].strip().lower().encode()).hexdigest()
        try:
            ratelimit.check("requests-address", recipient, settings.CMP_RATE_REQUESTS_PER_ADDRESS)
        except RateLimited as limited:
            return _too_many(request, site, limited,
                             _("Too many requests have been made for this email address. Please try again later."))
        filed = service.file_request(
            site,
            kind=data["kind"],
            email=data["email"],
            details=data["details"],
            language=language,
            visitor_uuid=data["visitor_id"],
            visitor_token=data["visitor_token"],
            agent_name=data["agent_name"],
            agent_document=data["agent_document"],
        )
        message = _(
            "We sent a confirmation link to %(email)s. Open it within %(hours)s hours to confirm your request. "
            "We will answer by %(due)s. Your reference: %(reference)s."
        ) % {"email": filed.email, "hours": settings.CMP_DSR_VERIFY_HOURS, "due": filed.due_at.date().isoformat(),
             "reference": filed.pk}
        return _message(request, site, _("Check your email"), message)
    context["due"] = answer_due(timezone.now(), False).date().isoformat()
    status = 400 if request.method == "POST" else 200
    return render(request, "privacy_requests/form.html", context, status=status)


def verify(request, code):
    try:
        verified = service.verify(code)
    except service.RequestError as error:
        return _unusable_link(request, error, status=410 if error.code in ("link_expired", "link_used") else 400)
    with override(interface_language(verified.language)):
        message = _("Thank you. We will answer by %(due)s. Your reference: %(reference)s.") % {
            "due": verified.due_at.date().isoformat(), "reference": verified.pk}
        return _message(request, verified.site, _("Request confirmed"), message)


def download(request, request_id, token):
    try:
        with transaction.atomic():  # the link is used up only if the export was built
            answered = service.open_download(request_id, token)
            archive = export.build_zip(answered)
    except service.RequestError as error:
        return _unusable_link(request, error, status=410 if error.code in ("link_expired", "link_used") else 404)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="privacy-request-{answered.pk}.zip"'
    response["Cache-Control"] = "no-store"
    return response


def _message(request, site, heading, message, status=200):
    return render(request, "privacy_requests/message.html", {"site": site, "heading": heading, "message": message},
                  status=status)


def _unusable_link(request, error, status):
    """Why an emailed link cannot be used, in the language the email gave it (``?lang=``)."""
    with override(interface_language(request.GET.get("lang"))):
        return _message(request, None, _("This link cannot be used"), error.detail, status=status)

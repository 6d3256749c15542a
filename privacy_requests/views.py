"""The public pages of data subject requests: the form, the email link, the download."""
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from consent import ratelimit
from consent.client import client_ip
from consent.errors import RateLimited
from consent.models import Site

from . import export, service, texts
from .deadlines import answer_due
from .forms import RequestForm


def _language(request, site):
    asked = request.GET.get("lang") or request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    return site.pick_language(asked)


def request_form(request, site_key):
    site = get_object_or_404(Site, key=site_key)
    language = _language(request, site)
    t = texts.for_language(language)
    form = RequestForm(request.POST or None, request.FILES or None, texts=t)
    context = {"site": site, "t": t, "language": language, "form": form, "hours": settings.CMP_DSR_VERIFY_HOURS}
    if request.method == "POST":
        try:
            ratelimit.check("requests-ip", client_ip(request), settings.CMP_RATE_REQUESTS_PER_IP)
        except RateLimited as limited:
            response = render(request, "privacy_requests/message.html", {**context, "heading": t["problem_title"],
                              "message": str(limited)}, status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
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
        message = t["thanks"].format(
            email=filed.email, hours=settings.CMP_DSR_VERIFY_HOURS, due=filed.due_at.date().isoformat(), reference=filed.pk
        )
        return render(request, "privacy_requests/message.html", {**context, "heading": t["thanks_title"], "message": message})
    context["intro"] = t["intro"].format(site=site.name)
    context["what_happens"] = t["what_happens"].format(hours=settings.CMP_DSR_VERIFY_HOURS, due=answer_due(timezone.now(), False).date().isoformat())
    status = 400 if request.method == "POST" else 200
    return render(request, "privacy_requests/form.html", context, status=status)


def verify(request, code):
    try:
        verified = service.verify(code)
    except service.RequestError as error:
        t = texts.for_language(request.GET.get("lang"))
        status = 410 if error.code in ("link_expired", "link_used") else 400
        return render(request, "privacy_requests/message.html", {"t": t, "language": "en", "heading": t["problem_title"], "message": str(error)}, status=status)
    t = texts.for_language(verified.language)
    message = t["verified"].format(due=verified.due_at.date().isoformat(), reference=verified.pk)
    return render(request, "privacy_requests/message.html", {"t": t, "language": verified.language, "site": verified.site, "heading": t["verified_title"], "message": message})


def download(request, request_id, token):
    try:
        answered = service.open_download(request_id, token)
    except service.RequestError as error:
        t = texts.for_language(None)
        status = 410 if error.code == "link_expired" else 404
        return render(request, "privacy_requests/message.html", {"t": t, "language": "en", "heading": t["problem_title"], "message": str(error)}, status=status)
    response = HttpResponse(export.build_zip(answered), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="privacy-request-{answered.pk}.zip"'
    response["Cache-Control"] = "no-store"
    return response

"""NAI-style opt-out from interest-based advertising, on the platform's own host.

Like a Network Advertising Initiative member, the platform offers:

- ``GET /nai/optout``: sets the opt-out cookie on the platform's host (five
  years and a day; ``SameSite=None; Secure`` so it travels with the banner's
  credentialed requests from every site), then answers a 1×1 GIF, or
  redirects to ``?return=`` when that URL is on one of the sites' allowed
  origins (never anywhere else: no open redirect).
- ``GET /nai/optin``: removes it again, answering the same way, but only as
  a first-party or top-level act: a request the browser marks
  ``Sec-Fetch-Site: cross-site`` counts only when it is a top-level
  navigation (``Sec-Fetch-Mode: navigate``, ``Sec-Fetch-Dest: document``: a
  link the person followed); an image, script, fetch or frame on another site
  gets a 403 and the opt-out stays. The opt-out may come from anywhere.
- ``GET /nai/status``: JSON ``{"opted_out": bool, "cookie": ...}``, and
  ``GET /nai/status.gif``: the industry's image form, whose width tells the
  state: 1 px no cookie, 2 px an identifying cookie, 3 px the opt-out cookie.

Every endpoint also answers HEAD. All of it works without JavaScript. The effect (consent/decisions.py): the
banner's requests carry the cookie, so ``nai_optout`` is in force and
``ad_personalization`` is denied; advertising itself stays as chosen.
"""
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_safe

from api.errors import json_error
from consent.client import NAI_COOKIE, NAI_OPT_OUT
from consent.models import Site

# The NAI asks members' opt-out cookies to live at least five years.
COOKIE_LIFETIME = timedelta(days=5 * 365 + 2)
NO_COOKIE, IDENTIFYING, OPTED_OUT = "none", "identifying", "opt_out"
STATUS_WIDTH = {NO_COOKIE: 1, IDENTIFYING: 2, OPTED_OUT: 3}


@require_safe
def opt_out(request):
    response = _answer(request)
    if response.status_code < 400:
        response.set_cookie(
            NAI_COOKIE,
            NAI_OPT_OUT,
            max_age=int(COOKIE_LIFETIME.total_seconds()),
            domain=settings.CMP_NAI_COOKIE_DOMAIN or None,
            secure=True,
            httponly=True,
            samesite="None",
        )
    return response


@require_safe
def opt_in(request):
    if not _first_party_or_top_level(request):
        return json_error(403, "cross_site_opt_in",
                          "Opting back in must be a top-level visit to this page (follow a link to it), "
                          "not an image, script, frame or fetch on another site.")
    response = _answer(request)
    if response.status_code < 400:
        response.delete_cookie(NAI_COOKIE, domain=settings.CMP_NAI_COOKIE_DOMAIN or None, samesite="None")
    return response


@require_safe
def status(request):
    state = cookie_state(request)
    response = JsonResponse({"opted_out": state == OPTED_OUT, "cookie": state})
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def status_gif(request):
    return _gif(STATUS_WIDTH[cookie_state(request)])


def _first_party_or_top_level(request) -> bool:
    """False for a cross-site request that is not a top-level navigation (browsers set these headers, pages cannot)."""
    if request.headers.get("Sec-Fetch-Site") != "cross-site":
        return True  # same-origin, same-site, typed in (none), or a client that sends no fetch metadata
    return request.headers.get("Sec-Fetch-Mode") == "navigate" and request.headers.get("Sec-Fetch-Dest") == "document"


def cookie_state(request) -> str:
    if request.COOKIES.get(NAI_COOKIE) == NAI_OPT_OUT:
        return OPTED_OUT
    # The platform sets no identifying cookie on its host; any other cookie
    # (an admin session, say) still identifies the browser, so say so.
    if any(name != NAI_COOKIE for name in request.COOKIES):
        return IDENTIFYING
    return NO_COOKIE


def _answer(request):
    """A redirect to an allowed ``return`` URL, a 400 for any other, else a pixel."""
    target = request.GET.get("return")
    if target is None:
        return _gif(1)
    if not _is_allowed_return(target):
        return json_error(400, "return_not_allowed", "The return URL is not on any site of this platform.")
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    return response


def _is_allowed_return(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc or "\\" in url or parts.username:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return any(origin in (origins or ()) for origins in Site.objects.values_list("allowed_origins", flat=True))


def _gif(width: int) -> HttpResponse:
    response = HttpResponse(STATUS_GIFS[width], content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


# Transparent GIFs, ``width`` × 1 pixels: the status image's width is its answer.
STATUS_GIFS = {
    1: b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
       b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    2: b"GIF89a\x02\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
       b"\x02\x00\x01\x00\x00\x02\x02\x04Q\x00;",
    3: b"GIF89a\x03\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
       b"\x03\x00\x01\x00\x00\x02\x03\x04A\x14\x00;",
}

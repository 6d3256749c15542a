"""The inventory as others read it: the cookie declaration (JSON, whole or worded for the banner's
dialog; HTML for a privacy-policy page) and the banner's blocking and clean-up rules.

All four are public, as a site's cookie declaration must be; they are
answered for any origin's page, carry an ETag, and may be cached for a while.
"""
import hashlib
import json

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from api.errors import error_response
from api.views import ERRORS
from consent.errors import NotFound
from consent.models import Site
from consent.sites import require_rules

from .inventory import blocking_rules, declaration, dialog_declaration

CACHE_CONTROL = "public, max-age=300"
ANSWERS = {200: dict, 304: None, 404: ERRORS[404]}
LANGUAGE = OpenApiParameter("lang", str, description="Language, e.g. fr or fr-CA.")


def _site(site_key) -> Site:
    return Site.objects.get(pk=require_rules(site_key).id)


def _json(request, data) -> HttpResponse:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    response = HttpResponse(body, content_type="application/json")
    response["ETag"], response["Cache-Control"], response["Vary"] = etag, CACHE_CONTROL, "Origin"
    return get_conditional_response(request, etag=etag, response=response)


class PublicSiteData(APIView):
    """Public JSON about one site, for any origin's page (security: [{}]), with an ETag; the schema takes
    each view's docstring as its description."""

    permission_classes = [AllowAny]

    def get(self, request, site_key):
        return _json(request, self.data(_site(site_key), request.query_params.get("lang")))


@extend_schema_view(get=extend_schema(operation_id="cookie_declaration", summary="The site's cookie declaration",
                                       responses=ANSWERS, parameters=[LANGUAGE]))
class DeclarationView(PublicSiteData):
    """Per purpose of the site: the cookies and storage keys its pages set and the vendors they call,
    as found by the scanner and classified by the owner, in the requested language."""

    data = staticmethod(declaration)


@extend_schema_view(get=extend_schema(operation_id="dialog_declaration", responses=ANSWERS, parameters=[LANGUAGE],
                                       summary="The cookie declaration as the banner's preferences dialog lists it"))
class DialogDeclarationView(PublicSiteData):
    """Fetched by the banner only when the visitor opens its preferences dialog. `purposes`: for each purpose with
    anything to declare, a `summary` and `lists` of `[heading, [line, ...]]` (cookies and storage keys with their
    vendor, host and lifetime; vendors with their hosts), all worded in the requested language."""

    data = staticmethod(dialog_declaration)


@extend_schema_view(get=extend_schema(operation_id="tracker_rules", responses=ANSWERS,
                                       summary="What the banner blocks and cleans up, per optional purpose"))
class TrackerRulesView(PublicSiteData):
    """`hosts`: hosts (and their subdomains) whose scripts, frames and images wait for the purpose;
    `essential`: hosts that never wait, though a listed host covers them (the most specific listing wins);
    `cookies` and `storage`: names to delete when it is declined (a trailing * marks a prefix)."""

    data = staticmethod(lambda site, language: blocking_rules(site))


def declaration_page(request, site_key):
    """The declaration as a page to embed in the site's privacy policy (an iframe its origins may frame)."""
    try:
        site = _site(site_key)
    except NotFound as unknown:
        return error_response(unknown)
    response = render(request, "scanner/declaration.html", {"declaration": declaration(site, request.GET.get("lang"))})
    ancestors = " ".join(site.allowed_origins) or "'none'"
    response["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")
    response["Cache-Control"] = CACHE_CONTROL
    response.xframe_options_exempt = True  # framing is decided by frame-ancestors above
    return response

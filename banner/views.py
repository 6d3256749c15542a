"""The banner's own pages and its config API: the demo shop page, /.well-known/gpc.json, the config."""
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from api.views import ERRORS
from consent import client
from consent.errors import NotFound

from .config import encoded_config


def demo(request):
    """A page that embeds the banner for site ``demo`` and carries gated example tags.

    It stands for a customer's page, whose CSP is the customer's business
    (the README lists the lines the banner needs), so ours is not applied.
    """
    response = render(request, "banner/demo.html")
    response.csp_exempt = True
    return response


def gpc_json(request):
    """``/.well-known/gpc.json``: this host honours Global Privacy Control."""
    response = JsonResponse({"gpc": True, "lastUpdate": settings.CMP_GPC_LAST_UPDATE})
    response["Cache-Control"] = "public, max-age=86400"
    return response


class SiteConfigView(APIView):
    permission_classes = [AllowAny]  # anyone may ask; the schema says so (security: [{}])

    @extend_schema(
        operation_id="banner_config",
        summary="What the banner needs for this site",
        description="Purposes and texts in the requested language (or the site's default), the regime for "
        "this request's region (`region`: ISO 3166-2 like `US-CA` from the region header, else the country), "
        "`us_privacy` (null outside the US; else the GPP section ids that apply, and whether the state's law "
        "has the banner show the \"Your Privacy Choices\" link and the \"Limit the use of my sensitive "
        "personal information\" link), the policy version and URL, and the GA ids. Send `If-None-Match` with "
        "the last ETag to get a 304.",
        parameters=[OpenApiParameter("lang", str, description="Visitor's language, e.g. fr or fr-CA.")],
        responses={200: dict, 304: None, 404: ERRORS[404]},
    )
    def get(self, request, site_key):
        encoded = encoded_config(site_key, request.query_params.get("lang"), client.region(request))
        if encoded is None:
            raise NotFound("unknown_site", f"No site with key '{site_key[:64]}'.")
        body, etag = encoded
        # The regime and us_privacy depend on the region headers, so caches must key on them.
        vary = ", ".join(["Origin", *client.region_headers()])
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60", "Vary": vary}
        # Weak comparison: a compressed answer's ETag came back weakened (cmp/compression.py).
        if get_conditional_response(request, etag=etag) is not None:
            return HttpResponseNotModified(headers=headers)
        return HttpResponse(body, content_type="application/json", headers=headers)

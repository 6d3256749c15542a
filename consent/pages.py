"""Plain Django pages: the demo page and the JSON error handlers."""
from django.shortcuts import render
from django.views import defaults

from .api.errors import json_error


def demo(request):
    """A page that embeds the banner for site ``demo`` and carries gated example tags.

    It stands for a customer's page, whose CSP is the customer's business
    (docs/banner.md lists the lines the banner needs), so ours is not applied.
    """
    response = render(request, "consent/demo.html")
    response.csp_exempt = True
    return response


def gpc_json(request):
    """``/.well-known/gpc.json``: this host honours Global Privacy Control."""
    from django.conf import settings
    from django.http import JsonResponse

    response = JsonResponse({"gpc": True, "lastUpdate": settings.CMP_GPC_LAST_UPDATE})
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _is_api(request):
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return json_error(404, "not_found", f"No API endpoint at {request.path[:200]}.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return json_error(500, "server_error", "Something went wrong on our side; treat optional purposes as denied.")
    return defaults.server_error(request)

"""Serve the consent lookup before the middleware it does not need.

The lookup (``GET /api/v1/sites/{site}/decisions/{visitor}``) sits in front of
every tag on every page view. It uses no session, user, messages, CSRF token
or template, so this middleware, placed after the security and CORS
middleware (HTTPS redirect, HSTS, nosniff, the per-site CORS allow-list still
apply), answers it directly and skips the rest of the stack and URL
resolution. Every other request goes on as usual.
"""
import re

from .lookup import lookup_decisions

LOOKUP_PATH = re.compile(r"^/api/v1/sites/(?P<site_key>[^/]+)/decisions/(?P<visitor_id>[^/]+)$")


class LookupFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = LOOKUP_PATH.match(request.path_info)
        if match is None:
            return self.get_response(request)
        return lookup_decisions(request, **match.groupdict())

"""Answer the two requests of every page view before the middleware they do not need.

Every page of every site asks for its site script ``/c/<site>.js`` before its
banner can show, and every tag asks for the consent lookup
``GET /api/v1/sites/{site}/decisions/{visitor}``. Neither uses a session, a
user, messages, a CSRF token, a template or URL resolution, so this
middleware, placed after the security and CORS middleware (HTTPS redirect,
HSTS, nosniff and the per-site CORS allow-list still apply), hands them to
their views directly. Each view sets its own caching and CORS headers, and the
script its compression (``banner/embed.py``). Every other request, and a
method a route does not take here, goes on through the whole stack.
"""
import re

from api.lookup import lookup_decisions
from banner.embed import embed_script

# (path, the methods answered here or None for all, view called with the path's groups)
ROUTES = (
    (re.compile(r"^/api/v1/sites/(?P<site_key>[^/]+)/decisions/(?P<visitor_id>[^/]+)$"), None, lookup_decisions),
    (re.compile(r"^/c/(?P<site_key>[^/]+)\.js$"), ("GET",), embed_script),
)


class FastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for path, methods, view in ROUTES:
            match = path.match(request.path_info)
            if match is not None and (methods is None or request.method in methods):
                return view(request, **match.groupdict())
        return self.get_response(request)

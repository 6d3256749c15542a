"""Serve the site script ``/c/<site>.js`` before the middleware it does not need.

Every page of every site asks for it before its banner can show, so, like the
lookup's fast path (``api/fastpath.py``), this middleware answers it right
after the security middleware: no session, user, CSRF token, messages or URL
resolution. The script sets its own caching, CORS and compression headers
(``banner/embed.py``). Every other request goes on as usual.
"""
import re

from .embed import embed_script

EMBED_PATH = re.compile(r"^/c/(?P<site_key>[^/]+)\.js$")


class EmbedFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = EMBED_PATH.match(request.path_info)
        if match is None or request.method != "GET":
            return self.get_response(request)
        return embed_script(request, match["site_key"])

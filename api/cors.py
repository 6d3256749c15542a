"""CORS per site: only a site's own allowed origins may call its API.

django-cors-headers asks every receiver of ``check_request_enabled``; this one
says yes when the request's Origin is one of the site's ``allowed_origins``.
A refused origin is noted for the site's admin page (``consent/refused_origins.py``),
unless it is the platform's own (its pages call the API same-origin).
"""
import re

from corsheaders.signals import check_request_enabled
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError

from consent.refused_origins import note_refused
from consent.sites import site_rules

SITE_PATH = re.compile(r"^/api/v1/sites/(?P<key>[^/]+)/")


def origin_allowed_for_site(sender, request, **kwargs):
    match = SITE_PATH.match(request.path)
    origin = request.headers.get("Origin")
    if not match or not origin:
        return False
    # The lookup view leaves the rules it read on the request: no second cache round trip.
    rules = getattr(request, "site_rules", None)
    if rules is None or rules.key != match["key"]:
        try:
            rules = site_rules(match["key"])
        except DatabaseError:
            # Storage is down and this process has not the site's rules: the answer (a 503 from the
            # view) goes out without CORS headers, as for an origin not known to be allowed.
            return False
    if rules is None:
        return False
    if origin in rules.origins:
        return True
    if origin != _own_origin(request):
        note_refused(rules.key, origin)
    return False


def _own_origin(request) -> str | None:
    try:
        return f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:  # the lookup's fast path answers before CommonMiddleware checks the host
        return None


def connect_cors():
    check_request_enabled.connect(origin_allowed_for_site, dispatch_uid="cmp-site-origins")

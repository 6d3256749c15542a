"""CORS per site: only a site's own allowed origins may call its API.

django-cors-headers asks every receiver of ``check_request_enabled``; this one
says yes when the request's Origin is one of the site's ``allowed_origins``.
"""
import re

from corsheaders.signals import check_request_enabled

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
        rules = site_rules(match["key"])
    return rules is not None and origin in rules.origins


def connect_cors():
    check_request_enabled.connect(origin_allowed_for_site, dispatch_uid="cmp-site-origins")

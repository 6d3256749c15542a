"""Who is calling: REST framework authentication for the two credentials the API knows.

Both arrive as ``Authorization: Bearer <credential>``, read by :func:`bearer`
alone:

- :class:`SiteApiKeyAuthentication`: a site's API key (``cmp_…``), for apps and
  back ends writing for their visitors. A key of another site, or a revoked
  one, is refused (403 ``bad_api_key``); no header means an anonymous caller
  (the banner, which proves each visitor with that visitor's token instead).
- :class:`VisitorTokenAuthentication`: a visitor's own write token, for reading
  that visitor's receipts. Whether it matches the visitor is the domain's
  question (``audit.receipts.visitor_holding``); this only hands it over.
"""
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication

from consent.api_keys import site_for_key
from consent.errors import Forbidden
from consent.sites import site_rules


def bearer(request) -> str | None:
    """The credential of an ``Authorization: Bearer …`` header; None without the header; '' if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credential = header.partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class SiteServer:
    """A caller holding a live API key of site ``site_id``."""

    site_id: int
    is_authenticated: bool = True


@dataclass(frozen=True)
class VisitorHolder:
    """A caller presenting a visitor token (checked against the visitor by the view's service)."""

    token: str
    is_authenticated: bool = True


class SiteApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key = bearer(request)
        if key is None:
            return None
        rules = site_rules(request.parser_context["kwargs"]["site_key"])
        if rules is None:
            return None  # the view answers 404 unknown_site
        site_id = site_for_key(key)
        if site_id != rules.id:
            raise Forbidden("bad_api_key", "The Authorization header does not carry a live API key of this site.")
        return SiteServer(site_id), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class VisitorTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        token = bearer(request)
        return (VisitorHolder(token), token) if token else None

    def authenticate_header(self, request):
        return 'Bearer realm="visitor"'

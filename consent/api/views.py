"""The HTTP API: thin views that validate, call the domain modules, and shape JSON."""
import uuid

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException, Throttled
from rest_framework.views import APIView

from .. import client, ratelimit
from ..api_keys import site_for_key
from ..site_config import encoded_config
from ..sites import SiteRules, site_rules
from ..writes import ConsentWrite, WriteRejected, record_consent
from . import serializers as s
from .errors import ApiError, error_body, error_response
from .lookup import EXAMPLE_VISITOR, decision_fields, lookup_decisions
from .parsers import LimitedJSONParser, PlainTextJSONParser, json_body

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Malformed request; `detail` says what is wrong."),
    404: OpenApiResponse(s.ErrorSerializer, description="Unknown site (or purpose)."),
    503: OpenApiResponse(s.ErrorSerializer, description="Storage unavailable: fail closed and retry."),
}


def rules_or_404(site_key: str) -> SiteRules:
    rules = site_rules(site_key)
    if rules is None:
        raise ApiError(404, "unknown_site", f"No site with key '{site_key}'.")
    return rules


def _visitor_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "malformed_visitor_id", f"'{value[:64]}' is not a UUID like {EXAMPLE_VISITOR}.") from None


def _limit_writes(request, rules: SiteRules) -> None:
    try:
        ratelimit.check("writes-ip", client.client_ip(request), settings.CMP_RATE_WRITES_PER_IP)
        ratelimit.check("writes-site", rules.key, settings.CMP_RATE_WRITES_PER_SITE)
    except ratelimit.RateLimited as limited:
        raise Throttled(wait=limited.retry_after, detail=f"Too many consent writes; retry in {limited.retry_after} s.") from None


def _api_key_for(request, rules: SiteRules) -> bool:
    """True when the request carries a live API key of this site; 403 for anyone else's."""
    header = request.headers.get("Authorization", "")
    if not header:
        return False
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or site_for_key(key.strip()) != rules.id:
        raise ApiError(403, "bad_api_key", "The Authorization header does not carry a live API key of this site.")
    return True


class ConsentWriteView(APIView):
    parser_classes = [LimitedJSONParser, PlainTextJSONParser]

    @extend_schema(
        operation_id="write_consent",
        summary="Record a visitor's choice",
        description=(
            "Called by the banner (cross-origin; CORS allows the site's origins). The first write for a "
            "visitor id creates it and returns a token; later writes must carry that token (403 otherwise). "
            "Every write appends an audit event in the same transaction. `Sec-GPC: 1` counts as `signals.gpc`. "
            "Apps and servers may write with the site's API key (`Authorization: Bearer cmp_…`) instead of the "
            "visitor token; only they may report `signals.lat`. A signal-only write that changes nothing "
            "answers 200 and logs no event."
        ),
        request=s.ConsentWriteSerializer,
        responses={
            201: s.ConsentWriteResponseSerializer,
            200: s.ConsentWriteResponseSerializer,
            403: OpenApiResponse(s.ErrorSerializer),
            413: OpenApiResponse(s.ErrorSerializer),
            429: OpenApiResponse(s.ErrorSerializer, description="Rate limited; see Retry-After."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "First write from the banner",
                request_only=True,
                value={
                    "visitor_id": EXAMPLE_VISITOR,
                    "choices": {"analytics": True, "advertising": False, "recognition": False},
                    "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
                    "policy_version": "3",
                    "banner_version": "1.0.0",
                    "language": "fr",
                },
            ),
            OpenApiExample(
                "Recorded",
                response_only=True,
                status_codes=["201"],
                value={
                    "visitor_id": EXAMPLE_VISITOR,
                    "token": "q2Yl0c6n6c1bZ3k3r0-8cE7bGd2xJm0w9qT7sV4uYhA",
                    "regime": "opt_in",
                    "policy_version": "3",
                    "decisions": {
                        "authentication": {"granted": True, "reason": "essential"},
                        "security": {"granted": True, "reason": "essential"},
                        "analytics": {"granted": True, "reason": "choice"},
                        "advertising": {"granted": False, "reason": "choice"},
                        "recognition": {"granted": False, "reason": "choice"},
                    },
                    "ad_personalization": {"granted": False, "reason": "choice"},
                    "consent_mode": {
                        "ad_personalization": "denied", "ad_storage": "denied", "ad_user_data": "denied",
                        "analytics_storage": "granted", "functionality_storage": "granted",
                        "personalization_storage": "denied", "security_storage": "granted",
                    },
                    "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
                },
            ),
        ],
    )
    def post(self, request, site_key):
        return write_consent(request._request, site_key)

    @classmethod
    def as_view(cls, **initkwargs):
        """Route straight to the lean :func:`write_consent`; this class only documents it."""

        @csrf_exempt  # a cross-origin API with its own proofs (token, API key), as REST framework's views are
        def view(request, *args, **kwargs):
            return write_consent(request, *args, **kwargs)

        view.cls, view.initkwargs = cls, initkwargs  # what drf-spectacular reads to document it
        return view


def write_consent(request, site_key: str) -> HttpResponse:
    """Record a visitor's choice: a plain Django view, as the lookup is.

    REST framework's request wrapping, negotiation and response rendering
    cost a write more than its validation does, and the write needs none of
    them: the body is JSON in (``parsers.json_body``), JSON out. Errors keep
    the API's one shape (``errors.error_response``).
    """
    if request.method != "POST":
        if request.method == "OPTIONS":
            return HttpResponse(headers={"Allow": WRITE_METHODS})
        return JsonResponse(error_body("method_not_allowed", f'Method "{request.method}" not allowed; use POST.'),
                            status=405, headers={"Allow": WRITE_METHODS})
    try:
        status, body = _write(request, site_key)
    except (APIException, DatabaseError) as exc:
        return error_response(exc)
    return JsonResponse(body, status=status, headers={"Cache-Control": "no-store"},
                        json_dumps_params={"separators": (",", ":")})


WRITE_METHODS = "POST, OPTIONS"


def _write(request, site_key: str) -> tuple[int, dict]:
    rules = rules_or_404(site_key)
    request.site_rules = rules  # for the CORS check (consent/cors.py): no second cache round trip
    _limit_writes(request, rules)
    data = s.validated_write(json_body(request))
    by_api_key = _api_key_for(request, rules)
    write = ConsentWrite(
        visitor_id=data["visitor_id"],
        token=data.get("token"),
        choices=data.get("choices"),
        signals=data.get("signals", {}),
        policy_version=data.get("policy_version") or None,
        banner_version=data.get("banner_version", ""),
        language=data.get("language", ""),
        source="banner" if data.get("banner_version") and not by_api_key else "api",
        by_api_key=by_api_key,
    )
    try:
        result = record_consent(rules, write, client.client_info(request))
    except WriteRejected as rejected:
        raise ApiError(rejected.status, rejected.code, rejected.detail) from None
    body = {
        "visitor_id": str(result.visitor_id),
        "token": result.token,
        "regime": result.regime,
        "policy_version": result.policy_version,
        **decision_fields(result.outcome),
        "signals": result.signals.as_dict(),
    }
    # 200, not 201: a signal-only write that changed nothing recorded nothing.
    return (201 if result.logged else 200), body


class DecisionLookupView(APIView):
    @extend_schema(
        operation_id="lookup_decisions",
        summary="May this tag fire for this visitor?",
        description=(
            "Each purpose's decision and reason, the Google Consent Mode v2 map and the policy version. "
            "An unknown visitor gets the regime's defaults. With `?purpose=`, the answer also carries "
            "`purpose`, `granted` and `reason` for that purpose at the top level."
        ),
        parameters=[OpenApiParameter("purpose", str, description="Only this purpose (e.g. analytics).")],
        responses={200: s.DecisionsResponseSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Unknown visitor in an opt-in region",
                response_only=True,
                value={
                    "site": "demo",
                    "visitor_id": EXAMPLE_VISITOR,
                    "regime": "opt_in",
                    "policy_version": "3",
                    "decisions": {
                        "authentication": {"granted": True, "reason": "essential"},
                        "security": {"granted": True, "reason": "essential"},
                        "analytics": {"granted": False, "reason": "default_opt_in"},
                        "advertising": {"granted": False, "reason": "default_opt_in"},
                        "recognition": {"granted": False, "reason": "default_opt_in"},
                    },
                    "ad_personalization": {"granted": False, "reason": "default_opt_in"},
                    "consent_mode": {
                        "ad_personalization": "denied", "ad_storage": "denied", "ad_user_data": "denied",
                        "analytics_storage": "denied", "functionality_storage": "granted",
                        "personalization_storage": "denied", "security_storage": "granted",
                    },
                    "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
                    "needs_choice": True,
                },
            )
        ],
    )
    def get(self, request, site_key, visitor_id):
        return lookup_decisions(request._request, site_key, visitor_id)

    @classmethod
    def as_view(cls, **initkwargs):
        """Route straight to the lean :func:`lookup_decisions`; this class only documents it."""

        def view(request, *args, **kwargs):
            return lookup_decisions(request, *args, **kwargs)

        view.cls, view.initkwargs = cls, initkwargs  # what drf-spectacular reads to document it
        return view


class SiteConfigView(APIView):
    @extend_schema(
        operation_id="banner_config",
        summary="What the banner needs for this site",
        description="Purposes and texts in the requested language (or the site's default), the regime for "
        "this request's region, the policy version and URL, and the GA ids. Send `If-None-Match` with the "
        "last ETag to get a 304.",
        parameters=[OpenApiParameter("lang", str, description="Visitor's language, e.g. fr or fr-CA.")],
        responses={200: dict, 304: None, 404: ERRORS[404]},
    )
    def get(self, request, site_key):
        encoded = encoded_config(site_key, request.query_params.get("lang"), client.country(request))
        if encoded is None:
            raise ApiError(404, "unknown_site", f"No site with key '{site_key}'.")
        body, etag = encoded
        # The regime depends on the country header, so caches must key on it.
        vary = ", ".join(filter(None, ["Origin", settings.CMP_COUNTRY_HEADER]))
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60", "Vary": vary}
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return HttpResponseNotModified(headers=headers)
        return HttpResponse(body, content_type="application/json", headers=headers)

"""The HTTP API on REST framework: thin views over the domain's services.

Each view authenticates (``api/authentication.py``), validates its body with
one serializer, calls one service, and shapes the answer; domain errors
become responses in one table (``api/errors.py``). The lookup, the hot path,
is served by the lean ``api/lookup.py``: :class:`DecisionLookupView` only
documents it for the OpenAPI schema.
"""
from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from audit import receipts
from consent import client, people, ratelimit
from consent.errors import Forbidden, Invalid
from consent.models import EXAMPLE_VISITOR, parse_visitor_id
from consent.sites import SITE_KEY_RE, require_rules
from consent.writes import ConsentWrite, record_consent, rules_for_write

from . import examples
from . import serializers as s
from .authentication import SiteApiKeyAuthentication, SiteServer, VisitorTokenAuthentication
from .lookup import decision_fields, lookup_decisions
from .parsers import LimitedJSONParser, PlainTextJSONParser
from .transparency import RECEIPTS

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Malformed request; `detail` says what is wrong."),
    404: OpenApiResponse(s.ErrorSerializer, description="Unknown site (or purpose)."),
    503: OpenApiResponse(s.ErrorSerializer, description="Storage unavailable: fail closed and retry."),
}
NO_STORE = {"Cache-Control": "no-store"}
# What a write-like route (rate-limited, proven by a token or a key) may answer besides its success.
WRITE_ERRORS = {403: OpenApiResponse(s.ErrorSerializer), 429: OpenApiResponse(s.ErrorSerializer), **ERRORS}


class WriteRateLimit(BaseThrottle):
    """The consent write limits, per client (an IPv6 client per /64) and per site (``CMP_RATE_WRITES_*``),
    checked before the body is read."""

    def allow_request(self, request, view):
        ratelimit.check("writes-ip", client.limit_key(client.client_ip(request)), settings.CMP_RATE_WRITES_PER_IP)
        site_key = view.kwargs["site_key"]
        if SITE_KEY_RE.match(site_key):
            ratelimit.check("writes-site", site_key, settings.CMP_RATE_WRITES_PER_SITE)
        return True  # over a limit, ratelimit.check raises RateLimited: a 429 with Retry-After


class ConsentWriteView(APIView):
    authentication_classes = [SiteApiKeyAuthentication]
    permission_classes = [AllowAny]  # the banner writes with no key: the schema lists "none" besides the key
    throttle_classes = [WriteRateLimit]
    parser_classes = [LimitedJSONParser, PlainTextJSONParser]

    @extend_schema(
        operation_id="write_consent",
        summary="Record a visitor's choice",
        description=(
            "Called by the banner (cross-origin; CORS allows the site's origins). The visitor id is derived from "
            "the visitor's secret token, and every write, the first included, must carry that token (403 "
            "`token_required` / `bad_token` otherwise). Every write appends an audit event in the same "
            "transaction. `Sec-GPC: 1` counts as `signals.gpc`; while it is on, a grant of a purpose the site "
            "marks as sale or sharing counts only with `gpc_conflict_confirmed: true`. "
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
            OpenApiExample("First write from the banner", request_only=True, value=examples.WRITE_BODY),
            OpenApiExample("Recorded", response_only=True, status_codes=["201"], value=examples.WRITE_ANSWER),
        ],
    )
    def post(self, request, site_key):
        body = s.ConsentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        rules, probably_stored = rules_for_write(site_key, data["visitor_id"])
        request._request.site_rules = rules  # for the CORS check (api/cors.py): no second cache read
        by_api_key = isinstance(request.user, SiteServer)
        write = ConsentWrite(
            visitor_id=data["visitor_id"],
            token=data.get("token"),
            choices=data.get("choices"),
            signals=data["signals"],
            policy_version=data.get("policy_version") or None,
            banner_version=data["banner_version"],
            language=data["language"],
            source="banner" if data["banner_version"] and not by_api_key else "api",
            by_api_key=by_api_key,
            gpc_conflict_confirmed=data["gpc_conflict_confirmed"],
        )
        result = record_consent(rules, write, client.client_info(request), probably_stored=probably_stored)
        answer = _write_answer(result)
        # 200, not 201: a signal-only write that changed nothing recorded nothing.
        return Response(answer, status=201 if result.logged else 200, headers=NO_STORE)


def _write_answer(result) -> dict:
    return {
        "visitor_id": str(result.visitor_id),
        "token": result.token,
        "regime": result.regime,
        "policy_version": result.policy_version,
        **decision_fields(result.outcome),
        "signals": result.signals.as_dict(),
        "gpp": result.gpp,
    }


class PeopleView(APIView):
    """Shared by the routes of consent that follows the person: a write's credentials, limits and body parsing."""

    authentication_classes = [SiteApiKeyAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WriteRateLimit]
    parser_classes = [LimitedJSONParser, PlainTextJSONParser]

    def rules_and_body(self, request, site_key, serializer_class):
        rules = require_rules(site_key)
        request._request.site_rules = rules  # for the CORS check (api/cors.py)
        body = serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        return rules, body.validated_data, isinstance(request.user, SiteServer)

    @staticmethod
    def link_answer(result) -> Response:
        """A link's or an unlink's answer: the merged decision, and whether the person must be asked; 200 when
        nothing changed."""
        answer = {**_write_answer(result), "needs_choice": result.outcome.needs_choice}
        return Response(answer, status=201 if result.logged else 200, headers=NO_STORE)


class LinkView(PeopleView):
    @extend_schema(
        operation_id="link_person",
        summary="Link a browser to a signed-in person",
        description=(
            "The banner's `cmp.identify(assertion)` calls it with the visitor id, its token and the assertion the "
            "site's back end signed; a site's server may call it with its API key and `subject` instead. From "
            "then on each purpose takes the most recent choice among the person's linked browsers (on every site "
            "of the site's group). Each assertion links once: a forged (403 `bad_assertion`), expired (403 "
            "`assertion_expired`) or replayed (403 `assertion_replayed`) one is refused. The answer is the merged "
            "decision; `needs_choice` says the person must be asked (e.g. after a material policy change). "
            "A link event joins the visitor's hash chain when the link changes (201; 200 when it was already so)."
        ),
        request=s.LinkSerializer,
        responses={201: s.LinkResponseSerializer, 200: s.LinkResponseSerializer, **WRITE_ERRORS},
    )
    def post(self, request, site_key):
        rules, data, by_api_key = self.rules_and_body(request, site_key, s.LinkSerializer)
        info = client.client_info(request)
        if data.get("subject") is not None:
            if not by_api_key:
                raise Forbidden("api_key_required", "Only the site's server (Authorization: Bearer cmp_…) may link "
                                "by subject; the banner sends the assertion its back end signed.")
            result = people.link_by_server(rules, data["visitor_id"], data["subject"], info)
        elif data.get("assertion") is not None:
            result = people.identify(rules, data["visitor_id"], data.get("token"), data["assertion"], info)
        else:
            raise Invalid("assertion_required", "Send the assertion the site's back end signed (or, with the site's "
                          "API key, the subject).")
        return self.link_answer(result)


class UnlinkView(PeopleView):
    @extend_schema(
        operation_id="unlink_person",
        summary="Unlink a browser from its person",
        description=("With the visitor's token (the banner) or the site's API key. From then on the browser's own "
                     "choice alone counts; an unlink event joins its hash chain (201; 200 when it was not linked)."),
        request=s.UnlinkSerializer,
        responses={201: s.LinkResponseSerializer, 200: s.LinkResponseSerializer, **WRITE_ERRORS},
    )
    def post(self, request, site_key):
        rules, data, by_api_key = self.rules_and_body(request, site_key, s.UnlinkSerializer)
        result = people.unlink(rules, data["visitor_id"], data.get("token"), client.client_info(request),
                               by_api_key=by_api_key)
        return self.link_answer(result)


class HandoffView(PeopleView):
    @extend_schema(
        operation_id="hand_off",
        summary="Carry a browser's choice to a sister site",
        description=("The banner calls it when a link marked `data-cmp-handoff=\"<sister site>\"` is followed, "
                     "to another site of the site's group: a single-use token, valid for two minutes, that the "
                     "sister site's banner redeems. "
                     "No third-party cookie is involved, and the token (in the link's fragment) reaches no server's "
                     "logs nor any Referer."),
        request=s.HandoffSerializer,
        responses={201: s.HandoffResponseSerializer, **WRITE_ERRORS},
    )
    def post(self, request, site_key):
        rules, data, _ = self.rules_and_body(request, site_key, s.HandoffSerializer)
        handoff, expires_at = people.hand_off(rules, data["visitor_id"], data["token"], data["to"])
        return Response({"handoff": handoff, "expires_at": expires_at.isoformat()}, status=201, headers=NO_STORE)


class RedeemView(PeopleView):
    @extend_schema(
        operation_id="redeem_handoff",
        summary="Take the choice a hand-off carries",
        description=("The sister site's banner, when its page's address has `#cmp-handoff=…`: the choice becomes "
                     "this browser's own (an event with source `handoff`). A hand-off made for another site "
                     "(403 `bad_handoff`), already used (403 `handoff_used`) or expired (403 `handoff_expired`) "
                     "is refused."),
        request=s.RedeemSerializer,
        responses={201: s.ConsentWriteResponseSerializer, **WRITE_ERRORS},
    )
    def post(self, request, site_key):
        rules, data, _ = self.rules_and_body(request, site_key, s.RedeemSerializer)
        result = people.redeem(rules, data["handoff"], data["visitor_id"], data["token"], client.client_info(request))
        return Response(_write_answer(result), status=201, headers=NO_STORE)


class SubjectDecisionsView(PeopleView):
    throttle_classes = []  # a read, for the site's own servers

    @extend_schema(
        operation_id="lookup_person",
        summary="May this tag fire for this signed-in person?",
        description=("For server-side tags that know the person but no browser: the site's API key, and the "
                     "subject id in the body (POST keeps it out of URLs and their logs). Every linked browser's "
                     "choice counts; no browser's signals do."),
        request=s.SubjectLookupSerializer,
        responses={200: s.SubjectDecisionsSerializer, 403: OpenApiResponse(s.ErrorSerializer), **ERRORS},
    )
    def post(self, request, site_key):
        rules, data, by_api_key = self.rules_and_body(request, site_key, s.SubjectLookupSerializer)
        if not by_api_key:
            raise Forbidden("api_key_required", "Lookups by subject need the site's API key (Authorization: Bearer "
                            "cmp_…): a subject id is not for pages to send.")
        result = people.subject_decisions(rules, data["subject"])
        answer = {"site": rules.key, "known_person": result.known_visitor, "regime": result.regime,
                  "policy_version": result.policy_version, **decision_fields(result.outcome),
                  "needs_choice": result.outcome.needs_choice, "gpp": result.gpp}
        return Response(answer, headers=NO_STORE)


class DecisionLookupView(APIView):
    permission_classes = [AllowAny]  # anyone may ask; the schema says so (security: [{}])

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
            OpenApiExample("Unknown visitor in an opt-in region", response_only=True, value=examples.LOOKUP_ANSWER),
        ],
    )
    def get(self, request, site_key, visitor_id):
        return lookup_decisions(request._request, site_key, visitor_id)

    @classmethod
    def as_view(cls, **initkwargs):
        """Route straight to the lean :func:`~api.lookup.lookup_decisions`; this class only documents it."""

        def view(request, *args, **kwargs):
            return lookup_decisions(request, *args, **kwargs)

        view.cls, view.initkwargs = cls, initkwargs  # what drf-spectacular reads to document it
        return view


class ReceiptListView(APIView):
    """A visitor's signed consent receipts, for that visitor alone (its token as ``Authorization: Bearer``)."""

    authentication_classes = [VisitorTokenAuthentication]

    @extend_schema(
        operation_id="list_receipts",
        summary="The visitor's consent receipts",
        description=(
            "Every receipt of this visitor, newest first: one per event of its consent history. Each is a "
            "JWS (`jws`: RFC 7515, alg EdDSA, key id in its header) whose payload is the receipt "
            "(Kantara Consent Receipt / ISO/IEC TS 27560 structure), also given readable in `receipt`; any "
            "JOSE library checks it against `/.well-known/jwks.json`. `log.inclusion` proves the event is in "
            "the site's log once it has joined it (minutes after the choice; until then fetch it from "
            "`log.url`). Requires the visitor's write token as `Authorization: Bearer <token>`. "
            "With `?latest=1` the answer is the latest receipt alone, as a file to download "
            "(`Content-Disposition: attachment`), which is what the banner's 'Download my consent receipt' uses."
        ),
        parameters=[OpenApiParameter("latest", bool, description="Only the latest receipt, as an attachment.")],
        responses={
            200: RECEIPTS,
            400: OpenApiResponse(s.ErrorSerializer, description="Malformed visitor id."),
            403: OpenApiResponse(s.ErrorSerializer, description="Missing or wrong token."),
            404: OpenApiResponse(s.ErrorSerializer, description="Unknown site, or no receipt yet."),
            503: OpenApiResponse(s.ErrorSerializer, description="Storage unavailable; retry."),
        },
        examples=[OpenApiExample("Receipts", response_only=True, value={
            "site": "demo", "visitor_id": EXAMPLE_VISITOR,
            "receipts": [{"receipt": {"receiptId": "…", "consentTime": "2026-11-25T10:00:00.000000+00:00",
                                      "policyUrl": "https://example.com/privacy", "policyVersion": "1",
                                      "services": [{"service": "Demo Shop", "purposes": [
                                          {"purpose": "analytics", "state": "granted", "consentType": "EXPLICIT"}]}],
                                      "gpp": {"string": "DBAA", "applicable_sections": [-1]},
                                      "auditLog": {"eventId": 42, "eventHash": "9f2c…", "hashAlg": "SHA-256"}},
                          "signature": {"alg": "EdDSA", "kid": "k2026", "value": "…"},
                          "jws": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsyMDI2IiwidHlwIjoiY21wLXJlY2VpcHQrandzIn0.…",
                          "log": {"url": "https://cmp.example.com/api/v1/sites/demo/log", "inclusion": None}}],
        })],
    )
    def get(self, request, site_key, visitor_id):
        rules = require_rules(site_key)
        visitor = receipts.visitor_holding(rules, parse_visitor_id(visitor_id), request.auth)
        if request.query_params.get("latest", "").lower() in {"1", "true", "yes"}:
            receipt, filename = receipts.latest_receipt(visitor)
            return Response(receipt, headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'})
        body = {"site": rules.key, "visitor_id": str(visitor.uuid), "receipts": receipts.receipts_for_visitor(visitor)}
        return Response(body, headers=NO_STORE)

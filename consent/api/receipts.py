"""``GET /api/v1/sites/{site}/visitors/{visitor_id}/receipts``: a visitor's signed consent receipts.

Only the visitor may read them: the request carries the visitor's write token
(the one returned by its first write) as ``Authorization: Bearer <token>``.
"""
import hmac

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import receipts
from ..models import Visitor
from ..writes import hash_token
from . import serializers as s
from .errors import ApiError
from .views import EXAMPLE_VISITOR, _visitor_uuid, rules_or_404

NOT_YOURS = "Send the visitor's token (returned by its first write) as 'Authorization: Bearer <token>'."


class ReceiptListView(APIView):
    @extend_schema(
        operation_id="list_receipts",
        summary="The visitor's consent receipts",
        description=(
            "Every receipt of this visitor, newest first: one per event of its consent history, each a "
            "signed JSON document (Kantara Consent Receipt / ISO/IEC TS 27560 structure; HMAC-SHA256, key id "
            "in `signature.kid`). Requires the visitor's write token as `Authorization: Bearer <token>`. "
            "With `?latest=1` the answer is the latest receipt alone, as a file to download "
            "(`Content-Disposition: attachment`), which is what the banner's 'Download my consent receipt' uses."
        ),
        parameters=[
            OpenApiParameter("Authorization", str, location=OpenApiParameter.HEADER, required=False,
                             description="`Bearer <the visitor's token>`"),
            OpenApiParameter("latest", bool, description="Only the latest receipt, as an attachment."),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="`{site, visitor_id, receipts: [...]}`, or one receipt with `?latest=1`."),
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
                                      "auditLog": {"eventId": 42, "eventHash": "9f2c…", "hashAlg": "SHA-256"}},
                          "signature": {"alg": "HS256", "kid": "k2026", "value": "…"}}],
        })],
    )
    def get(self, request, site_key, visitor_id):
        rules = rules_or_404(site_key)
        visitor_uuid = _visitor_uuid(visitor_id)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(403, "token_required", NOT_YOURS)
        visitor = Visitor.objects.select_related("site").filter(site_id=rules.id, uuid=visitor_uuid).first()
        # Unknown visitor and wrong token answer alike: the answer tells nothing about which ids exist.
        expected = visitor.token_hash if visitor else "0" * 64
        if not hmac.compare_digest(hash_token(token.strip()), expected) or visitor is None:
            raise ApiError(403, "bad_token", "No visitor with this id holds this token.")
        headers = {"Cache-Control": "no-store"}
        if request.query_params.get("latest", "").lower() in {"1", "true", "yes"}:
            event = visitor.events.order_by("-id").first()
            if event is None:
                raise ApiError(404, "no_receipt", "This visitor has no recorded choice yet.")
            filename = f"consent-receipt-{rules.key}-{event.created_at:%Y%m%d-%H%M%S}.json"
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
            return Response(receipts.build(event, site=visitor.site, visitor=visitor), headers=headers)
        body = {"site": rules.key, "visitor_id": str(visitor_uuid), "receipts": receipts.receipts_for_visitor(visitor)}
        return Response(body, headers=headers)

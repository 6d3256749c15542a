"""Each site's log, served to anyone: the latest signed tree head, inclusion and consistency proofs;
and the shape of a receipt, which carries its event's inclusion proof.

No credential: everything here is meant to be checked by outsiders (a
visitor, an auditor, a regulator) against the keys published at
``/.well-known/jwks.json``. Nothing here says more about an event than its
receipt's holder already knows: an inclusion proof is only given for an event
named by both its id and its hash. The log itself is ``audit/log.py``.
"""
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import log

from . import serializers as s

LARGEST = 2**63 - 1  # the database's bigint
CACHE = {"Cache-Control": "public, max-age=60"}  # a proof: the same for a given tree size
LATEST = {"Cache-Control": "no-cache"}  # the latest head: checkers must see a new one at once


class SignedTreeHeadSerializer(serializers.Serializer):
    site = serializers.CharField()
    tree_size = serializers.IntegerField(help_text="Leaves in the tree: the site's consent events logged so far.")
    root_hash = serializers.CharField(help_text="The tree's root, SHA-256 in hex (RFC 9162 hashing).")
    timestamp = serializers.IntegerField(help_text="When the head was signed, in milliseconds since 1970-01-01 UTC.")
    complete_until = serializers.IntegerField(
        help_text="Every event of the site logged at or before this time (milliseconds) is a leaf of this tree.")
    tree_head = serializers.CharField(help_text="The JWS (EdDSA) whose payload is the five fields above: what to check and keep.")


class InclusionQuery(serializers.Serializer):
    event_id = serializers.IntegerField(min_value=1, max_value=LARGEST, help_text="`auditLog.eventId` of the receipt.")
    event_hash = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="`auditLog.eventHash` of the receipt.",
                                        error_messages={"invalid": "Must be 64 lower-case hex digits (a SHA-256)."})
    tree_size = serializers.IntegerField(min_value=1, max_value=LARGEST, required=False,
                                         help_text="Prove inclusion in the head of this size (default: the latest head).")


class InclusionProofSerializer(serializers.Serializer):
    event_id = serializers.IntegerField()
    event_hash = serializers.CharField()
    leaf_index = serializers.IntegerField(help_text="The event's position in the tree, from 0.")
    tree_size = serializers.IntegerField()
    audit_path = serializers.ListField(child=serializers.CharField(), help_text="Sibling hashes (hex), from the leaf up.")
    tree_head = SignedTreeHeadSerializer()


class ConsistencyQuery(serializers.Serializer):
    first = serializers.IntegerField(min_value=1, max_value=LARGEST, help_text="The size of the earlier tree head (the one you saved).")
    second = serializers.IntegerField(min_value=1, max_value=LARGEST, help_text="The size of the later one (e.g. the latest).")


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    consistency_path = serializers.ListField(child=serializers.CharField(), help_text="Hashes (hex), RFC 9162 §2.1.4.")


class ReceiptLogSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The site's log: its latest tree head; `/inclusion` and `/consistency` below it.")
    inclusion = InclusionProofSerializer(allow_null=True, help_text="The event's inclusion proof, once the event is in the log.")


class ReceiptSerializer(serializers.Serializer):
    receipt = serializers.DictField(help_text="The signed payload, readable: Kantara Consent Receipt / ISO/IEC TS 27560 "
                                    "structure, with `gpp` (`{string, applicable_sections}`: the IAB GPP string the "
                                    "event's decisions were answered with; absent for events of before it).")
    signature = serializers.DictField(help_text="`{alg: EdDSA, kid, value}`: the JWS's key id and signature.")
    jws = serializers.CharField(help_text="The receipt as a JWS (RFC 7515, EdDSA): check it with the keys at /.well-known/jwks.json.")
    log = ReceiptLogSerializer()


class ReceiptListSerializer(serializers.Serializer):
    site = serializers.CharField()
    visitor_id = serializers.UUIDField()
    receipts = ReceiptSerializer(many=True, help_text="Newest first.")


# The receipts answer (api/views.py): the list, or with ?latest=1 one receipt.
RECEIPTS = PolymorphicProxySerializer(component_name="ReceiptsOrReceipt", serializers=[ReceiptListSerializer, ReceiptSerializer],
                                      resource_type_field_name=None)
NOT_FOUND = OpenApiResponse(s.ErrorSerializer, description="Unknown site, no tree head yet, or the event is not in this tree head.")
BAD_REQUEST = OpenApiResponse(s.ErrorSerializer, description="A parameter is missing or malformed; `detail` says which.")
UNAVAILABLE = OpenApiResponse(s.ErrorSerializer, description="Storage unavailable; retry.")


class LogHeadView(APIView):
    permission_classes = [AllowAny]  # the log is public; the schema says so (security: [{}])

    @extend_schema(
        operation_id="log_tree_head",
        summary="The latest signed tree head of a site's log",
        description=(
            "Every consent event of the site is a leaf of one append-only Merkle tree (RFC 9162 hashing); "
            "a new head is signed within minutes of new events. Keep a copy: a later head that does not "
            "extend it (see the consistency proof) proves the log was rewritten. Check `tree_head` with "
            "the keys at `/.well-known/jwks.json`."
        ),
        responses={200: SignedTreeHeadSerializer, 404: NOT_FOUND, 503: UNAVAILABLE},
    )
    def get(self, request, site_key):
        return Response(log.latest_head(site_key), headers=LATEST)


class ProofView(APIView):
    """A proof: the query checked by ``query``, then answered by ``prove``."""

    permission_classes = [AllowAny]  # proofs are public; the schema says so (security: [{}])
    query: type[serializers.Serializer]

    def get(self, request, site_key):
        query = self.query(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(self.prove(site_key, **query.validated_data), headers=CACHE)


def proof_schema(operation_id, summary, query, answer):
    """The schema of a proof endpoint (its description is the view's docstring): its query parameters, its
    answer and the errors every proof shares."""
    return extend_schema_view(get=extend_schema(
        operation_id=operation_id, summary=summary, parameters=[query],
        responses={200: answer, 400: BAD_REQUEST, 404: NOT_FOUND, 503: UNAVAILABLE},
    ))


@proof_schema("log_inclusion_proof", "Prove a receipt's event is in the site's log", InclusionQuery, InclusionProofSerializer)
class InclusionProofView(ProofView):
    """The audit path of the event named by `event_id` and `event_hash` (both from its receipt's `auditLog`)
    in a signed tree head: hashing the leaf `SHA-256(0x00 ‖ "<event_id>:<event_hash>")` up the path must give
    the head's `root_hash` (RFC 9162 §2.1.3.2)."""

    query = InclusionQuery
    prove = staticmethod(log.inclusion_proof)


@proof_schema("log_consistency_proof", "Prove a later tree head extends an earlier one", ConsistencyQuery,
              ConsistencyProofSerializer)
class ConsistencyProofView(ProofView):
    """The hashes that let anyone recompute both heads' roots (RFC 9162 §2.1.4.2): proof that the tree of
    `second` leaves holds the tree of `first` leaves unchanged as its beginning."""

    query = ConsistencyQuery
    prove = staticmethod(log.consistency_proof)

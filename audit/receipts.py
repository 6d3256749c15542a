"""Consent receipts: a signed JSON record of one choice, for the visitor to keep and anyone to check.

The structure follows the Kantara Initiative Consent Receipt (v1.1) and ISO/IEC
TS 27560 (consent record information structure): controller, policy URL and
version, each purpose and its state, timestamp, receipt id, and the event's
hash in the audit log. The receipt is a JWS (RFC 7515, EdDSA, the key id in
its header; ``audit/signing.py``) whose payload is that structure, so any JOSE
library checks it against the platform's published keys.

    {"receipt": {...the payload, readable...},
     "signature": {"alg": "EdDSA", "kid": "k2026", "value": "<base64url, the JWS's signature>"},
     "jws": "<header>.<payload>.<signature>",
     "log": {"url": "<the site's log>", "inclusion": {...the event's inclusion proof...} or null}}

The signed part is made from its event on demand and is deterministic: the
same event and key always give the same JWS, so nothing is stored twice.
``log.inclusion`` (unsigned: it proves itself against a signed tree head,
``audit/log.py``) appears once the event has joined its site's log, minutes
after the choice; until then it can be fetched from ``log.url``.

Receipts signed before Ed25519 carry ``"signature": {"alg": "HS256", …}``, an
HMAC over the canonical ``receipt``; :func:`verify` still checks those with
``CMP_RECEIPT_KEYS``, for the operator.
"""
from __future__ import annotations

import base64
import json
import uuid

from django.conf import settings
from django.urls import reverse

from consent.chain import iso_utc
from consent.errors import Forbidden, NotFound
from consent.models import ConsentEvent, Visitor, hash_token

from . import log
from .models import AuditPurge
from .signing import ALG, RECEIPT, compact, sign, signature_valid

SCHEMA = "cmp-consent-receipt/1"
RECEIPT_NAMESPACE = uuid.UUID("5b0f1c52-4a43-4a8e-9f0c-6d2c3e1f7a10")
LEGACY_ALG = "HS256"


def receipt_id(event_hash: str) -> str:
    return str(uuid.uuid5(RECEIPT_NAMESPACE, event_hash))


def build(event, site=None, visitor=None, policies=None, purposes=None) -> dict:
    """The signed receipt of one :class:`~consent.models.ConsentEvent`."""
    site = site or event.site
    visitor = visitor or event.visitor
    if policies is None:
        policies = {p.version: p.url for p in site.policy_versions.all()}
    if purposes is None:
        purposes = {p.key: p for p in site.purposes.all()}
    language = event.language or site.default_language
    body = {
        "schema": SCHEMA,
        "version": "KI-CR-v1.1.0",
        "conformsTo": ["ISO/IEC TS 27560:2023", "Kantara Consent Receipt v1.1"],
        "receiptId": receipt_id(event.event_hash),
        "consentTimestamp": int(event.created_at.timestamp()),
        "consentTime": iso_utc(event.created_at),
        "jurisdiction": event.region or "",
        "regime": event.regime,
        "collectionMethod": _METHODS.get(event.source, event.source),
        "source": event.source,
        "language": language,
        "piiPrincipalId": str(visitor.uuid),
        "piiControllers": [{"piiController": site.name, "site": site.key, "onBehalf": False}],
        # The URL recorded with the event; events from before it was recorded: the version's (frozen) URL.
        "policyUrl": event.policy_url or policies.get(event.policy_version, ""),
        "policyVersion": event.policy_version,
        "services": [{
            "service": site.name,
            "purposes": [
                _purpose(key, decision, event.choices, purposes.get(key), language)
                for key, decision in sorted(event.decisions.items(), key=lambda kv: _position(purposes, kv[0]))
            ],
        }],
        "signals": event.signals,
        "consentMode": event.consent_mode,
        **({"gpp": event.gpp} if event.gpp else {}),
        "sensitive": False,
        "spiCat": [],
        "auditLog": {"eventId": event.pk, "eventHash": event.event_hash, "prevHash": event.prev_hash, "hashAlg": "SHA-256"},
    }
    kid, value = sign(body, RECEIPT)
    return {"receipt": body, "signature": {"alg": ALG, "kid": kid, "value": value}, "jws": compact(body, RECEIPT, kid, value),
            "log": {"url": settings.CMP_PUBLIC_URL.rstrip("/") + reverse("log-head", kwargs={"site_key": site.key}),
                    "inclusion": _inclusion(site.key, event)}}


def _inclusion(site_key, event) -> dict | None:
    try:
        return log.inclusion_proof(site_key, event.pk, event.event_hash)
    except NotFound:
        return None  # not logged yet: log.url serves it once it is


_METHODS = {
    "banner": "consent banner", "api": "server API", "gpc": "Global Privacy Control signal",
    "nai": "NAI opt-out", "ga_optout": "Google Analytics opt-out add-on", "lat": "limit ad tracking",
    "dnt": "Do Not Track signal", "expiry": "expiry of an earlier choice", "policy": "policy change",
    "erasure": "erasure",
}


def _position(purposes, key):
    purpose = purposes.get(key)
    return (purpose.position if purpose else 999, key)


def _purpose(key, decision, choices, purpose, language) -> dict:
    names = purpose.names if purpose else {}
    essential = bool(purpose and purpose.essential)
    return {
        "purpose": key,
        "purposeCategory": [names.get(language) or names.get("en") or key],
        "consentType": "NOT_REQUIRED (essential)" if essential else ("EXPLICIT" if key in choices else "IMPLICIT (default or signal)"),
        "state": "granted" if decision.get("granted") else "denied",
        "reason": decision.get("reason", ""),
        "primaryPurpose": essential,
        "termination": "until withdrawn, or when the consent lifetime expires",
        "thirdPartyDisclosure": False,
    }


def visitor_holding(rules, visitor_uuid, token: str | None) -> Visitor:
    """The visitor of this site whose token ``token`` is; Forbidden for anyone else.

    An unknown visitor and a wrong token answer alike, in the same time: the
    answer tells nothing about which ids exist.
    """
    if not token:
        raise Forbidden("token_required",
                        "Send the visitor's token (returned by its first write) as 'Authorization: Bearer <token>'.")
    visitor = Visitor.objects.select_related("site").filter(site_id=rules.id, uuid=visitor_uuid).first()
    if visitor is None:
        hash_token(token)  # the same work as a real check
        raise Forbidden("bad_token", "No visitor with this id holds this token.")
    if not visitor.holds_token(token):
        raise Forbidden("bad_token", "No visitor with this id holds this token.")
    return visitor


def latest_receipt(visitor) -> tuple[dict, str]:
    """The receipt of the visitor's latest event, and a file name for it."""
    event = visitor.events.order_by("-id").first()
    if event is None:
        raise NotFound("no_receipt", "This visitor has no recorded choice yet.")
    return build(event, site=visitor.site, visitor=visitor), f"consent-receipt-{visitor.site.key}-{event.created_at:%Y%m%d-%H%M%S}.json"


def receipts_for_visitor(visitor) -> list[dict]:
    """Every receipt of one visitor, newest first."""
    site = visitor.site
    policies = {p.version: p.url for p in site.policy_versions.all()}
    purposes = {p.key: p for p in site.purposes.all()}
    events = visitor.events.order_by("-id")
    return [build(e, site=site, visitor=visitor, policies=policies, purposes=purposes) for e in events]


class ReceiptInvalid(Exception):
    pass


def verify(document) -> dict:
    """Check a receipt's shape and signature with the platform's keys; return the signed receipt or raise ReceiptInvalid.

    (Outsiders check receipts with the published keys instead: ``audit/checker.py``.)
    """
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError) as error:
            raise ReceiptInvalid(f"not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("signature"), dict):
        raise ReceiptInvalid("not a consent receipt: expected {\"receipt\": {...}, \"signature\": {...}, \"jws\": \"...\"}")
    if document["signature"].get("alg") == LEGACY_ALG:
        return _verify_legacy(document)
    header, receipt = _parts(document.get("jws"))
    if header.get("alg") != ALG or header.get("typ") != RECEIPT:
        raise ReceiptInvalid(f"not a receipt signed with {ALG}: its JWS header says {header}")
    signature = document["jws"].rsplit(".", 1)[1]
    if not signature_valid(receipt, RECEIPT, header.get("kid"), signature):
        raise ReceiptInvalid("signature does not match the receipt's content: it was altered or not issued by this platform")
    if document.get("receipt") != receipt:
        raise ReceiptInvalid("the readable \"receipt\" differs from the signed one in \"jws\": it was altered")
    return receipt


def _parts(jws) -> tuple[dict, dict]:
    """The header and payload of a compact JWS whose payload is canonical JSON (as the platform signs)."""
    try:
        header, payload, _ = jws.split(".")
        header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, payload))
    except (AttributeError, ValueError, RecursionError):
        raise ReceiptInvalid("no JWS: expected \"jws\": \"<header>.<payload>.<signature>\"") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ReceiptInvalid("the JWS's header and payload must be JSON objects")
    return header, payload


def _verify_legacy(document) -> dict:
    """A receipt signed before Ed25519: an HMAC of ``CMP_RECEIPT_KEYS`` over its canonical ``receipt``."""
    signature = document["signature"]
    if not isinstance(document.get("receipt"), dict):
        raise ReceiptInvalid("not a consent receipt: expected {\"receipt\": {...}, \"signature\": {...}}")
    kid = signature.get("kid")
    if kid not in dict(settings.CMP_RECEIPT_KEYS):
        raise ReceiptInvalid(f"unknown key id {kid!r}: not in CMP_RECEIPT_KEYS")
    if not signature_valid(document["receipt"], "", kid, signature.get("value", "")):  # HMAC: no JWS type
        raise ReceiptInvalid("signature does not match the receipt's content: it was altered or not issued by this platform")
    return document["receipt"]


def matches_log(receipt: dict):
    """Compare a verified receipt with the audit log: (ok, message)."""
    entry = receipt.get("auditLog") or {}
    event_id = entry.get("eventId") if isinstance(entry.get("eventId"), int) else 0
    event = ConsentEvent.objects.select_related("site", "visitor").filter(pk=event_id, event_hash=entry.get("eventHash", "")).first()
    if event is None:
        purged = AuditPurge.objects.filter(first_event_id__lte=event_id, last_event_id__gte=event_id)
        if any(leaf[0] == event_id and leaf[2] == entry.get("eventHash") for t in purged for leaf in t.leaves):
            return True, f"event {event_id} was purged (retention or erasure); a signed tombstone keeps its hash"
        return False, f"the audit log has no event {event_id} with this hash"
    differs = [name for name, value in _from_event(build(event)["receipt"]).items() if _from_event(receipt).get(name) != value]
    if differs:
        return False, f"event {event.pk} in the log differs from this receipt in: {', '.join(differs)}"
    return True, f"matches audit log event {event.pk}"


def _from_event(receipt: dict) -> dict:
    """The parts of a receipt that come from its event (site names and texts may change later)."""
    names = ("receiptId", "consentTime", "jurisdiction", "regime", "source", "piiPrincipalId", "policyVersion", "signals",
             "consentMode", "gpp", "auditLog")
    parts = {name: receipt.get(name) for name in names}
    services = receipt.get("services") or [{}]
    parts["purposes"] = sorted((p.get("purpose"), p.get("state"), p.get("reason")) for p in services[0].get("purposes", []))
    return parts

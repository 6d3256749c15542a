"""The platform's signature on receipts, tree heads and tombstones: Ed25519 in a JWS.

Each signed thing is a JWS (RFC 7515, ``alg`` EdDSA, RFC 8037) whose
protected header names the key (``kid``) and what is signed (``typ``), and
whose payload is the thing's canonical JSON (sorted keys, no whitespace).
Ed25519 signatures are deterministic, so the same payload and key always give
the same JWS: records store only the key id and the signature, and their JWS
is rebuilt from their fields (:func:`compact`).

Keys come from the settings (``CMP_SIGNING_KEYS``: the first signs; every
one's public half, and those of ``CMP_RETIRED_PUBLIC_KEYS``, is published by
:func:`jwks` at ``/.well-known/jwks.json``), never from the database. Anyone
holding the JWKS can check a signature with any JOSE library.

Records signed before Ed25519 carry an HMAC-SHA256 over their canonical JSON
under a key of ``CMP_RECEIPT_KEYS``; :func:`signature_valid` still checks
those, for the operator (only the operator holds those keys).
"""
import base64
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from consent.chain import canonical_json

ALG = "EdDSA"
# What each JWS says it is (its ``typ``), so that one kind cannot pass for another.
RECEIPT, TREE_HEAD, TOMBSTONE = "cmp-receipt+jws", "cmp-tree-head+jws", "cmp-tombstone+jws"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signing_input(payload: dict, typ: str, kid: str) -> bytes:
    """What the signature covers: ``BASE64URL(header) '.' BASE64URL(payload)`` (RFC 7515 §5.1)."""
    header = {"alg": ALG, "kid": kid, "typ": typ}
    return f"{b64url(canonical_json(header))}.{b64url(canonical_json(payload))}".encode()


def sign(payload: dict, typ: str) -> tuple[str, str]:
    """Sign ``payload`` with the active key: (key id, base64url Ed25519 signature)."""
    if not settings.CMP_SIGNING_KEYS:
        raise ImproperlyConfigured(
            "Set CMP_SIGNING_KEYS (e.g. 'k2026:<32 random bytes in base64url>') to sign receipts and tree heads.")
    kid, key = settings.CMP_SIGNING_KEYS[0]
    return kid, b64url(key.sign(signing_input(payload, typ, kid)))


def compact(payload: dict, typ: str, kid: str, signature: str) -> str:
    """The JWS Compact Serialization of a signed payload."""
    return f"{signing_input(payload, typ, kid).decode()}.{signature}"


def public_keys() -> dict:
    """Every key id whose signatures verify, with its Ed25519 public key (current and retired)."""
    keys = {kid: key.public_key() for kid, key in settings.CMP_SIGNING_KEYS}
    keys.update(settings.CMP_RETIRED_PUBLIC_KEYS)
    return keys


def jwks() -> dict:
    """The public keys as a JSON Web Key Set (RFC 7517; OKP keys, RFC 8037)."""
    return {"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
         "kid": kid, "alg": ALG, "use": "sig"}
        for kid, key in public_keys().items()
    ]}


def signature_valid(payload: dict, typ: str, kid: str, signature: str) -> bool:
    """Does ``signature`` under key ``kid`` cover ``payload``? (Ed25519, or a legacy HMAC key.)"""
    key = public_keys().get(kid)
    if key is not None:
        try:
            key.verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), signing_input(payload, typ, kid))
        except (InvalidSignature, ValueError):
            return False
        return True
    secret = dict(settings.CMP_RECEIPT_KEYS).get(kid)
    return secret is not None and hmac.compare_digest(legacy_mac(secret, payload), signature or "")


def legacy_mac(secret: bytes, payload: dict) -> str:
    """The HMAC-SHA256 that signed records before Ed25519 (base64url)."""
    return b64url(hmac.new(secret, canonical_json(payload), hashlib.sha256).digest())

"""The platform's signature on receipts, checkpoints and tombstones.

HMAC-SHA256 over the canonical JSON of a payload, under a key id from
``CMP_RECEIPT_KEYS`` ("kid1:secret1,kid2:secret2"): the first key signs, every
key verifies, so keys rotate by putting a new one first.
"""
import base64
import hashlib
import hmac

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from consent.chain import canonical_json


def signing_keys() -> tuple[tuple[str, bytes], ...]:
    """The key ring (``CMP_RECEIPT_KEYS``, parsed with the settings); the first signs.

    Without keys, DEBUG uses a development key ("dev") derived from
    SECRET_KEY; production refuses to sign.
    """
    if not settings.CMP_RECEIPT_KEYS:
        raise ImproperlyConfigured("Set CMP_RECEIPT_KEYS (e.g. 'k2026:<32+ random bytes>') to sign receipts and checkpoints.")
    return settings.CMP_RECEIPT_KEYS


def sign(payload: dict) -> tuple[str, str]:
    """HMAC-SHA256 of the canonical payload with the active key: (key id, base64url signature)."""
    kid, secret = signing_keys()[0]
    return kid, _mac(secret, payload)


def signature_valid(payload: dict, kid: str, signature: str) -> bool:
    keys = dict(signing_keys())
    if kid not in keys:
        return False
    return hmac.compare_digest(_mac(keys[kid], payload), signature or "")


def _mac(secret: bytes, payload: dict) -> str:
    digest = hmac.new(secret, canonical_json(payload), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

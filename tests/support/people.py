"""What a site's back end does for a signed-in user, written from the README's format (not from the
platform's code, so that a mistake in one shows against the other)."""
import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta

from django.utils import timezone


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_assertion(site_key, secret, subject="account-42", minutes=5, nonce=None, **claims):
    """``base64url(JSON payload) + "." + base64url(HMAC-SHA256(secret, that))``; ``claims`` override the payload's."""
    payload = {"site": site_key, "sub": subject, "exp": int((timezone.now() + timedelta(minutes=minutes)).timestamp()),
               "nonce": secrets.token_urlsafe(16) if nonce is None else nonce, **claims}
    return signed(json.dumps(payload).encode(), secret)


def signed(payload: bytes, secret: str) -> str:
    """``payload`` as an assertion signed with ``secret``, whatever it holds."""
    body = b64(payload)
    return f"{body}.{b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())}"

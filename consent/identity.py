"""Self-certifying visitor ids: the id is derived from the visitor's secret token.

A visitor id is public (tags read it, lookups carry it to vendors), its
token is not. The id is the first 16 bytes of SHA-256 of the token (with a
version prefix), shaped as a UUID of version 8 (RFC 9562, "custom"), so
anyone can check that a token certifies an id, and nobody can make a token
for an id they only know. The first write for an id therefore proves
possession like every later one: a stranger who learnt the id can neither
create the visitor, nor change it, nor lock its owner out.

Ids made before (random UUIDs, version 4) are not self-certifying: the
visitors already stored under them keep proving ownership with the token
stored (hashed) at their first write; no new visitor starts under one from a
browser (a site's server, with its API key, still may).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

PREFIX = b"cmp-visitor-v1:"
VERSION = 8  # the UUID version nibble that marks a self-certifying id


def certified_id(token: str) -> uuid.UUID:
    """The visitor id ``token`` certifies."""
    raw = bytearray(hashlib.sha256(PREFIX + token.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | (VERSION << 4)
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC variant
    return uuid.UUID(bytes=bytes(raw))


def is_self_certifying(visitor_id) -> bool:
    return _uuid(visitor_id).version == VERSION


def certifies(token: str | None, visitor_id) -> bool:
    """Is ``visitor_id`` the id derived from ``token``? (Compared in constant time.)"""
    return bool(token) and hmac.compare_digest(certified_id(token).bytes, _uuid(visitor_id).bytes)


def new_visitor() -> tuple[uuid.UUID, str]:
    """A new visitor's (id, token), as the banner makes them."""
    token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return certified_id(token), token


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))

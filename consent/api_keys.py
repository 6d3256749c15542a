"""Per-site API keys for server-to-server writes.

A key is ``cmp_<random>``; only its SHA-256 is stored, and it is compared by
looking the hash up (a hash lookup reveals nothing about near misses).
"""
import hashlib
import secrets

from django.utils import timezone

from .models import ApiKey

PREFIX = "cmp_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(api_key: ApiKey) -> str:
    """Fill in and save ``api_key`` (site and name set); return the key, shown once."""
    key = PREFIX + secrets.token_urlsafe(32)
    api_key.prefix = key[: len(PREFIX) + 6]
    api_key.key_hash = _hash(key)
    api_key.save()
    return key


def site_for_key(key: str):
    """The id of the site this live key belongs to, or None."""
    if not key or not key.startswith(PREFIX) or len(key) > 128:
        return None
    found = ApiKey.objects.filter(key_hash=_hash(key), revoked_at__isnull=True).first()
    if found is None:
        return None
    ApiKey.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.site_id

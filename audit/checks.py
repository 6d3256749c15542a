"""Deployment checks (``manage.py check --deploy``): what would break in production."""
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def signing_keys_are_set(app_configs, **kwargs):
    """Without CMP_SIGNING_KEYS (and DEBUG off: no development key), nothing can be signed."""
    if settings.CMP_SIGNING_KEYS:
        return []
    return [Error(
        "CMP_SIGNING_KEYS is not set: consent receipts, tree heads and tombstones cannot be signed.",
        hint="Set CMP_SIGNING_KEYS (or CMP_SIGNING_KEYS_FILE) to 'kid:key' with 32 random bytes in base64url, "
             "e.g. k2026:$(openssl rand 32 | basenc --base64url).",
        id="audit.E001",
    )]

"""Deployment checks (``manage.py check --deploy``): what would break in production."""
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def receipt_keys_are_set(app_configs, **kwargs):
    """Without CMP_RECEIPT_KEYS (and DEBUG off: no development key), nothing can be signed."""
    if settings.CMP_RECEIPT_KEYS:
        return []
    return [Error(
        "CMP_RECEIPT_KEYS is not set: consent receipts, audit checkpoints and tombstones cannot be signed.",
        hint="Set CMP_RECEIPT_KEYS to 'kid:secret' with at least 32 random bytes, e.g. k2026:$(openssl rand -hex 32).",
        id="audit.E001",
    )]

"""Deployment checks (``manage.py check --deploy``): what would break in production."""
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def receipt_keys_are_set(app_configs, **kwargs):
    """Without CMP_RECEIPT_KEYS and with DEBUG off, every consent write would fail: it signs its receipt."""
    if settings.DEBUG or settings.CMP_RECEIPT_KEYS:
        return []
    return [Error(
        "CMP_RECEIPT_KEYS is not set: consent receipts and audit checkpoints cannot be signed, so writes would fail.",
        hint="Set CMP_RECEIPT_KEYS to 'kid:secret' with at least 32 random bytes, e.g. k2026:$(openssl rand -hex 32).",
        id="consent.E001",
    )]

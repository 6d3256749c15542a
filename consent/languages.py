"""Which of the platform's translations serves a language a site or a visitor asked for."""
from django.conf import settings
from django.utils.translation import get_supported_language_variant


def interface_language(code: str | None) -> str:
    """The closest language in ``settings.LANGUAGES`` (``fr-CA`` → ``fr``, ``zh-TW`` → ``zh-hans``), else English.

    Only those languages come out, so a ``?lang=`` a client made up never
    has Django load (and keep) a translation for it.
    """
    try:
        return get_supported_language_variant((code or settings.LANGUAGE_CODE).lower())
    except LookupError:
        return settings.LANGUAGE_CODE

"""What the banner needs to know about a site, in one visitor's language."""
from __future__ import annotations

import hashlib
import json

from django.urls import reverse
from django.utils import timezone

from consent import decisions
from consent.models import Site
from consent.sites import site_rules

from .ui_strings import ui_strings

RTL_LANGUAGES = {"ar", "he", "fa", "ur"}


# Encoded configs this process built: (site, language asked, country) -> (rules, policy, body, etag).
_built: dict[tuple, tuple] = {}
MAX_BUILT = 1024


def encoded_config(site_key: str, language: str | None, country: str | None) -> tuple[bytes, str] | None:
    """The banner config as JSON bytes with its ETag, or None for an unknown site.

    Built once per process for each site version (the same :class:`SiteRules`
    object, see consent/sites.py), language and country, while the policy in
    force stays the same, so a revalidation with ``If-None-Match`` costs one
    cache round trip.
    """
    rules = site_rules(site_key)
    if rules is None:
        return None
    policy = rules.current_policy(timezone.now())
    key = (site_key, language, country)
    built = _built.get(key)
    if built and built[0] is rules and built[1] == policy:
        return built[2], built[3]
    site = Site.objects.get(pk=rules.id)
    body = json.dumps(banner_config(site, language, country), separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if len(_built) >= MAX_BUILT:
        _built.clear()  # many languages or countries asked for: start over rather than grow
    _built[key] = (rules, policy, body, etag)
    return body, etag


def banner_config(site: Site, language: str | None, country: str | None) -> dict:
    rules = site_rules(site.key)
    now = timezone.now()
    lang = site.pick_language(language)
    policy = rules.current_policy(now)
    in_force = rules.versions_in_force(now)
    if in_force is None:
        in_force = {p.version for p in rules.policies}
    purposes = site.purposes.order_by("position", "key")
    return {
        "site": site.key,
        "name": site.name,
        "regime": rules.regime_for(country),
        "country": country,
        "language": lang,
        "languages": site.languages or ["en"],
        "direction": "rtl" if lang.split("-")[0] in RTL_LANGUAGES else "ltr",
        "policy": {
            "version": policy.version if policy else None,
            "url": policy.url if policy else None,
            "versions_in_force": sorted(in_force),
        },
        "consent_lifetime_days": site.consent_lifetime_days,
        "honor_dnt": site.honor_dnt,
        "ga_measurement_ids": site.ga_measurement_ids,
        "texts": localized(site.banner_texts, lang, site.default_language) or {},
        # Interface strings in the same language, the site's own texts taking precedence.
        "ui": {**ui_strings(lang), **(localized(site.banner_texts, lang, site.default_language) or {})},
        "purposes": [
            {
                "key": p.key,
                "essential": p.essential,
                "sale_or_sharing": p.sale_or_sharing,
                "name": localized(p.names, lang, site.default_language) or p.key,
                "description": localized(p.descriptions, lang, site.default_language) or "",
            }
            for p in purposes
        ],
        "consent_mode": {**decisions.CONSENT_MODE_PURPOSES, decisions.AD_PERSONALIZATION: decisions.ADVERTISING},
        "endpoints": {
            "consents": reverse("consent-write", args=[site.key]),
            "decisions": reverse("decision-lookup", args=[site.key, "_"]).removesuffix("_"),  # + visitor id
            "requests": reverse("dsr-form", args=[site.key]),
            "nai_optout": reverse("nai-optout"),
        },
    }


def localized(texts: dict, language: str, fallback: str):
    texts = texts or {}
    for candidate in (language, language.split("-")[0], fallback, "en"):
        if candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()), None)

"""What the banner needs to know about a site, in one visitor's language."""
from __future__ import annotations

import hashlib
import json

from django.urls import reverse
from django.utils import timezone

from consent import decisions, gpp, regions
from consent.models import Site
from consent.sites import site_rules

from .ui_strings import ui_strings

RTL_LANGUAGES = {"ar", "he", "fa", "ur"}


# Encoded configs this process built: (site, language asked, region) -> (rules, policy, body, etag).
_built: dict[tuple, tuple] = {}
MAX_BUILT = 1024


def encoded_config(site_key: str, language: str | None, region: str | None) -> tuple[bytes, str] | None:
    """The banner config as JSON bytes with its ETag, or None for an unknown site.

    ``region`` is the request's (``consent.client.region``: ``US-CA``, else the
    country). Built once per process for each site version (the same :class:`SiteRules`
    object, see consent/sites.py), language and region, while the policy in
    force stays the same, so a revalidation with ``If-None-Match`` costs one
    cache round trip.
    """
    rules = site_rules(site_key)
    if rules is None:
        return None
    policy = rules.current_policy(timezone.now())
    key = (site_key, language, region)
    built = _built.get(key)
    if built and built[0] is rules and built[1] == policy:
        return built[2], built[3]
    site = Site.objects.get(pk=rules.id)
    body = json.dumps(banner_config(site, language, region), separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if len(_built) >= MAX_BUILT:
        _built.clear()  # many languages or regions asked for: start over rather than grow
    _built[key] = (rules, policy, body, etag)
    return body, etag


def banner_config(site: Site, language: str | None, region: str | None) -> dict:
    rules = site_rules(site.key)
    now = timezone.now()
    lang = site.pick_language(language)
    policy = rules.current_policy(now)
    in_force = rules.versions_in_force(now)
    if in_force is None:
        in_force = {p.version for p in rules.policies}
    purposes = site.purposes.order_by("position", "key")
    us = us_privacy(region, rules.gpp_settings)
    strings = us_links(ui_strings(lang), us)
    opt_outs = other_opt_outs(strings)
    # Interface strings in the same language, the site's own texts taking precedence.
    ui = {**us_wording(strings, site.sells_or_shares), **(localized(site.banner_texts, lang, site.default_language) or {})}
    return {
        "site": site.key,
        "name": site.name,
        "regime": rules.regime_for(region),
        "country": regions.country_of(region),
        "region": region,
        "us_privacy": us,
        "language": lang,
        "languages": site.languages or ["en"],
        # Pages elsewhere get no banner and a console warning naming their origin (the list is no secret:
        # any origin can ask CORS whether it is allowed).
        "origins": sorted(rules.origins),
        "direction": "rtl" if lang.split("-")[0] in RTL_LANGUAGES else "ltr",
        "policy": {
            "version": policy.version if policy else None,
            "url": policy.url if policy else None,
            "versions_in_force": sorted(in_force),
        },
        "consent_lifetime_days": site.consent_lifetime_days,
        "cookie_domain": site.cookie_domain or None,  # the banner's cookie on the parent domain, shared by subdomains
        "honor_dnt": site.honor_dnt,
        "ga_measurement_ids": site.ga_measurement_ids,
        "texts": localized(site.banner_texts, lang, site.default_language) or {},
        "ui": ui,
        "opt_outs": opt_outs,
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
        "theme": theme(site),
        "consent_mode": {**decisions.CONSENT_MODE_PURPOSES, decisions.AD_PERSONALIZATION: decisions.ADVERTISING},
        "endpoints": {
            "consents": reverse("consent-write", args=[site.key]),
            "decisions": reverse("decision-lookup", args=[site.key, "_"]).removesuffix("_"),  # + visitor id
            "requests": reverse("dsr-form", args=[site.key]),
            "nai_optout": reverse("nai-optout"),
            # + link, unlink, handoff or redeem (consent that follows the person)
            "people": reverse("person-link", args=[site.key]).removesuffix("link"),
        },
    }


def us_privacy(region: str | None, settings: gpp.GppSettings) -> dict | None:
    """What the banner needs for a US visitor's state law (None outside the US): the GPP sections its
    page API ``__gpp`` lists, and which links the law has the banner show."""
    if regions.country_of(region) != "US":
        return None
    preset = regions.preset_for(region)
    choices_link = bool(preset and preset.privacy_choices_link)
    return {
        "gpp_sections": [layout.id for layout in gpp.sections_for(region)],
        "privacy_choices_link": choices_link,
        # The link's icon, as the banner draws it (SVG path, fill, stroke): carried here, not in the runtime,
        # whose every byte each page view pays.
        **({"privacy_choices_icon": PRIVACY_CHOICES_ICON} if choices_link else {}),
        "limit_sensitive_link": gpp.limit_sensitive_link(region, settings),
    }


# The CPRA's "Your Privacy Choices" icon on a 30 × 14 box: a toggle, a tick on its white half, a cross on its
# blue half. [SVG element, attributes] each, the first the <svg>, as the banner draws it (banner_static/src/ui.js).
PRIVACY_CHOICES_ICON = [
    ["svg", {"viewBox": "0 0 30 14", "width": "30", "height": "14", "aria-hidden": "true"}],
    *(["path", {"d": d, "fill": fill, "stroke": stroke, "stroke-width": "1.5"}] for d, fill, stroke in (
        ("M7 .5h16a6.5 6.5 0 010 13H7A6.5 6.5 0 017 .5z", "#fff", "#06f"),
        ("M16.5.5H23a6.5 6.5 0 010 13H12z", "#06f", "none"),
        ("M4.8 7.2l2.3 2.3 4.2-4.6", "none", "#06f"),
        ("M19.5 4.5l5 5m0-5l-5 5", "none", "#fff"),
    )),
]


def us_wording(strings: dict, sells_or_shares: bool) -> dict:
    """The opt-out notice and its button for what the site does: "Do not sell or share my personal
    information" where it sells or shares (CCPA), else "Opt out of targeted advertising"."""
    notice, opt_out = strings.pop("notice_targeted"), strings.pop("opt_out_targeted")
    if not sells_or_shares:
        strings["notice"], strings["do_not_sell"] = notice, opt_out
    return strings


def us_links(strings: dict, us: dict | None) -> dict:
    """The words of the links US laws ask for, only where the banner shows them (they are long)."""
    shown = {"privacy_choices": us and us["privacy_choices_link"], "limit_sensitive": us and us["limit_sensitive_link"],
             "limit_sensitive_note": us and us["limit_sensitive_link"]}
    return {key: text for key, text in strings.items() if shown.get(key, True)}


# The other opt-outs the policy promises, linked from the preferences dialog: the industry's page, Google's
# add-on, and the phone's own settings (the vendors' help pages).
OPT_OUT_LINKS = {
    "opt_out_nai": "https://optout.networkadvertising.org/",
    "opt_out_ga": "https://tools.google.com/dlpage/gaoptout",
    "help_ios": "https://support.apple.com/en-us/102420",
    "help_android": "https://support.google.com/googleplay/android-developer/answer/6048248",
}


def other_opt_outs(strings: dict) -> list:
    """The dialog's "Other ways to opt out", taken out of ``strings``: one list per item, each of
    ``[text, link or None]`` pieces the runtime inserts as text in a row (the phone's sentence, then its two links)."""
    def piece(key):
        return [strings.pop(key), OPT_OUT_LINKS.get(key)]

    return [[piece("opt_out_nai")], [piece("opt_out_ga")], [piece("opt_out_phone"), piece("help_ios"), piece("help_android")]]


def pick_language(languages: list[str] | None, wanted: list[str]) -> str:
    """The first of ``wanted`` (most wanted first) that the site offers, exactly or by its primary
    subtag (``fr-CA`` → ``fr``); else the site's default. The runtime picks the same way
    (``banner_static/src/cmp.js``), from the page's ``lang`` or the browser's languages."""
    languages = languages or ["en"]
    lower = {language.lower(): language for language in languages}
    for code in wanted:
        for candidate in (code.lower(), code.split("-")[0].lower()):
            if candidate in lower:
                return lower[candidate]
    return languages[0]


def localized(texts: dict, language: str, fallback: str):
    texts = texts or {}
    for candidate in (language, language.split("-")[0], fallback, "en"):
        if candidate in texts:
            return texts[candidate]
    return next(iter(texts.values()), None)


def theme(site: Site) -> dict:
    """The site's look: where the banner sits, its logo, and its colours, font and corners as CSS custom properties.

    The values were checked at save (``Site.clean``: colours as ``#rrggbb``
    with AA contrast, a plain font-family list), so they are safe to put in
    the stylesheet the runtime adopts in its shadow root.
    """
    def palette(prefix):
        return ";".join(f"--{var}:{getattr(site, prefix + name)}" for var, name in
                        (("bg", "background"), ("fg", "text"), ("ac", "accent"), ("on", "accent_text")))

    shape = f"--r:{site.theme_radius}px" + (f";--font:{site.theme_font}" if site.theme_font else "")
    light, dark = palette("theme_"), palette("theme_dark_")
    if site.theme_mode == "dark":
        css = f":host{{{dark};{shape};color-scheme:dark}}"
    elif site.theme_mode == "auto":
        css = f":host{{{light};{shape}}}@media(prefers-color-scheme:dark){{:host{{{dark};color-scheme:dark}}}}"
    else:
        css = f":host{{{light};{shape}}}"
    return {"position": site.theme_position, "mode": site.theme_mode, "logo": site.theme_logo_url, "css": css}

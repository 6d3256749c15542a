"""Which of a site's purposes an item serves: the owner's word, else the Open Cookie Database, else the catalogue.

Both references name a *category* (analytics, advertising, social, video,
chat, functional, personalization, security, necessary). A site purpose with
the category's own key takes it (a site may add ``social`` or ``chat``);
otherwise :data:`FALLBACK` says which default purpose covers it, and an item
with no purpose is left for the owner to classify in the admin.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from . import catalogue, cookiedb
from .kinds import REQUEST

ESSENTIAL = "essential"
FALLBACK = {
    "analytics": "analytics",
    "advertising": "advertising",
    "social": "advertising",       # share buttons and embeds follow the visitor for ads
    "video": "advertising",        # embedded players set their ad and tracking cookies
    "chat": "recognition",         # chat widgets tie a visitor's conversations to an identity
    "personalization": "recognition",
    "security": ESSENTIAL,
    "necessary": ESSENTIAL,
    # "functional" has no default: "preferences" are not strictly necessary, the owner decides.
}


@dataclass(frozen=True)
class Classification:
    category: str = ""
    vendor: str = ""
    description: str = ""
    purpose: str = ""
    classified_by: str = ""
    prefix: str = ""


def purpose_for(category: str, purposes) -> str:
    """The key of the site purpose (of ``purposes``, consent.decisions.Purpose) that covers ``category``; '' if none."""
    keys = {p.key for p in purposes}
    if category in keys:
        return category
    fallback = FALLBACK.get(category, "")
    if fallback == ESSENTIAL:
        essential = [p.key for p in purposes if p.essential]
        return "security" if "security" in essential else (essential[0] if essential else "")
    return fallback if fallback in keys else ""


def platform_host() -> str:
    return (urlsplit(settings.CMP_PUBLIC_URL).hostname or "").lower()


def classify(kind: str, name: str, domain: str, set_by: str, rules) -> Classification:
    """How the references classify one item of the site whose :class:`~consent.sites.SiteRules` are ``rules``."""
    essential = purpose_for("necessary", rules.purposes)
    # The banner's cookie, and its storage key of the day the server last confirmed the choice.
    if (kind == REQUEST and name == platform_host()) or name in (f"cmp_{rules.key}", f"cmp_{rules.key}_checked"):
        return Classification("necessary", "This consent platform", "The consent banner and the visitor's choice.",
                              essential, "platform")
    if kind != REQUEST:
        entry = cookiedb.database().match(name)
        if entry is not None:
            return Classification(entry.category, entry.platform, entry.description,
                                  purpose_for(entry.category, rules.purposes), "ocd", entry.name if entry.prefix else "")
    # A request by its host; a cookie or key unknown to the database by where it lives or what set it.
    hosts = (name,) if kind == REQUEST else (domain.lstrip("."), urlsplit(set_by).hostname or "")
    for host in filter(None, hosts):
        known = catalogue.lookup(host)
        if known:
            category, vendor = known
            return Classification(category, vendor, "", purpose_for(category, rules.purposes), "catalogue")
    return Classification()

"""What a site's inventory tells others: the cookie declaration, and what the banner blocks and cleans up.

- :func:`declaration`: per purpose of the site, the cookies and storage keys
  its pages set and the vendors they call, in one language (the preferences
  dialog and the privacy-policy page show it).
- :func:`dialog_declaration`: the same, worded for the banner's preferences
  dialog (fetched only when the visitor opens it): per purpose, a summary and
  lines of text ready to insert, so the runtime formats nothing.
- :func:`blocking_rules`: per optional purpose, the hosts whose scripts,
  frames and images wait for it (the catalogue's, then the inventory's, the
  owner's classification first), the hosts that never wait, and the cookie
  and storage names to delete when a purpose is declined (a trailing ``*``
  marks a prefix).
"""
from __future__ import annotations

from collections import defaultdict

from django.core.cache import cache
from django.db.models import Max
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import override, pgettext

from banner.config import localized
from consent.languages import interface_language
from consent.models import Purpose, Site

from . import catalogue
from .classify import purpose_for
from .kinds import COOKIE, LOCAL_STORAGE, REQUEST
from .models import Tracker


def declaration(site: Site, language: str | None) -> dict:
    lang = site.pick_language(language)
    trackers = list(Tracker.objects.filter(site=site).order_by("kind", "name", "domain"))
    by_purpose = defaultdict(list)
    for tracker in trackers:
        by_purpose[tracker.purpose].append(tracker)
    purposes = []
    for purpose in Purpose.objects.filter(site=site).order_by("position", "key"):
        mine = by_purpose.get(purpose.key, [])
        vendors = defaultdict(list)
        for tracker in mine:
            if tracker.kind == REQUEST:
                vendors[tracker.vendor or tracker.name].append(tracker.name)
        purposes.append({
            "key": purpose.key,
            "essential": purpose.essential,
            "name": localized(purpose.names, lang, site.default_language) or purpose.key,
            "description": localized(purpose.descriptions, lang, site.default_language) or "",
            "cookies": [
                {"name": t.name, "kind": t.kind, "domain": t.domain, "vendor": t.vendor, "lifetime_seconds": t.lifetime_seconds,
                 "first_party": t.first_party, "description": t.description}
                for t in mine if t.kind != REQUEST
            ],
            "vendors": [{"name": name, "hosts": sorted(set(hosts))} for name, hosts in sorted(vendors.items())],
        })
    updated = Tracker.objects.filter(site=site).aggregate(at=Max("last_seen"))["at"]
    return {
        "site": site.key,
        "language": lang,
        "updated": updated.isoformat() if updated else None,
        "purposes": purposes,
        "unclassified": len(by_purpose.get("", [])),
    }


DURATION_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def duration(seconds: int | None) -> str:
    """A cookie's lifetime in words, in the active language (Django's own translated units)."""
    if seconds is None:
        return pgettext("banner", "session")
    unit, size = next(((unit, size) for unit, size in DURATION_UNITS if seconds >= size), DURATION_UNITS[-1])
    return TIME_STRINGS[unit] % {"num": max(1, seconds // size)}


def dialog_declaration(site: Site, language: str | None) -> dict:
    """The declaration as the preferences dialog lists it under each purpose that has anything to declare:
    ``{"purposes": {key: {"summary": text, "lists": [[heading, [line, …]], …]}}}``, every text in the
    visitor's language, so the runtime only inserts text (and stays small)."""
    full = declaration(site, language)
    purposes = {}
    with override(interface_language(full["language"])):
        for purpose in full["purposes"]:
            stored = [
                " · ".join(filter(None, [c["name"], c["vendor"], c["domain"],
                                         duration(c["lifetime_seconds"]) if c["kind"] == COOKIE
                                         else "localStorage" if c["kind"] == LOCAL_STORAGE else "sessionStorage"]))
                for c in purpose["cookies"]
            ]
            vendors = [v["name"] if v["hosts"] == [v["name"]] else f"{v['name']}: {', '.join(v['hosts'])}"
                       for v in purpose["vendors"]]
            if not stored and not vendors:
                continue
            lists = [[heading, lines] for heading, lines in (
                (pgettext("banner", "Cookies and storage"), stored), (pgettext("banner", "Vendors"), vendors)) if lines]
            summary = pgettext("banner", "Cookies and vendors (%(count)s)") % {"count": len(stored) + len(vendors)}
            purposes[purpose["key"]] = {"summary": summary, "lists": lists}
    return {"language": full["language"], "purposes": purposes}


def blocking_rules(site: Site) -> dict:
    purposes = list(Purpose.objects.filter(site=site))
    optional = {p.key for p in purposes if not p.essential}
    hosts: dict[str, str] = {}  # host -> purpose
    for host, (category, _vendor) in catalogue.hosts().items():
        hosts[host] = purpose_for(category, purposes)
    rows = Tracker.objects.filter(site=site).values_list("kind", "name", "prefix", "purpose", "classified_by")
    cookies, storage = defaultdict(set), defaultdict(set)
    for kind, name, prefix, purpose, classified_by in rows:
        if kind == REQUEST:
            # The owner's word wins over the catalogue's, for the host and its subdomains alike.
            if classified_by == Tracker.OWNER or name not in hosts:
                hosts[name] = purpose
        elif purpose in optional:
            target = cookies if kind == COOKIE else storage
            target[purpose].add(prefix + "*" if prefix else name)
    grouped = defaultdict(list)
    for host, purpose in hosts.items():
        if purpose in optional:
            grouped[purpose].append(host)
    return {
        "hosts": {purpose: sorted(found) for purpose, found in sorted(grouped.items())},
        # Never held, though a listed parent covers them (the owner's static.hotjar.com under hotjar.com).
        "essential": sorted(host for host, purpose in hosts.items() if purpose and purpose not in optional),
        "cookies": {purpose: sorted(found) for purpose, found in sorted(cookies.items())},
        "storage": {purpose: sorted(found) for purpose, found in sorted(storage.items())},
    }


BOOT_SECONDS = 60  # how long a site's held hosts may be served from the cache after a scan


def held_hosts(site_key: str) -> dict:
    """The inventory's third-party hosts per optional purpose, for the embed script (``block``).

    Only what the scans found on the site (the whole catalogue would not fit
    the banner's size budget); the owner's classification wins. Essential
    hosts that a listed one covers (the owner's static.hotjar.com under
    hotjar.com) come last, under ``""``: the banner lets the most specific
    listing win, and ``""`` holds nothing.
    """
    def build():
        rows = Tracker.objects.filter(site__key=site_key, kind=REQUEST, first_party=False).exclude(purpose="")
        optional = set(Purpose.objects.filter(site__key=site_key, essential=False).values_list("key", flat=True))
        hosts, essential = defaultdict(list), []
        for name, purpose in rows.values_list("name", "purpose").order_by("name"):
            (hosts[purpose] if purpose in optional else essential).append(name)
        listed = dict.fromkeys(name for names in hosts.values() for name in names)
        exceptions = [name for name in essential if catalogue.covering(name, listed)]
        return {**dict(sorted(hosts.items())), **({"": exceptions} if exceptions else {})}

    return cache.get_or_set(f"scanner:held:{site_key}", build, BOOT_SECONDS)


def forget(site_key: str) -> None:
    """Serve the site's new held hosts from now on (after a scan, or the owner's change)."""
    cache.delete(f"scanner:held:{site_key}")


def embed_fields(sender, site_key, **kwargs) -> dict | None:
    """Receiver of ``banner.signals.embed_boot``."""
    hosts = held_hosts(site_key)
    return {"block": hosts} if hosts else None

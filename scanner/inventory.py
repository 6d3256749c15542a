"""What a site's inventory tells others: the cookie declaration, and what the banner blocks and cleans up.

- :func:`declaration`: per purpose of the site, the cookies and storage keys
  its pages set and the vendors they call, in one language (the preferences
  dialog and the privacy-policy page show it).
- :func:`blocking_rules`: per optional purpose, the hosts whose scripts,
  frames and images wait for it (the catalogue's, then the inventory's, the
  owner's classification first), and the cookie and storage names to delete
  when it is declined (a trailing ``*`` marks a prefix).
"""
from __future__ import annotations

from collections import defaultdict

from django.core.cache import cache
from django.db.models import Max

from banner.config import localized
from consent.models import Purpose, Site

from . import catalogue
from .classify import purpose_for
from .kinds import COOKIE, REQUEST
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
        "cookies": {purpose: sorted(found) for purpose, found in sorted(cookies.items())},
        "storage": {purpose: sorted(found) for purpose, found in sorted(storage.items())},
    }


BOOT_SECONDS = 60  # how long a site's held hosts may be served from the cache after a scan


def held_hosts(site_key: str) -> dict:
    """The inventory's third-party hosts per optional purpose, for the embed script (``block``).

    Only what the scans found on the site (the whole catalogue would not fit
    the banner's size budget); the owner's classification wins.
    """
    def build():
        rows = Tracker.objects.filter(site__key=site_key, kind=REQUEST, first_party=False).exclude(purpose="")
        optional = set(Purpose.objects.filter(site__key=site_key, essential=False).values_list("key", flat=True))
        hosts = defaultdict(list)
        for name, purpose in rows.values_list("name", "purpose").order_by("name"):
            if purpose in optional:
                hosts[purpose].append(name)
        return dict(sorted(hosts.items()))

    return cache.get_or_set(f"scanner:held:{site_key}", build, BOOT_SECONDS)


def forget(site_key: str) -> None:
    """Serve the site's new held hosts from now on (after a scan, or the owner's change)."""
    cache.delete(f"scanner:held:{site_key}")


def embed_fields(sender, site_key, **kwargs) -> dict | None:
    """Receiver of ``banner.signals.embed_boot``."""
    hosts = held_hosts(site_key)
    return {"block": hosts} if hosts else None

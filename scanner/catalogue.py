"""The catalogue of tag hosts this project keeps (``scanner/data/tag_hosts.json``): host → category and vendor.

A catalogued host covers its subdomains; the most specific entry wins
(``connect.facebook.net`` before ``facebook.net``).
"""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "data" / "tag_hosts.json"
CATEGORIES = ("analytics", "advertising", "social", "video", "chat")


@functools.cache
def hosts() -> dict[str, tuple[str, str]]:
    """Every catalogued host: host -> (category, vendor)."""
    return {host: (category, vendor) for host, (category, vendor) in json.loads(CATALOGUE.read_text())["hosts"].items()}


def covering(host: str, known: Mapping[str, object] | None = None) -> str | None:
    """The host of ``known`` (by default the catalogue) that covers ``host`` (itself or a parent domain, the most
    specific first), or None."""
    labels = host.lower().rstrip(".").split(".")
    known = hosts() if known is None else known
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        if candidate in known:
            return candidate
    return None


def lookup(host: str) -> tuple[str, str] | None:
    """(category, vendor) of ``host``, or None when the catalogue does not know it."""
    match = covering(host)
    return hosts()[match] if match else None

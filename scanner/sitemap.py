"""Reading a site's sitemap.xml: page URLs of the site's own origins, at most a given number.

A sitemap is the site's to write, and may be hostile: it is parsed with
defusedxml (no entity expansion, no external entities), incrementally, and
reading stops at the limit, so a sitemap of a million URLs costs no more than
one of ``limit``. A sitemap index is followed one level down.
"""
from __future__ import annotations

import http.client
import io
import socket
import ssl
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

MAX_SITEMAPS = 10  # sitemaps of an index read, at most
MAX_BYTES = 8 * 1024 * 1024  # read of one sitemap, at most (a cut file still gives the URLs before the cut)
MAX_REDIRECTS = 5
TIMEOUT = 15
USER_AGENT = "cmp-scanner/1"


def fetcher(guard, max_bytes=MAX_BYTES):
    """``fetch(url) -> bytes | None`` that connects only where ``guard`` allows (each redirect checked
    again, connecting to the very address checked) and reads at most ``max_bytes``."""
    def fetch(url: str) -> bytes | None:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return None
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = guard.address_for(parts.hostname, port)
            if address is None:
                return None
            try:
                response = _get(parts, address, port)
                if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                    url = urljoin(url, response.getheader("Location"))
                    continue
                return response.read(max_bytes) if response.status == 200 else None
            except (OSError, http.client.HTTPException, ValueError):
                return None
        return None

    return fetch


def _get(parts, address, port):
    connection = socket.create_connection((address, port), timeout=TIMEOUT)
    if parts.scheme == "https":
        connection = ssl.create_default_context().wrap_socket(connection, server_hostname=parts.hostname)
    client = http.client.HTTPConnection(parts.hostname, port, timeout=TIMEOUT)
    client.sock = connection  # already connected, to the checked address
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    client.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "application/xml, text/xml"})
    return client.getresponse()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def locations(data: bytes, limit: int) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) listed in ``data``, at most ``limit`` of each; a cut or broken file gives what came before the cut."""
    pages, sitemaps = [], []
    parent = None
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag in ("url", "sitemap"):
                    parent = tag
                continue
            if tag == "loc" and element.text:
                target = pages if parent == "url" else sitemaps
                if len(target) < limit:
                    target.append(element.text.strip())
                if len(pages) >= limit or len(sitemaps) >= limit:
                    break
            element.clear()
    except (ParseError, DefusedXmlException):
        pass  # keep what was read before the problem
    return pages, sitemaps


def pages_from(fetch, start_urls: list[str], limit: int) -> list[str]:
    """Pages listed in the sitemap.xml of each origin of ``start_urls``, on those origins only.

    ``fetch(url) -> bytes | None`` reads a file (:func:`fetcher`).
    """
    origins = list(dict.fromkeys(origin(u) for u in start_urls))
    found: list[str] = []
    for site_origin in origins:
        queue, read = [urljoin(site_origin + "/", "sitemap.xml")], 0
        while queue and read < MAX_SITEMAPS and len(found) < limit:
            url = queue.pop(0)
            read += 1
            data = fetch(url)
            if not data:
                continue
            pages, nested = locations(data, limit)
            found += [p for p in pages if origin(p) == site_origin and p not in found]
            if read == 1:  # an index: one level down, on the same origin
                queue += [s for s in nested if origin(s) == site_origin]
    return found[:limit]

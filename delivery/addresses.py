"""Where a webhook may go: https to public addresses only, checked at save and at send.

:func:`check_url` says whether a URL may be saved; :func:`resolve` is what
a send uses: it resolves the name once, refuses it unless every address it
gives is public, and returns the address the connection must use (so a name
that answers differently a moment later, DNS rebinding, changes nothing).

Public means :attr:`ipaddress.IPv4Address.is_global`: loopback, private
ranges, link-local (the cloud metadata address 169.254.169.254 among them),
CGNAT, unique-local IPv6 and the unspecified address are refused, as are
IPv4 addresses mapped into IPv6. ``CMP_WEBHOOKS_ALLOW_LOCAL`` (development
only) also allows plain http and loopback addresses, never the rest.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class Refused(Exception):
    """A URL or address a webhook may not use; the message is safe to show and to store."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for the Host header and the TLS certificate
    port: int
    path: str  # with the query
    address: str  # the checked address to connect to


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a webhook may use, before resolving; :class:`Refused` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("refused: the URL is malformed") from None
    allowed = ("https", "http") if settings.CMP_WEBHOOKS_ALLOW_LOCAL else ("https",)
    if parts.scheme not in allowed:
        raise Refused("refused: webhooks must use https")
    if parts.username is not None or parts.password is not None:
        raise Refused("refused: the URL must not carry a user name or password")
    if not parts.hostname:
        raise Refused("refused: the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """The URL's parts and the one checked address to connect to; :class:`Refused` if any address is not public."""
    scheme, host, port, path = check_url(url)
    try:
        found = _getaddrinfo(host, port)
    except (OSError, UnicodeError):
        raise Refused("refused: the host name does not resolve") from None
    if not found:
        raise Refused("refused: the host name does not resolve")
    for address in found:
        if not allowed(address):
            raise Refused("refused: the address is not public")
    return Target(scheme, host, port, path, found[0])


def allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return True
    return bool(settings.CMP_WEBHOOKS_ALLOW_LOCAL and ip.is_loopback)


def _getaddrinfo(host: str, port: int) -> list[str]:
    """Every address the name has (an address literal is its own)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))

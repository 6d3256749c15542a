"""What an HTTP request tells us about the visitor's browser.

Only what the log and the rule need, and no more than needed: the country
and the region below it from trusted headers, a truncated IP address, the user agent, and the opt-out
signals the browser sends as headers.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from django.conf import settings

from . import regions

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
# Codes CDNs use for "unknown" or "Tor": no country, so the strictest rule.
NOT_A_COUNTRY = {"XX", "T1", "A1", "A2", "O1", "EU", "AP"}
USER_AGENT_MAX = 512
NAI_COOKIE = "cmp_nai_optout"
NAI_OPT_OUT = "OPT_OUT"


@dataclass(frozen=True)
class ClientInfo:
    country: str | None
    ip_prefix: str
    user_agent: str
    header_signals: dict
    region: str | None = None  # ``US-CA``, else the country, else None (:func:`region`)

    def __post_init__(self):
        if self.region is None and self.country:  # made with a country alone: the region falls back to it
            object.__setattr__(self, "region", self.country)


def client_info(request) -> ClientInfo:
    return ClientInfo(
        country=country(request),
        ip_prefix=ip_prefix(client_ip(request)),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        header_signals=header_signals(request),
        region=region(request),
    )


def client_ip(request) -> str:
    """The client's address: from the trusted proxy's header when one is set.

    The last entry is the one the trusted proxy added; earlier ones come from
    the client and could be forged. With ``CMP_TRUSTED_PROXIES`` set, the
    header counts only on connections from those addresses (the proxy's):
    anyone else reaching the app directly is counted by their own address.
    """
    header = settings.CMP_CLIENT_IP_HEADER
    peer = request.META.get("REMOTE_ADDR", "")
    if header and _from_trusted_proxy(peer):
        forwarded = request.headers.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return peer


def _from_trusted_proxy(peer: str) -> bool:
    proxies = settings.CMP_TRUSTED_PROXIES
    if not proxies:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def limit_key(address: str) -> str:
    """Who a rate limit counts: an IPv4 address, or an IPv6 client's /64 (one subscriber's network)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def country(request) -> str | None:
    """The ISO country code set by the trusted proxy or CDN, if any."""
    header = settings.CMP_COUNTRY_HEADER
    if not header:
        return None
    value = request.headers.get(header, "").strip().upper()
    if COUNTRY_RE.match(value) and value not in NOT_A_COUNTRY:
        return value
    return None


def region(request) -> str | None:
    """The visitor's ISO 3166-2 region (``US-CA``) from the trusted headers, else the country, else None.

    What the rule, the lookup, the writes and the banner's config use.
    """
    return regions.region_from_headers(request.headers, country_header=settings.CMP_COUNTRY_HEADER,
                                       region_header=settings.CMP_REGION_HEADER)


def region_headers() -> list[str]:
    """The request headers an answer that depends on the visitor's region depends on: for ``Vary``."""
    return [h for h in (settings.CMP_COUNTRY_HEADER, settings.CMP_REGION_HEADER) if h]


def ip_prefix(address: str) -> str:
    """The network the address belongs to (IPv4 /24, IPv6 /48), never the address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def header_signals(request) -> dict:
    """Signals the browser itself sends: headers, and the platform's NAI opt-out cookie.

    Per the GPC spec only ``Sec-GPC: 1`` counts; any other value is ignored.
    The NAI cookie lives on the platform's own host, so it arrives with the
    banner's credentialed requests from every site of the platform.
    """
    signals = {}
    if request.headers.get("Sec-GPC") == "1":
        signals["gpc"] = True
    if request.headers.get("DNT") == "1":
        signals["dnt"] = True
    if request.COOKIES.get(NAI_COOKIE) == NAI_OPT_OUT:
        signals["nai_optout"] = True
    return signals

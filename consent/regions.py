"""Regions below the country: ISO 3166-2 codes from a CDN's header, and the US state presets.

Pure (no Django, no database): the request's headers and the two header
names come in as arguments, so ``consent/client.py`` (which reads the
settings) and the tests call the same function.

A region is ``US-CA`` where the CDN tells the state, else the bare country
(``FR``), else None (nothing trusted was sent). CDNs send the subdivision
without its country (CloudFront's ``CloudFront-Viewer-Country-Region: CA``,
Cloudflare's ``cf-region-code: CA``); some proxies send it whole (``US-CA``).
Both are read; a whole code whose country contradicts the country header is
not trusted, and the country alone stands.

:data:`US_STATES` holds one :class:`StatePreset` per US state whose
comprehensive privacy law is in force on 2026-11-25; ``docs/us-states.md``
is the same table for people, with what we were unsure of.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
SUBDIVISION_RE = re.compile(r"^[A-Z0-9]{1,3}$")
REGION_RE = re.compile(r"^([A-Z]{2})-([A-Z0-9]{1,3})$")
# Codes CDNs use for "unknown", "Tor" or a continent: no country, so the strictest rule.
NOT_A_COUNTRY = frozenset({"XX", "T1", "A1", "A2", "O1", "EU", "AP"})
HEADER_MAX = 16  # longer than any ISO 3166-2 code: not read at all

# What a state's law lets a visitor opt out of.
SALE = "sale"
SHARING = "sharing"  # California's "sharing": cross-context behavioural advertising
TARGETED_ADVERTISING = "targeted_advertising"
PROFILING = "profiling"  # profiling in furtherance of decisions with legal or similarly significant effects
SENSITIVE_LIMIT = "sensitive_limit"  # California's "limit the use of my sensitive personal information"
OPT_OUTS = (SALE, SHARING, TARGETED_ADVERTISING, PROFILING, SENSITIVE_LIMIT)


@dataclass(frozen=True)
class StatePreset:
    """One state's comprehensive privacy law, as a site gets it without configuring anything."""

    region: str  # ISO 3166-2, e.g. US-CA
    state: str
    law: str
    effective: date
    opt_outs: frozenset[str]
    # From when the law requires honouring a universal opt-out signal such as GPC (None: it does not).
    gpc_required_from: date | None
    # The IAB GPP section this platform encodes for the state (None: the US National section only).
    gpp_section: str | None
    unsure: str = ""  # what the research could not settle; docs/us-states.md says it too
    regime: str = "opt_out"  # every one of these laws is opt-out for sale and targeted advertising
    # The law's regulations name the single alternative opt-out link, "Your Privacy Choices" with its
    # icon, in place of separate "Do Not Sell or Share" and "Limit the Use" links (California's
    # CCPA regulations, section 7015). The other laws ask for a clear and conspicuous way to opt out,
    # in no set words.
    privacy_choices_link: bool = False

    @property
    def limit_sensitive_right(self) -> bool:
        """The law gives a right to limit the use of sensitive personal information (California)."""
        return SENSITIVE_LIMIT in self.opt_outs

    def in_force(self, on: date) -> bool:
        return self.effective <= on

    def requires_gpc(self, on: date) -> bool:
        return self.gpc_required_from is not None and self.gpc_required_from <= on


def _preset(region, state, law, effective, opt_outs, gpc_from, section, unsure="", privacy_choices_link=False):
    return StatePreset(region, state, law, date.fromisoformat(effective), frozenset(opt_outs),
                       gpc_from and date.fromisoformat(gpc_from), section, unsure,
                       privacy_choices_link=privacy_choices_link)


_USUAL = (SALE, TARGETED_ADVERTISING, PROFILING)
_MSPA_MODE = ("Its IAB section (2025) has one MspaMode field; that 1 means opt-out option mode and 2 service "
              "provider mode comes from an independent decoder, not from the IAB's text.")

US_STATES: dict[str, StatePreset] = {p.region: p for p in (
    _preset("US-CA", "California", "California Consumer Privacy Act, as amended by the CPRA", "2020-01-01",
            (SALE, SHARING, SENSITIVE_LIMIT), "2023-01-01", "usca",
            "GPC was already required by the 2021 regulations; 2023-01-01 is when the CPRA put opt-out "
            "preference signals in the statute.", privacy_choices_link=True),
    _preset("US-VA", "Virginia", "Consumer Data Protection Act", "2023-01-01", _USUAL, None, "usva",
            "The statute names no universal opt-out signal; one summary we read still counts Virginia among "
            "the states enforcing GPC."),
    _preset("US-CO", "Colorado", "Colorado Privacy Act", "2023-07-01", _USUAL, "2024-07-01", "usco"),
    _preset("US-CT", "Connecticut", "Connecticut Data Privacy Act", "2023-07-01", _USUAL, "2025-01-01", "usct"),
    _preset("US-UT", "Utah", "Utah Consumer Privacy Act", "2023-12-31", (SALE, TARGETED_ADVERTISING), None, "usut"),
    _preset("US-TX", "Texas", "Texas Data Privacy and Security Act", "2024-07-01", _USUAL, "2025-01-01", "ustx"),
    _preset("US-OR", "Oregon", "Oregon Consumer Privacy Act", "2024-07-01", _USUAL, "2026-01-01", "usor"),
    _preset("US-MT", "Montana", "Montana Consumer Data Privacy Act", "2024-10-01", _USUAL, "2025-01-01", "usmt"),
    _preset("US-IA", "Iowa", "Iowa Consumer Data Protection Act", "2025-01-01", (SALE, TARGETED_ADVERTISING), None,
            "usia", "Targeted advertising is an opt-out by way of a required notice and choice, not a listed "
            "consumer right; no profiling opt-out."),
    _preset("US-DE", "Delaware", "Delaware Personal Data Privacy Act", "2025-01-01", _USUAL, "2026-01-01", "usde"),
    _preset("US-NE", "Nebraska", "Nebraska Data Privacy Act", "2025-01-01", _USUAL, "2025-01-01", "usne",
            "Like Texas, the law lets a consumer opt out through a browser setting acting as an authorised "
            "agent rather than naming universal opt-out mechanisms."),
    _preset("US-NH", "New Hampshire", "New Hampshire Privacy Act (RSA 507-H)", "2025-01-01", _USUAL, "2025-01-01",
            "usnh"),
    _preset("US-NJ", "New Jersey", "New Jersey Data Privacy Act", "2025-01-15", _USUAL, "2025-07-15", "usnj"),
    _preset("US-TN", "Tennessee", "Tennessee Information Protection Act", "2025-07-01", _USUAL, None, "ustn"),
    _preset("US-MN", "Minnesota", "Minnesota Consumer Data Privacy Act", "2025-07-31", _USUAL, "2025-07-31", "usmn"),
    _preset("US-MD", "Maryland", "Maryland Online Data Privacy Act", "2025-10-01", _USUAL, "2025-10-01", "usmd",
            "Applies to processing from 2026-04-01; the sale of sensitive data is forbidden outright. " + _MSPA_MODE),
    _preset("US-IN", "Indiana", "Indiana Consumer Data Protection Act", "2026-01-01", _USUAL, None, "usin",
            _MSPA_MODE),
    _preset("US-KY", "Kentucky", "Kentucky Consumer Data Protection Act", "2026-01-01", _USUAL, None, "usky",
            _MSPA_MODE),
    _preset("US-RI", "Rhode Island", "Rhode Island Data Transparency and Privacy Protection Act", "2026-01-01",
            _USUAL, None, "usri", "We found no universal opt-out requirement. " + _MSPA_MODE),
)}


def presets_in_force(on: date) -> tuple[StatePreset, ...]:
    return tuple(p for p in US_STATES.values() if p.in_force(on))


def country_code(value: str | None) -> str | None:
    """A header's ISO 3166-1 alpha-2 country, or None for anything else (unknown, Tor, a continent)."""
    value = (value or "").strip().upper()
    if len(value) == 2 and COUNTRY_RE.match(value) and value not in NOT_A_COUNTRY:
        return value
    return None


def region_code(country: str | None, value: str | None) -> str | None:
    """The ISO 3166-2 code for a region header's value: ``CA`` (with the country) or ``US-CA``.

    None when the value is not a subdivision code, when a bare subdivision
    comes without a country, or when a whole code names another country.
    """
    value = (value or "").strip().upper()
    if not value or len(value) > HEADER_MAX:
        return None
    whole = REGION_RE.match(value)
    if whole:
        named = whole.group(1)
        if named in NOT_A_COUNTRY or (country is not None and named != country):
            return None
        return value
    if country is not None and SUBDIVISION_RE.match(value):
        return f"{country}-{value}"
    return None


def region_from_headers(headers: Mapping[str, str], *, country_header: str, region_header: str) -> str | None:
    """The visitor's region from trusted headers: ``US-CA``, else the country (``FR``), else None.

    ``headers`` may be any mapping (Django's ``request.headers``, a plain
    dict); names are matched without regard to case. An empty header name
    turns that header off.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    country = country_code(lowered.get(country_header.lower())) if country_header else None
    region = region_code(country, lowered.get(region_header.lower())) if region_header else None
    return region or country


def override_key_problem(key) -> str | None:
    """Why ``key`` cannot be a key of a site's regime overrides (None: it can).

    A key is a country (``FR``) or a region below it (``US-CA``), in ISO
    3166 upper case, as :func:`region_from_headers` gives them.
    """
    if not isinstance(key, str) or not (COUNTRY_RE.match(key) or REGION_RE.match(key)):
        return f"{key!r} is not an ISO country code like FR or a region code like US-CA."
    if country_of(key) in NOT_A_COUNTRY:
        return f"{key!r} names no country: {country_of(key)} is what CDNs send for an unknown place."
    return None


def country_of(region: str | None) -> str | None:
    """``US`` for ``US-CA`` or ``US``; None for None."""
    return region.split("-", 1)[0] if region else None


def preset_for(region: str | None) -> StatePreset | None:
    return US_STATES.get(region or "")


def regime_for(region: str | None, overrides: Mapping[str, str], default: str) -> str:
    """The regime for a visitor in ``region``: what the site says, else the state's preset, else the default.

    Most specific first: the site's override for the region itself (``US-CA``),
    then for its country (``US``: a site that chose for the whole country keeps
    its choice), then the state's preset, then the site's default. The lookup,
    the writes and the banner's config all ask it (``SiteRules.regime_for``).
    """
    if not region:
        return default
    if region in overrides:
        return overrides[region]
    country = country_of(region)
    if country in overrides:
        return overrides[country]
    preset = preset_for(region)
    return preset.regime if preset else default

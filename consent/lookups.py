"""Answering "may this purpose run for this visitor?" cheaply.

The visitor's stored consent (not the decision: that depends on the clock and
the site's policies) is cached per visitor, including "unknown visitor", and
every write drops that entry after it commits (:func:`forget_visitor`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import cache, decisions
from .models import Visitor
from .sites import SiteRules

UNKNOWN = {"unknown": True}


@dataclass(frozen=True)
class LookupResult:
    regime: str
    policy_version: str | None
    outcome: decisions.Outcome
    signals: decisions.Signals
    known_visitor: bool


def lookup(rules: SiteRules, visitor_uuid, *, country=None, header_signals=None, now=None) -> LookupResult:
    now = now or timezone.now()
    state = _visitor_state(rules, visitor_uuid)
    known = state is not UNKNOWN and "unknown" not in state
    if known and (header_signals or {}).get("gpc") and _gpc_news(state, now):
        state = _record_gpc(rules, visitor_uuid, country, now)
    choice = _choice_from_state(state) if known else None
    signals = decisions.Signals.from_mapping({**(state.get("signals") or {}), **(header_signals or {})})
    regime = rules.regime_for(country)
    outcome = decisions.decide(rules.context(now=now, regime=regime, choice=choice, signals=signals))
    policy = rules.current_policy(now)
    return LookupResult(regime, policy.version if policy else None, outcome, signals, known)


def _gpc_news(state: dict, now) -> bool:
    """Is this GPC header news for the visitor: first seen, or last seen before today?"""
    if not (state.get("signals") or {}).get("gpc"):
        return True
    return (state.get("gpc_last_seen") or "")[:10] < now.date().isoformat()


def _record_gpc(rules: SiteRules, visitor_uuid, country, now) -> dict:
    """Record GPC seen on a browser's lookup like a signal-only write: an event
    on first sight (source ``gpc``), only "last seen" after that."""
    from .client import ClientInfo
    from .writes import ConsentWrite, record_consent

    write = ConsentWrite(visitor_id=visitor_uuid, signals={}, by_api_key=True, source="gpc")
    record_consent(rules, write, ClientInfo(country, "", "", {"gpc": True}), now=now)
    return _visitor_state(rules, visitor_uuid)


def forget_visitor(site_key: str, visitor_uuid) -> bool:
    """Drop the cached state; False if the cache could not be reached."""
    return cache.delete(_cache_key(site_key, visitor_uuid))


def state_of(visitor: Visitor) -> dict:
    """The cacheable part of a visitor: what the rule needs, nothing personal."""
    return {
        "choices": visitor.choices,
        "chosen_at": visitor.chosen_at.isoformat() if visitor.chosen_at else None,
        "policy_version": visitor.policy_version,
        "choice_signals": visitor.choice_signals,
        "signals": visitor.signals,
        "gpc_last_seen": visitor.gpc_last_seen.isoformat() if visitor.gpc_last_seen else None,
    }


def _visitor_state(rules: SiteRules, visitor_uuid) -> dict:
    key = _cache_key(rules.key, visitor_uuid)
    state = cache.get(key)
    if state is None:
        visitor = Visitor.objects.filter(site_id=rules.id, uuid=visitor_uuid).first()
        state = state_of(visitor) if visitor else UNKNOWN
        cache.set(key, state, settings.CMP_LOOKUP_CACHE_SECONDS)
    return state


def _choice_from_state(state: dict) -> decisions.Choice | None:
    chosen_at = parse_datetime(state["chosen_at"]) if state.get("chosen_at") else None
    if chosen_at is None:
        return None
    return decisions.Choice(
        choices=state.get("choices") or {},
        made_at=chosen_at,
        policy_version=state.get("policy_version") or None,
        signals=decisions.Signals.from_mapping(state.get("choice_signals")),
    )


def _cache_key(site_key: str, visitor_uuid) -> str:
    return f"visitor:{site_key}:{visitor_uuid}"

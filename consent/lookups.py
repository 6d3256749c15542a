"""Answering "may this purpose run for this visitor?" cheaply.

The visitor's stored consent (not the decision: that depends on the clock and
the site's policies) is cached per visitor, including "unknown visitor", and
every change retires that entry (:func:`forget_visitor`). One round trip to
the cache fetches the visitor and the site's rules version together
(:func:`rules_and_state`); see consent/cache.py for why a cached entry is
never older than the last write that returned.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import cache, decisions, sites
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
    region: str | None = None  # the region the rule used: the visitor's stored one, else the request's
    gpp: dict | None = None  # the GPP string of this outcome (``SiteRules.gpp``)


def rules_and_state(site_key: str, visitor_uuid) -> tuple[SiteRules | None, dict | None]:
    """The site's rules and the visitor's cacheable state, in one cache round trip."""
    visitor_key = cache_key(site_key, visitor_uuid)
    snapshot = cache.read(sites.cache_key(site_key), visitor_key)
    rules = sites.site_rules(site_key, snapshot)
    if rules is None:
        return None, None
    return rules, _visitor_state(rules, visitor_uuid, snapshot)


def lookup(rules: SiteRules, visitor_uuid, *, region=None, header_signals=None, now=None, state=None) -> LookupResult:
    """The decisions for one visitor; ``state`` from :func:`rules_and_state` saves a cache read.

    A lookup only reads: signals the request's own headers carry (``Sec-GPC``)
    shape this answer and are never stored; signals are recorded by writes.
    The regime is the visitor's (the region of its first contact), not the
    asking server's; ``region`` (the request's) counts only for a visitor never seen.
    The GPP string is made here, per request, from this very outcome: the
    cached state holds no answer, so a GPC header or another region never
    gets another request's string.
    """
    now = now or timezone.now()
    state = state if state is not None else _visitor_state(rules, visitor_uuid)
    known = state is not UNKNOWN and "unknown" not in state
    choice = _choice_from_state(state) if known else None
    signals = decisions.Signals.from_mapping({**(state.get("signals") or {}), **(header_signals or {})})
    region = rules.visitor_region(state.get("region") if known else None, region)
    regime = rules.regime_for(region)
    outcome = decisions.decide(rules.context(now=now, regime=regime, choice=choice, signals=signals))
    policy = rules.current_policy(now)
    return LookupResult(regime, policy.version if policy else None, outcome, signals, known, region,
                        rules.gpp(region, outcome, signals))


def forget_visitors(site_key: str, *visitor_uuids) -> None:
    """Retire the cached states; call it inside the transaction that changes the visitors."""
    keys = [cache_key(site_key, visitor_uuid) for visitor_uuid in visitor_uuids]
    cache.forget(keys, settings.CMP_LOOKUP_CACHE_SECONDS)


def state_of(visitor: Visitor) -> dict:
    """The cacheable part of a visitor: what the rule needs, nothing personal."""
    return {
        "choices": visitor.choices,
        "chosen_at": visitor.chosen_at.isoformat() if visitor.chosen_at else None,
        "policy_version": visitor.policy_version,
        "choice_signals": visitor.choice_signals,
        "gpc_conflict_confirmed": visitor.gpc_conflict_confirmed,
        "signals": visitor.signals,
        "region": visitor.region,
    }


def _visitor_state(rules: SiteRules, visitor_uuid, snapshot: cache.Snapshot | None = None) -> dict:
    key = cache_key(rules.key, visitor_uuid)
    snapshot = snapshot or cache.read(key)
    state = snapshot.get(key)
    if state is None:
        visitor = Visitor.objects.filter(site_id=rules.id, uuid=visitor_uuid).first()
        state = state_of(visitor) if visitor else UNKNOWN
        cache.fill(snapshot, key, state, settings.CMP_LOOKUP_CACHE_SECONDS)
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
        gpc_conflict_confirmed=state.get("gpc_conflict_confirmed") is True,
    )


def cache_key(site_key: str, visitor_uuid) -> str:
    # A hash tag ({…}): on a Redis Cluster the entry and its version share a slot (docs/cache.md).
    return f"visitor:{{{site_key}:{visitor_uuid}}}"

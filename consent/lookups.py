"""Answering "may this purpose run for this visitor?" cheaply.

The visitor's stored consent (not the decision: that depends on the clock and
the site's policies) is cached per visitor, including "unknown visitor", and
every change retires that entry (:func:`forget_visitor`). One round trip to
the cache fetches the visitor and the site's rules version together
(:func:`rules_and_state`); see consent/cache.py for why a cached entry is
never older than the last write that returned.

A browser linked to a person (consent/people.py) also needs the choices of
the person's other browsers: they are cached per person, one more round trip
for linked browsers only, and every change to one of them retires that entry
too (:func:`forget_people`).
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


def rules_and_state(site_key: str, visitor_uuid) -> tuple[SiteRules, dict]:
    """The site's rules (NotFound if none) and the visitor's cacheable state, in one cache round trip."""
    rules, snapshot = sites.rules_and_snapshot(site_key, cache_key(site_key, visitor_uuid))
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
    linked = linked_from_rows(rules, person_state(state["person"]), visitor_uuid) if known and state.get("person") else ()
    signals = decisions.Signals.from_mapping({**(state.get("signals") or {}), **(header_signals or {})})
    region = rules.visitor_region(state.get("region") if known else None, region)
    regime = rules.regime_for(region)
    outcome = decisions.decide(rules.context(now=now, regime=regime, choice=choice, signals=signals, linked=linked))
    policy = rules.current_policy(now)
    return LookupResult(regime, policy.version if policy else None, outcome, signals, known, region,
                        rules.gpp(region, outcome, signals))


def forget_visitors(site_key: str, *visitor_uuids) -> None:
    """Retire the cached states; call it inside the transaction that changes the visitors."""
    keys = [cache_key(site_key, visitor_uuid) for visitor_uuid in visitor_uuids]
    cache.forget(keys, settings.CMP_LOOKUP_CACHE_SECONDS)


def forget_people(*person_ids) -> None:
    """Retire the cached shared choices of these people (None is skipped); call it inside the transaction
    that changes, links, unlinks or deletes one of their browsers."""
    cache.forget([person_key(person_id) for person_id in person_ids if person_id], settings.CMP_LOOKUP_CACHE_SECONDS)


def linked_choices(rules: SiteRules, visitor: Visitor) -> tuple[decisions.Choice, ...]:
    """The choices of the other browsers linked to ``visitor``'s person, read from the database (for writes)."""
    if visitor.person_id is None:
        return ()
    return linked_from_rows(rules, _person_rows(visitor.person_id), visitor.uuid)


def person_state(person_id: int) -> list[dict]:
    """The cacheable state of every browser linked to a person that made a choice: site, id, region, choice."""
    key = person_key(person_id)
    snapshot = cache.read(key)
    rows = snapshot.get(key)
    if rows is None:
        rows = _person_rows(person_id)
        cache.fill(snapshot, key, rows, settings.CMP_LOOKUP_CACHE_SECONDS)
    return rows


def _person_rows(person_id: int) -> list[dict]:
    browsers = Visitor.objects.filter(person_id=person_id, chosen_at__isnull=False).order_by("chosen_at")
    return [{"site": visitor.site_id, "visitor": str(visitor.uuid), **state_of(visitor)} for visitor in browsers]


def linked_from_rows(rules: SiteRules, rows: list[dict], own_uuid=None) -> tuple[decisions.Choice, ...]:
    """The choices in a person's state (:func:`person_state`) as ``rules``' site sees them, but ``own_uuid``'s."""
    own = str(own_uuid)
    return tuple(
        _choice_from_state(row, other_site=row["site"] != rules.id)
        for row in rows if not (row["site"] == rules.id and row["visitor"] == own)
    )


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
        "person": visitor.person_id,
    }


def _visitor_state(rules: SiteRules, visitor_uuid, snapshot: cache.Snapshot | None = None) -> dict:
    key = cache_key(rules.key, visitor_uuid)
    snapshot = snapshot or cache.read(key)
    state = snapshot.get(key)
    if state is None:
        # A slice, not .first(): (site, uuid) is unique, and the ORDER BY that .first() adds costs a miss
        # more to compile than to run.
        visitor = next(iter(Visitor.objects.filter(site_id=rules.id, uuid=visitor_uuid)[:1]), None)
        state = state_of(visitor) if visitor else UNKNOWN
        cache.fill(snapshot, key, state, settings.CMP_LOOKUP_CACHE_SECONDS)
    return state


def _choice_from_state(state: dict, other_site: bool = False) -> decisions.Choice | None:
    chosen_at = parse_datetime(state["chosen_at"]) if state.get("chosen_at") else None
    if chosen_at is None:
        return None
    return decisions.Choice(
        choices=state.get("choices") or {},
        made_at=chosen_at,
        policy_version=state.get("policy_version") or None,
        signals=decisions.Signals.from_mapping(state.get("choice_signals")),
        gpc_conflict_confirmed=state.get("gpc_conflict_confirmed") is True,
        other_site=other_site,
    )


def cache_key(site_key: str, visitor_uuid) -> str:
    # A hash tag ({…}): on a Redis Cluster the entry and its version share a slot (docs/cache.md).
    return f"visitor:{{{site_key}:{visitor_uuid}}}"


def person_key(person_id: int) -> str:
    return f"person:{{{person_id}}}"

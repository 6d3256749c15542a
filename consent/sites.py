"""A site's rules as the hot paths need them, loaded once and cached.

Every write and lookup needs the same few facts about a site (its purposes,
regimes, lifetime, policy versions, allowed origins). :func:`site_rules`
returns them as an immutable :class:`SiteRules`, kept in each process until
an admin changes the site, one of its purposes or policy versions (or
anything another app ties to the site with :func:`retire_on_change`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models.signals import post_delete, post_save

from . import cache, decisions, gpp, regions
from .errors import NotFound
from .models import PolicyVersion, Purpose, Site

CACHE_SECONDS = 3600
SITE_KEY_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


@dataclass(frozen=True)
class Policy:
    version: str
    url: str
    effective_at: datetime
    material: bool


# eq=False: one loaded version of a site's rules is one object, compared by
# identity, so memos may key on it (a change loads a new one).
@dataclass(frozen=True, eq=False)
class SiteRules:
    id: int
    key: str
    purposes: tuple[decisions.Purpose, ...]
    default_regime: str
    regime_overrides: dict
    lifetime_days: int
    honor_dnt: bool
    origins: frozenset[str]
    policies: tuple[Policy, ...]  # in order of effective date
    gpp_settings: gpp.GppSettings = gpp.GppSettings()

    @property
    def purpose_keys(self) -> frozenset[str]:
        return frozenset(p.key for p in self.purposes)

    def regime_for(self, region: str | None) -> str:
        """The regime for a visitor in ``region`` (``US-CA``, or a country alone); unknown → the site's default.

        The site's override for the region, then for its country, then the US
        state's preset, then the default (``consent.regions.regime_for``).
        """
        return regions.regime_for(region, self.regime_overrides, self.default_regime)

    @staticmethod
    def visitor_region(stored: str | None, request_region: str | None) -> str | None:
        """The region the rule uses for a visitor: where its first contact was (``stored``); one never
        seen, or stored before regions were (None), is where this request comes from."""
        return stored if stored is not None else request_region

    def visitor_regime(self, stored: str | None, request_region: str | None) -> str:
        return self.regime_for(self.visitor_region(stored, request_region))

    def gpp(self, region: str | None, outcome: decisions.Outcome, signals: decisions.Signals) -> dict:
        """The ``gpp`` field of an answer: the GPP string of this outcome, in the region the rule used."""
        return gpp.answer(region, outcome, signals, self.gpp_settings)

    def current_policy(self, now: datetime) -> Policy | None:
        in_effect = [p for p in self.policies if p.effective_at <= now]
        return in_effect[-1] if in_effect else None

    def versions_in_force(self, now: datetime) -> frozenset[str] | None:
        """Versions at or after the latest material change in effect (None: no such change)."""
        latest_material = None
        for index, policy in enumerate(self.policies):
            if policy.material and policy.effective_at <= now:
                latest_material = index
        if latest_material is None:
            return None
        return frozenset(p.version for p in self.policies[latest_material:])

    def policy_url(self, version: str | None) -> str:
        return next((p.url for p in self.policies if p.version == version), "")

    def knows_policy(self, version: str) -> bool:
        return any(p.version == version for p in self.policies)

    def material_since(self, now: datetime) -> datetime | None:
        """When the latest material change in effect took effect (None: no such change)."""
        return max((p.effective_at for p in self.policies if p.material and p.effective_at <= now), default=None)

    def context(self, *, now, regime, choice, signals, linked=()) -> decisions.Context:
        """The decision rule's input for one visitor of this site (``linked``: its person's other browsers' choices)."""
        return decisions.Context(
            purposes=self.purposes,
            regime=regime,
            now=now,
            lifetime=timedelta(days=self.lifetime_days),
            choice=choice,
            signals=signals,
            versions_in_force=self.versions_in_force(now),
            material_since=self.material_since(now),
            honor_dnt=self.honor_dnt,
            linked=tuple(linked),
        )


def require_rules(key: str) -> SiteRules:
    """The rules of the site with this key; NotFound (``unknown_site``) if there is none."""
    return rules_and_snapshot(key)[0]


def rules_and_snapshot(key: str, *other_keys: str) -> tuple[SiteRules, cache.Snapshot]:
    """The rules of the site with this key (NotFound if none), and the cache's ``other_keys``, in one round trip.

    A key that cannot be a site's is refused before the cache is asked: no cache key is made of odd input.
    """
    if SITE_KEY_RE.match(key):
        snapshot = cache.read(cache_key(key), *other_keys)
        rules = _rules(key, snapshot)
        if rules is not None:
            return rules, snapshot
    raise NotFound("unknown_site", f"No site with key '{key[:64]}'.")


def site_rules(key: str) -> SiteRules | None:
    """The rules of the site with this key, or None if there is no such site."""
    if not SITE_KEY_RE.match(key):
        return None  # cannot be a site; keeps odd input out of cache keys and queries
    return _rules(key, cache.read(cache_key(key)))


def _rules(key: str, snapshot: cache.Snapshot) -> SiteRules | None:
    """Each process keeps the rules it loaded while the site's token in the
    cache (:func:`cache_key`) stays the same; a change of the site disowns the
    token, so a lookup needs no round trip of its own for the site: ``snapshot``
    fetched :func:`cache_key` with the lookup's other keys."""
    return cache.build(snapshot, cache_key(key), lambda: _load(key), CACHE_SECONDS)


def last_loaded(key: str) -> SiteRules | None:
    """The rules this process last loaded for the site, however old: enough to fail closed."""
    return cache.last_built(cache_key(key)) if SITE_KEY_RE.match(key) else None


def _load(key: str) -> SiteRules | None:
    site = Site.objects.filter(key=key).first()
    if site is None:
        return None
    purposes = Purpose.objects.filter(site=site).order_by("position", "key")
    policies = PolicyVersion.objects.filter(site=site).order_by("effective_at", "id")
    return SiteRules(
        id=site.id,
        key=site.key,
        purposes=tuple(decisions.Purpose(p.key, p.essential, p.sale_or_sharing) for p in purposes),
        default_regime=site.default_regime,
        regime_overrides=dict(site.regime_overrides or {}),
        lifetime_days=site.consent_lifetime_days,
        honor_dnt=site.honor_dnt,
        origins=frozenset(site.allowed_origins or ()),
        policies=tuple(Policy(p.version, p.url, p.effective_at, p.material) for p in policies),
        gpp_settings=site.gpp_settings(),
    )


def cache_key(key: str) -> str:
    return f"site-rules:{{{key}}}"  # a hash tag, as in consent/lookups.py


def forget_site(sender, instance, **kwargs):
    """Retire every process's copy of the rules when a site, or a record tied to it, changes."""
    site = instance if isinstance(instance, Site) else instance.site
    cache.forget([cache_key(site.key)], CACHE_SECONDS)


def retire_on_change(model) -> None:
    """Reload a site's rules whenever a ``model`` row of it (one with a ``site``) is saved or deleted."""
    post_save.connect(forget_site, sender=model, dispatch_uid=f"forget-site-{model.__module__}.{model.__name__}")
    post_delete.connect(forget_site, sender=model, dispatch_uid=f"forget-site-del-{model.__module__}.{model.__name__}")


def connect_invalidation():
    for model in (Site, Purpose, PolicyVersion):
        retire_on_change(model)

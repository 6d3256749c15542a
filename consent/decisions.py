"""The decision rule: may each purpose run for one visitor on one site?

This module is the only place the rule lives. It is pure (no database, no
cache, no clock): callers gather the inputs into a :class:`Context` and call
:func:`decide`. The banner, the APIs, the admin and the tasks all go through
it, so a change to the rule is a change here and in ``tests/unit/test_decisions.py``.

The rule, in order (the README states it too, "The decision rule"):

1. Essential purposes are granted (``essential``).
2. A choice older than the consent lifetime, or made under a policy version
   older than the latest material change, counts as absent (``expired`` /
   ``policy_changed``), and the banner asks again. A choice made on another
   site of the site's group counts only if made after that change.
3. For a browser linked to a person, each purpose takes the most recent
   explicit choice that still counts among the person's browsers
   (:func:`person_choices`); a browser not linked has only its own.
4. An explicit choice decides (``choice``); without one the regime decides
   (``default_opt_in`` denies, ``default_opt_out`` grants).
5. Signals only ever take a grant away, never give one. They are the
   browser's own, never a linked one's:
   GA opt-out add-on → analytics (``ga_optout``); GPC → every purpose the
   site marks as sale or sharing (``gpc``; ``advertising`` and ``recognition``
   by default), unless the visitor granted it while the signal was on *and*
   confirmed the conflict (``Choice.gpc_conflict_confirmed``); DNT acts like
   GPC on sites that honour it (``dnt``); NAI opt-out and mobile
   limit-ad-tracking turn off interest-based ads only (``nai_optout``,
   ``lat``), which shows in Consent Mode's ``ad_personalization``.
6. When the platform cannot decide, :func:`fail_closed` denies every
   non-essential purpose (``unavailable``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

OPT_IN = "opt_in"
OPT_OUT = "opt_out"
REGIMES = (OPT_IN, OPT_OUT)

ESSENTIAL = "essential"
CHOICE = "choice"
DEFAULT_OPT_IN = "default_opt_in"
DEFAULT_OPT_OUT = "default_opt_out"
EXPIRED = "expired"
POLICY_CHANGED = "policy_changed"
GPC = "gpc"
DNT = "dnt"
GA_OPTOUT = "ga_optout"
NAI_OPTOUT = "nai_optout"
LAT = "lat"
UNAVAILABLE = "unavailable"

SIGNAL_NAMES = ("gpc", "ga_optout", "nai_optout", "lat", "dnt")

# Purpose keys the signals act on (the default purposes of every site).
ANALYTICS = "analytics"
ADVERTISING = "advertising"

# Google Consent Mode v2 storage type -> the purpose that grants it.
# ``ad_personalization`` is computed separately: advertising *and* not opted
# out of interest-based ads.
CONSENT_MODE_PURPOSES = {
    "security_storage": "security",
    "functionality_storage": "authentication",
    "analytics_storage": "analytics",
    "ad_storage": "advertising",
    "ad_user_data": "advertising",
    "personalization_storage": "recognition",
}
AD_PERSONALIZATION = "ad_personalization"


@dataclass(frozen=True)
class Purpose:
    key: str
    essential: bool = False
    # "Sale or sharing" (CPRA): an opt-out preference signal (GPC, honoured DNT) denies it.
    sale_or_sharing: bool = False


@dataclass(frozen=True)
class Signals:
    """The opt-out signals seen for a visitor. Each one can only take away."""

    gpc: bool = False  # Global Privacy Control: Sec-GPC, navigator.globalPrivacyControl
    ga_optout: bool = False  # Google's Analytics opt-out add-on, as the banner sees it
    nai_optout: bool = False  # the platform's NAI industry opt-out cookie (banner/nai.py)
    lat: bool = False  # an app's "limit ad tracking", sent by the site's server
    dnt: bool = False  # Do Not Track, counted only where the site honours it

    @classmethod
    def from_mapping(cls, data: Mapping | None) -> Signals:
        data = data or {}
        return cls(**{name: data.get(name) is True for name in SIGNAL_NAMES})

    def as_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in SIGNAL_NAMES}

    def opt_out_preference(self, honor_dnt: bool) -> str | None:
        """The reason an opt-out preference signal denies sale/sharing, if any."""
        if self.gpc:
            return GPC
        if honor_dnt and self.dnt:
            return DNT
        return None


@dataclass(frozen=True)
class Choice:
    """A visitor's latest explicit choice and the circumstances it was made in."""

    choices: Mapping[str, bool]
    made_at: datetime
    policy_version: str | None = None
    signals: Signals = field(default_factory=Signals)
    # The visitor confirmed, in the banner's conflict dialog (or an API client said so
    # explicitly), that its grants override the opt-out preference signal then on.
    gpc_conflict_confirmed: bool = False
    # Made on another site of the group: its policy version is that site's, so only its time
    # can be compared with this site's material changes.
    other_site: bool = False


@dataclass(frozen=True)
class Context:
    """Everything the rule needs to know, gathered by the caller."""

    purposes: tuple[Purpose, ...]
    regime: str
    now: datetime
    lifetime: timedelta
    choice: Choice | None = None
    signals: Signals = field(default_factory=Signals)
    # Policy versions published at or after the latest material change. None
    # means the site never had a material change, so every version counts.
    versions_in_force: frozenset[str] | None = None
    # When the latest material change took effect (None: never), for choices made on other sites.
    material_since: datetime | None = None
    honor_dnt: bool = False
    # The explicit choices of the other browsers linked to the same person (this site's or the
    # group's other sites'); empty for a browser not linked.
    linked: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: str

    def as_dict(self) -> dict:
        return {"granted": self.granted, "reason": self.reason}


@dataclass(frozen=True)
class Outcome:
    """The rule's answer: one decision per purpose, plus interest-based ads."""

    purposes: dict[str, Decision]
    ad_personalization: Decision
    # True when the banner should ask: some optional purpose has no valid choice.
    needs_choice: bool

    def decisions_dict(self) -> dict[str, dict]:
        return {key: decision.as_dict() for key, decision in self.purposes.items()}

    @property
    def consent_mode(self) -> dict[str, str]:
        def state(granted: bool) -> str:
            return "granted" if granted else "denied"

        mode = {
            storage: state(self._granted(purpose))
            for storage, purpose in CONSENT_MODE_PURPOSES.items()
        }
        mode[AD_PERSONALIZATION] = state(self.ad_personalization.granted)
        return dict(sorted(mode.items()))

    def _granted(self, purpose_key: str) -> bool:
        # A purpose the site does not have cannot grant anything: fail closed.
        decision = self.purposes.get(purpose_key)
        return bool(decision and decision.granted)


def decide(ctx: Context) -> Outcome:
    """Apply the rule to one visitor on one site."""
    chosen, stale_reason = person_choices(ctx)
    regime_grants = ctx.regime == OPT_OUT  # anything unknown is treated as opt-in
    absent_reason = stale_reason or (DEFAULT_OPT_OUT if regime_grants else DEFAULT_OPT_IN)

    purposes: dict[str, Decision] = {}
    needs_choice = False
    for purpose in ctx.purposes:
        if purpose.essential:
            purposes[purpose.key] = Decision(True, ESSENTIAL)
            continue
        choice = chosen.get(purpose.key)
        if choice is not None:
            decision = Decision(choice.choices[purpose.key], CHOICE)
        else:
            needs_choice = True
            decision = Decision(regime_grants, absent_reason)
        purposes[purpose.key] = _apply_signals(purpose, decision, choice, ctx)

    return Outcome(
        purposes=purposes,
        ad_personalization=_ad_personalization(purposes.get(ADVERTISING), ctx.signals),
        needs_choice=needs_choice,
    )


def person_choices(ctx: Context) -> tuple[dict[str, Choice], str | None]:
    """Rule steps 2 and 3: the choice that decides each purpose, and why an absent one is absent.

    Among the browser's own choice and its person's other browsers' (``ctx.linked``),
    those that no longer count are dropped; for each purpose the most recent
    explicit choice of the rest wins. The reason returned is that of the most
    recent choice dropped (None when none was), so "asked again" says why.
    """
    counting: list[Choice] = []
    dropped: list[tuple[datetime, str]] = []
    for choice in (ctx.choice, *ctx.linked):
        if choice is None:
            continue
        reason = _stale_choice_reason(choice, ctx)
        if reason:
            dropped.append((choice.made_at, reason))
        else:
            counting.append(choice)
    chosen: dict[str, Choice] = {}
    for choice in sorted(counting, key=lambda c: c.made_at):  # later choices overwrite earlier ones
        chosen.update({key: choice for key, value in choice.choices.items() if isinstance(value, bool)})
    return chosen, max(dropped)[1] if dropped else None


def fail_closed(purposes: tuple[Purpose, ...]) -> Outcome:
    """The answer when the platform cannot decide: only essentials run."""
    denied = Decision(False, UNAVAILABLE)
    return Outcome(
        purposes={p.key: Decision(True, ESSENTIAL) if p.essential else denied for p in purposes},
        ad_personalization=denied,
        needs_choice=True,
    )


def _stale_choice_reason(choice: Choice, ctx: Context) -> str | None:
    """Why a choice no longer counts (rule step 2), if it does not."""
    if choice.other_site:
        if ctx.material_since is not None and choice.made_at < ctx.material_since:
            return POLICY_CHANGED
    elif ctx.versions_in_force is not None and choice.policy_version not in ctx.versions_in_force:
        return POLICY_CHANGED
    if choice.made_at + ctx.lifetime <= ctx.now:
        return EXPIRED
    return None


def _apply_signals(purpose: Purpose, decision: Decision, choice: Choice | None, ctx: Context) -> Decision:
    """Rule step 5: a signal may turn a grant into a denial, never the reverse."""
    if not decision.granted:
        return decision
    if purpose.key == ANALYTICS and ctx.signals.ga_optout:
        return Decision(False, GA_OPTOUT)
    if purpose.sale_or_sharing:
        opt_out = ctx.signals.opt_out_preference(ctx.honor_dnt)
        if opt_out and not _granted_despite_opt_out(choice, ctx):
            return Decision(False, opt_out)
    return decision


def _granted_despite_opt_out(choice: Choice | None, ctx: Context) -> bool:
    """California lets a visitor opt back in while sending GPC, if told of the conflict.

    Only an explicit grant made while the signal was on, with the conflict
    confirmed, counts; a grant made before the signal appeared, or an
    unconfirmed one (an API client's "accept all"), does not override it.
    ``choice`` is the one that granted the purpose, whichever browser made it.
    """
    return (
        choice is not None
        and choice.gpc_conflict_confirmed
        and choice.signals.opt_out_preference(ctx.honor_dnt) is not None
    )


def _ad_personalization(advertising: Decision | None, signals: Signals) -> Decision:
    if advertising is None:
        return Decision(False, UNAVAILABLE)
    if not advertising.granted:
        return advertising
    if signals.nai_optout:
        return Decision(False, NAI_OPTOUT)
    if signals.lat:
        return Decision(False, LAT)
    return advertising

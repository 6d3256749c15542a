"""Recording a visitor's choice: the state change and its audit event, together.

:func:`record_consent` checks the write against the site, proves the caller
owns the visitor id (its token), updates the visitor's current consent and
appends a :class:`~consent.models.ConsentEvent` in one transaction, announces
the change (``signals.decisions_changed``: the webhook outbox writes its rows
in that same transaction) and retires the cached lookup answer (in the
transaction and after its commit).
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import chain, decisions, identity, lookups, rows, sites
from .client import ClientInfo
from .errors import Forbidden, Invalid
from .models import Source, Visitor, hash_token
from .signals import decisions_changed
from .sites import SiteRules


@dataclass(frozen=True)
class ConsentWrite:
    """A validated write, as the API (or any other caller) hands it over."""

    visitor_id: uuid.UUID
    token: str | None = None
    choices: dict | None = None  # None: a signal-only write, earlier choices stand
    signals: dict = field(default_factory=dict)
    policy_version: str | None = None
    banner_version: str = ""
    language: str = ""
    source: str = Source.API
    by_api_key: bool = False  # a server write with the site's API key needs no visitor token
    # The visitor confirmed that the choice's grants override an opt-out preference signal
    # (the banner's conflict dialog); without it GPC keeps every sale-or-sharing purpose denied.
    gpc_conflict_confirmed: bool = False
    # Link the visitor to this person (consent/people.py), or with ``unlink`` take its link away.
    person_id: int | None = None
    unlink: bool = False


@dataclass(frozen=True)
class WriteResult:
    visitor_id: uuid.UUID
    token: str | None  # None for an API-key write to an existing visitor
    regime: str
    policy_version: str | None
    outcome: decisions.Outcome
    signals: decisions.Signals
    logged: bool = True  # False: a signal-only write that changed nothing
    gpp: dict | None = None  # the GPP string of ``outcome`` in the visitor's region (``SiteRules.gpp``)


def rules_for_write(site_key: str, visitor_uuid) -> tuple[SiteRules, bool]:
    """The site's rules (NotFound if none), and whether the visitor is probably stored, in one cache round trip;
    pass both to :func:`record_consent`.

    Probably stored: the cache saw it lately (a write changed it, or a lookup
    found it, within the cache's lifetime). A hint for the order of the
    write's statements, never an answer: the cache may have lost it, and the
    visitor may since have been erased.
    """
    key = lookups.cache_key(site_key, visitor_uuid)
    rules, snapshot = sites.rules_and_snapshot(site_key, key)
    return rules, snapshot.changed_lately(key) or snapshot.get(key) not in (None, lookups.UNKNOWN)


def record_consent(rules: SiteRules, write: ConsentWrite, client: ClientInfo, now=None, *,
                   probably_stored=False) -> WriteResult:
    """Record ``write``; ``probably_stored`` (:func:`rules_for_write`) only chooses which statement comes first."""
    now = now or timezone.now()
    _check_against_site(rules, write, now)
    try:
        return _record(rules, write, client, now, probably_stored)
    except IntegrityError:
        # The visitor's row was there for our insert, then purged before our
        # lock: start again, as the first write it now is.
        return _record(rules, write, client, now, probably_stored=False)


def _record(rules, write, client, now, probably_stored) -> WriteResult:
    """One transaction: the visitor's new state, its audit event, and the cache marks.

    A browser's write is most often its visitor's first (the banner writes
    again only when the visitor changes their mind), so it tries to create
    the visitor straight away, unless the cache saw the visitor lately; a
    server's write (API key) mostly changes a visitor it knows, so it locks
    the row first. When the insert finds the visitor already there (an
    earlier write, or a racing first write that just committed), the write
    goes on as a later write on the locked row and must prove ownership like
    any other; when the lock finds no row, a self-certifying id goes on as a
    first write.
    """
    _check_certified(write)
    regime = rules.regime_for(client.region)
    self_certifying = identity.is_self_certifying(write.visitor_id)
    with transaction.atomic():
        visitor = None
        people = {write.person_id}  # whose shared choices this write may change
        if write.by_api_key or not self_certifying or probably_stored:
            visitor = _locked_visitor(rules, write)
            if visitor is None and not write.by_api_key and not self_certifying:
                # An id no token certifies (a random UUID of before): only its stored visitor counts.
                raise _uncertified(write)
        result = None if visitor else _first_write(rules, write, client, regime, now)
        if result is None:
            visitor = visitor or _locked_visitor(rules, write)
            if visitor is None:  # purged between our insert and our lock: record_consent starts again
                raise IntegrityError(f"visitor {write.visitor_id} was there for the insert, not for the lock")
            people.add(visitor.person_id)
            result = _later_write(rules, visitor, write, client, now)
        lookups.forget_visitors(rules.key, write.visitor_id)
        lookups.forget_people(*people)
    return result


def _check_certified(write) -> None:
    """A self-certifying id's write must carry the token it is derived from, first write included.

    Checked before any query: a stranger who knows only the id is refused
    without touching the visitor's row.
    """
    if not identity.is_self_certifying(write.visitor_id) or (write.by_api_key and not write.token):
        return
    if not write.token:
        raise Forbidden("token_required", "Send the token this visitor id is derived from (README, Public contracts).")
    if not identity.certifies(write.token, write.visitor_id):
        raise Forbidden("bad_token", "The token does not belong to this visitor.")


def _uncertified(write) -> Forbidden:
    if not write.token:
        return Forbidden("token_required", "No visitor has this id, and only an id derived from its token can start "
                         "one: make a token and derive the id from it (README, Public contracts).")
    return Forbidden("bad_token", "No visitor has this id, and the token does not certify it: derive the id from "
                     "the token (README, Public contracts).")


def _locked_visitor(rules, write) -> Visitor | None:
    return rows.locked_row(Visitor, site_id=rules.id, uuid=write.visitor_id)


def _first_write(rules, write, client, regime, now) -> WriteResult | None:
    """Create the visitor with the first event of its chain; None if the visitor exists.

    The row and the event are inserted together, the row with ``ON CONFLICT
    DO NOTHING`` (``chain.append_event``): a racing first write for the same
    visitor is waited for, and then this write finds the row taken.
    """
    # A site's server (API key) may start a self-certifying visitor without its token; the token
    # stays the browser's, and the id alone proves it later. Any other id gets a token made here.
    token = write.token or (None if identity.is_self_certifying(write.visitor_id) else secrets.token_urlsafe(32))
    visitor = Visitor(site_id=rules.id, uuid=write.visitor_id, token_hash=hash_token(token) if token else "",
                      created_at=now, region=client.region or "")  # first contact: the visitor's region for good
    before, signals, source, outcome = _change(rules, visitor, write, client, regime, now)
    gpp = rules.gpp(visitor.region, outcome, signals)
    if _log_event(rules, visitor, write, source or write.source, signals, outcome, regime, client, now, gpp) is None:
        return None
    _announce(rules, write.visitor_id, before, outcome, visitor.policy_version, now, gpp)
    return _result(rules, write, token, regime, outcome, signals, now, gpp)


def _later_write(rules, visitor, write, client, now) -> WriteResult:
    """Change an existing visitor, whose row the caller has locked (which orders its chain)."""
    token = None if write.by_api_key else _proven_token(visitor, write.token)
    region = rules.visitor_region(visitor.region, client.region)
    regime = rules.regime_for(region)
    before, signals, source, outcome = _change(rules, visitor, write, client, regime, now)
    gpp = rules.gpp(region, outcome, signals)
    _announce(rules, write.visitor_id, before, outcome, visitor.policy_version, now, gpp)
    if source is None:
        # A signal-only write that changes nothing: no event, only "last seen".
        Visitor.objects.filter(pk=visitor.pk).update(gpc_last_seen=visitor.gpc_last_seen)
    else:
        _log_event(rules, visitor, write, source, signals, outcome, regime, client, now, gpp)  # saves the visitor too
    return _result(rules, write, token, regime, outcome, signals, now, gpp, logged=source is not None)


def _announce(rules, visitor_uuid, before, after, policy_version, now, gpp) -> None:
    """Tell the apps above (the webhook outbox) inside the change's transaction."""
    decisions_changed.send(sender=Visitor, rules=rules, visitor_uuid=visitor_uuid, before=before, after=after,
                           policy_version=policy_version, at=now, gpp=gpp)


def _change(rules, visitor, write, client, regime, now):
    """Apply ``write`` to ``visitor`` (not saved): (decisions before, signals, event source, decisions after)."""
    previous = decisions.Signals.from_mapping(visitor.signals)
    before = decisions.decide(rules.context(now=now, regime=regime, choice=visitor.choice(), signals=previous,
                                            linked=lookups.linked_choices(rules, visitor)))
    signals = merge_signals(previous, write, client.header_signals)
    source = _event_source(write, visitor, previous, signals)
    _apply(visitor, write, signals, rules, now)
    outcome = decisions.decide(rules.context(now=now, regime=regime, choice=visitor.choice(), signals=signals,
                                             linked=lookups.linked_choices(rules, visitor)))
    return before, signals, source, outcome


def _result(rules, write, token, regime, outcome, signals, now, gpp, logged=True) -> WriteResult:
    policy = rules.current_policy(now)
    return WriteResult(write.visitor_id, token, regime, policy.version if policy else None, outcome, signals, logged,
                       gpp)


def _log_event(rules, visitor, write, source, signals, outcome, regime, client, now, gpp):
    return log_event(
        rules, visitor, source=source, choices=write.choices or {}, signals=signals, outcome=outcome,
        regime=regime, now=now, banner_version=write.banner_version, language=write.language,
        region=client.region or "", ip_prefix=client.ip_prefix, user_agent=client.user_agent,
        gpc_conflict_confirmed=write.choices is not None and write.gpc_conflict_confirmed, gpp=gpp,
    )


def log_event(rules, visitor, *, source, choices, signals, outcome, regime, now, banner_version="", language="",
              region="", ip_prefix="", user_agent="", gpc_conflict_confirmed=False, gpp=None):
    """Append one event to the audit log (the only place events are made), saving ``visitor`` with it; returns it.

    A ``visitor`` not saved yet is inserted with it, unless its row exists
    by then: None (see ``chain.append_event``).
    """
    return chain.append_event(
        site_id=rules.id,
        site_key=rules.key,
        visitor=visitor,
        source=source,
        choices=choices,
        signals=signals.as_dict(),
        decisions=outcome.decisions_dict(),
        consent_mode=outcome.consent_mode,
        regime=regime,
        policy_version=visitor.policy_version,
        policy_url=rules.policy_url(visitor.policy_version),
        banner_version=banner_version,
        language=language,
        region=region,
        ip_prefix=ip_prefix,
        user_agent=user_agent,
        gpc_conflict_confirmed=gpc_conflict_confirmed,
        gpp=gpp,
        created_at=now,
    )


def merge_signals(previous: decisions.Signals, write: ConsentWrite, request_signals: dict) -> decisions.Signals:
    """The signals in force after this write.

    Signals the write names replace the previous ones; those sent by the
    browser itself (``Sec-GPC``, ``DNT``, the NAI opt-out cookie) add to them.
    GPC is sticky: once seen, a later request without it is not consent to
    opt back in (CCPA regulations §7025(c)(5)); only an explicit grant made
    while it is on, with the conflict confirmed, overrides it (decisions.py, step 4). Limit-ad-tracking is
    reported by apps and servers with the site's API key, so a browser write
    cannot change it.
    """
    named = dict(write.signals)
    if not write.by_api_key:
        named.pop("lat", None)
    merged = {**previous.as_dict(), **named, **request_signals}
    merged["gpc"] = previous.gpc or merged["gpc"]
    return decisions.Signals.from_mapping(merged)


# The event source recorded when a signal arrives on its own (no choice).
SIGNAL_SOURCES = {"gpc": Source.GPC, "nai_optout": Source.NAI, "ga_optout": Source.GA_OPTOUT, "lat": Source.LAT, "dnt": Source.DNT}


def _event_source(write, visitor, previous: decisions.Signals, signals: decisions.Signals) -> str | None:
    """Which event this write logs: every choice is logged; a link or unlink when it changes the
    visitor's person; a signal-only write only when a signal changed (once per change, not once per request)."""
    if write.choices is not None:
        return write.source
    if write.unlink and visitor.person_id is not None:
        return Source.UNLINK
    if write.person_id is not None and write.person_id != visitor.person_id:
        return Source.LINK
    before, after = previous.as_dict(), signals.as_dict()
    changed = [name for name in decisions.SIGNAL_NAMES if before[name] != after[name]]
    return SIGNAL_SOURCES[changed[0]] if changed else None


def _proven_token(visitor: Visitor, token: str | None) -> str:
    if not token:
        raise Forbidden("token_required", "This visitor already exists; send the token returned by its first write.")
    if not visitor.holds_token(token):
        raise Forbidden("bad_token", "The token does not belong to this visitor.")
    return token


def _apply(visitor: Visitor, write: ConsentWrite, signals: decisions.Signals, rules: SiteRules, now) -> None:
    """Make the write the visitor's current consent."""
    visitor.signals = signals.as_dict()
    visitor.updated_at = now
    if signals.gpc:
        visitor.gpc_first_seen = visitor.gpc_first_seen or now
        visitor.gpc_last_seen = now
    if write.banner_version:
        visitor.banner_version = write.banner_version
    if write.language:
        visitor.language = write.language
    if write.unlink:
        visitor.person_id = None
    elif write.person_id is not None:
        visitor.person_id = write.person_id
    if write.choices is None:
        return
    essentials = {p.key for p in rules.purposes if p.essential}
    visitor.choices = {key: value for key, value in write.choices.items() if key not in essentials}
    visitor.chosen_at = now
    visitor.choice_signals = signals.as_dict()
    visitor.gpc_conflict_confirmed = write.gpc_conflict_confirmed
    visitor.policy_version = write.policy_version or rules.current_policy(now).version  # one exists: checked first


def _check_against_site(rules: SiteRules, write: ConsentWrite, now) -> None:
    """Reject writes naming purposes or policies the site does not have, and choices no policy covers."""
    known = rules.purpose_keys
    for key, granted in (write.choices or {}).items():
        if key not in known:
            raise Invalid("unknown_purpose", f"Site '{rules.key}' has no purpose '{key}'. Known: {', '.join(sorted(known))}.")
        if not granted and any(p.key == key and p.essential for p in rules.purposes):
            raise Invalid("essential_purpose", f"Purpose '{key}' is essential and cannot be refused.")
    if write.signals.get("lat") and not write.by_api_key:
        raise Forbidden("api_key_required", "signals.lat is reported by apps and servers with the site's API key (Authorization: Bearer cmp_…).")
    if write.policy_version and not rules.knows_policy(write.policy_version):
        raise Invalid("unknown_policy_version", f"Site '{rules.key}' has no policy version '{write.policy_version}'.")
    if write.choices is not None and not write.policy_version and rules.current_policy(now) is None:
        # A choice without a version would stand on the server but not in the banner, which
        # keeps a choice only while its version is in force: refuse it rather than disagree.
        raise Invalid("no_policy_version", f"Site '{rules.key}' has no policy version in force, so no choice can be "
                      "recorded yet: publish one in the admin under Policy versions.")

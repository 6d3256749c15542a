"""Consent over time: a choice older than its site's consent lifetime expires.

The rule already treats such a choice as absent the moment it is too old
(decisions.py, step 2); this daily task (consent/tasks.py) also logs the
expiry in the audit log, once per choice, and announces it. It works in
small batches, each in its own short transaction, so the table is never
locked for long and an interrupted run simply continues next time.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import decisions, lookups
from .models import ConsentEvent, Site, Source, Visitor
from .signals import decisions_changed
from .sites import site_rules
from .writes import log_event

BATCH = 500


def expire_choices(now=None, batch=BATCH) -> int:
    """Log an ``expired`` event for each choice that outlived its site's consent lifetime."""
    now = now or timezone.now()
    logged = 0
    for site in Site.objects.all():
        rules = site_rules(site.key)
        cutoff = now - timedelta(days=rules.lifetime_days)
        while True:
            done = _expire_batch(rules, cutoff, now, batch)
            logged += done
            if done < batch:
                break
    return logged


def _expire_batch(rules, cutoff, now, batch) -> int:
    with transaction.atomic():
        pending = list(
            Visitor.objects.select_for_update(skip_locked=True)
            .filter(site_id=rules.id, chosen_at__lte=cutoff)
            .filter(Q(expiry_logged_for__isnull=True) | ~Q(expiry_logged_for=F("chosen_at")))
            .order_by("chosen_at")[:batch]
        )
        for visitor in pending:
            _log_expiry(rules, visitor, now)
        lookups.forget_visitors(rules.key, *(visitor.uuid for visitor in pending))
        return len(pending)


def _log_expiry(rules, visitor, now) -> None:
    last = ConsentEvent.objects.filter(visitor=visitor).order_by("-id").values("regime", "region").first() or {}
    regime = last.get("regime") or rules.default_regime
    signals = decisions.Signals.from_mapping(visitor.signals)
    choice = visitor.choice()
    before = decisions.decide(rules.context(now=choice.made_at, regime=regime, choice=choice, signals=signals))
    after = decisions.decide(rules.context(now=now, regime=regime, choice=choice, signals=signals))
    # The GPP string in the region the rule uses for this visitor (its first contact), as a lookup would.
    gpp = rules.gpp(rules.visitor_region(visitor.region, last.get("region") or None), after, signals)
    visitor.expiry_logged_for = visitor.chosen_at
    log_event(rules, visitor, source=Source.EXPIRY, choices={}, signals=signals, outcome=after, regime=regime,
              now=now, region=last.get("region") or "", gpp=gpp)  # saves the visitor too
    decisions_changed.send(sender=Visitor, rules=rules, visitor_uuid=visitor.uuid, before=before, after=after,
                           policy_version=visitor.policy_version, at=now, gpp=gpp)

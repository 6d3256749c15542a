"""The examples in the OpenAPI schema, made by the decision rule itself so they cannot drift from it."""
from datetime import UTC, datetime, timedelta

from consent import decisions, gpp, identity
from consent.defaults import DEFAULT_PURPOSES
from consent.models import EXAMPLE_VISITOR

from .lookup import decision_fields

NO_SIGNALS = decisions.Signals().as_dict()
_PURPOSES = tuple(decisions.Purpose(p["key"], p["essential"], p.get("sale_or_sharing", False)) for p in DEFAULT_PURPOSES)
_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _outcome(choices: dict | None) -> decisions.Outcome:
    choice = decisions.Choice(choices=choices, made_at=_NOW) if choices else None
    return decisions.decide(decisions.Context(purposes=_PURPOSES, regime=decisions.OPT_IN, now=_NOW,
                                              lifetime=timedelta(days=365), choice=choice))


def _decided(choices: dict | None) -> dict:
    return decision_fields(_outcome(choices))


def _gpp(choices: dict | None) -> dict:
    """A visitor in France: no US section applies."""
    return gpp.encode("FR", _outcome(choices), decisions.Signals(), gpp.GppSettings()).as_answer()


# A token as the banner makes one, and the visitor id derived from it (consent/identity.py).
EXAMPLE_TOKEN = "q2Yl0c6n6c1bZ3k3r0-8cE7bGd2xJm0w9qT7sV4uYhA"
EXAMPLE_CERTIFIED_VISITOR = str(identity.certified_id(EXAMPLE_TOKEN))

WRITE_BODY = {
    "visitor_id": EXAMPLE_CERTIFIED_VISITOR,
    "token": EXAMPLE_TOKEN,
    "choices": {"analytics": True, "advertising": False, "recognition": False},
    "signals": NO_SIGNALS,
    "policy_version": "3",
    "banner_version": "1.0.0",
    "language": "fr",
}
WRITE_ANSWER = {
    "visitor_id": EXAMPLE_CERTIFIED_VISITOR,
    "token": EXAMPLE_TOKEN,
    "regime": decisions.OPT_IN,
    "policy_version": "3",
    **_decided(WRITE_BODY["choices"]),
    "signals": NO_SIGNALS,
    "gpp": _gpp(WRITE_BODY["choices"]),
}
LOOKUP_ANSWER = {
    "site": "demo",
    "visitor_id": EXAMPLE_VISITOR,
    "regime": decisions.OPT_IN,
    "policy_version": "3",
    **_decided(None),
    "signals": NO_SIGNALS,
    "needs_choice": True,
    "gpp": _gpp(None),
}

"""The consent lookup, the platform's hot path: a plain Django view.

Tags call it before firing, on every page view of every site, so it does only
what the answer needs: one round trip to the cache for the site's rules
version and the visitor's state together (consent/lookups.py), the decision
rule, and a JSON body. It skips REST framework's negotiation, authentication
and throttling (the lookup has none of those) and the session, auth and
message middleware (``cmp/fastpath.py``). The OpenAPI operation is
documented on :class:`api.views.DecisionLookupView`, which routes here.

When storage fails it fails closed: a 503 that still carries every decision,
with each optional purpose denied (reason ``unavailable``).
"""
import json
import logging

from django.db import DatabaseError
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from consent import client, decisions, lookups
from consent.errors import DomainError, Invalid, NotFound
from consent.models import parse_visitor_id
from consent.sites import last_loaded, require_rules

from .errors import error_body, error_response

logger = logging.getLogger(__name__)
UNAVAILABLE = "Consent storage is unavailable; every optional purpose is denied. Retry later."


def lookup_decisions(request, site_key: str, visitor_id: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _json(error_body("method_not_allowed", f'Method "{request.method}" not allowed; use GET.'), 405,
                     Allow="GET, HEAD, OPTIONS")
    try:
        body = _answer(request, site_key, visitor_id)
    except DomainError as refused:
        response = error_response(refused)
        response["Cache-Control"] = "no-store"
        return response
    except DatabaseError:
        logger.exception("Storage unavailable on lookup")
        return _vary(_fail_closed(request, last_loaded(site_key), visitor_id))
    return _vary(_json(body, 200))


def _vary(response: HttpResponse) -> HttpResponse:
    """The answer depends on the region headers (an unknown visitor's regime and GPP sections) and on
    the request's own opt-out signals: a cache that kept it anyway (it is ``no-store``) must key on them."""
    patch_vary_headers(response, [*client.region_headers(), "Sec-GPC"])
    return response


def _answer(request, site_key: str, visitor_id: str) -> dict:
    try:
        visitor_uuid = parse_visitor_id(visitor_id)
    except Invalid:
        require_rules(site_key)  # an unknown site is the first thing wrong
        raise
    rules, state = lookups.rules_and_state(site_key, visitor_uuid)
    request.site_rules = rules  # for the CORS check (api/cors.py): no second cache read
    purpose = request.GET.get("purpose")
    if purpose is not None and purpose not in rules.purpose_keys:
        raise NotFound("unknown_purpose", f"Site '{site_key}' has no purpose '{purpose[:64]}'.")
    result = lookups.lookup(rules, visitor_uuid, region=client.region(request),
                            header_signals=client.header_signals(request), state=state)
    body = {
        "site": rules.key,
        "visitor_id": str(visitor_uuid),
        "regime": result.regime,
        "policy_version": result.policy_version,
        **decision_fields(result.outcome),
        "signals": result.signals.as_dict(),
        "needs_choice": result.outcome.needs_choice,
        "gpp": result.gpp,
    }
    if purpose is not None:
        body.update(purpose=purpose, **result.outcome.purposes[purpose].as_dict())
    return body


def decision_fields(outcome: decisions.Outcome) -> dict:
    return {
        "decisions": outcome.decisions_dict(),
        "ad_personalization": outcome.ad_personalization.as_dict(),
        "consent_mode": outcome.consent_mode,
    }


def _fail_closed(request, rules, visitor_id: str) -> HttpResponse:
    """A 503 that tags can still act on: essentials only, when the purposes are known.

    Its GPP string says the same (every opt-out on), in the request's region
    with the request's own GPC: the visitor's stored region is unreadable.
    """
    body = error_body("unavailable", UNAVAILABLE)
    if rules is not None:
        outcome = decisions.fail_closed(rules.purposes)
        signals = decisions.Signals()
        body.update(site=rules.key, visitor_id=visitor_id[:64], regime=rules.default_regime, policy_version=None,
                    **decision_fields(outcome), signals=signals.as_dict(), needs_choice=True,
                    gpp=rules.gpp(client.region(request), outcome,
                                  decisions.Signals.from_mapping(client.header_signals(request))))
    return _json(body, 503, **{"Retry-After": "5"})


def _json(body: dict, status: int, **headers) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", **headers},
    )

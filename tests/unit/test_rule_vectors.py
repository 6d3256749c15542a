"""One file of rule cases, answered alike by the server's rule and the banner's.

tests/unit/rule_vectors.json drives ``consent.decisions.decide`` here and the
banner's banner_static/src/rule.js under ``node --test``
(banner_static/test/rule.test.js), which this module also runs: the two copies
of the rule cannot drift apart unnoticed.
"""
import json
from datetime import UTC, datetime, timedelta

import pytest

from consent import decisions as d
from tests.support import ROOT, banner_node_test

VECTORS_FILE = ROOT / "tests" / "unit" / "rule_vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text())
NOW = datetime.fromtimestamp(VECTORS["now"], UTC)
REASONS = {d.ESSENTIAL, d.CHOICE, d.DEFAULT_OPT_IN, d.DEFAULT_OPT_OUT, d.EXPIRED, d.POLICY_CHANGED, d.GPC, d.DNT,
           d.GA_OPTOUT, d.NAI_OPTOUT, d.LAT, d.UNAVAILABLE}


def case(vector: dict) -> dict:
    return {**VECTORS["defaults"], **vector}


def context(v: dict) -> d.Context:
    choice = v["choice"]
    return d.Context(
        purposes=tuple(d.Purpose(p["key"], p["essential"], p.get("sale_or_sharing", False)) for p in v["purposes"]),
        regime=v["regime"],
        now=NOW,
        lifetime=timedelta(days=v["lifetime_days"]),
        choice=choice and d.Choice(
            choice["choices"], NOW - timedelta(seconds=choice["age"]), choice["policy_version"],
            d.Signals.from_mapping(choice.get("signals")), choice.get("gpc_conflict_confirmed", False),
        ),
        signals=d.Signals.from_mapping(v["signals"]),
        versions_in_force=None if v["versions_in_force"] is None else frozenset(v["versions_in_force"]),
        honor_dnt=v["honor_dnt"],
    )


def written(decision: d.Decision) -> str:
    return f"{'granted' if decision.granted else 'denied'} {decision.reason}"


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_the_server_rule_answers_each_vector(vector):
    v = case(vector)
    outcome = d.decide(context(v))
    answered = {key: written(decision) for key, decision in outcome.purposes.items()}
    answered["ad_personalization"] = written(outcome.ad_personalization)
    answered["needs_choice"] = outcome.needs_choice
    answered["consent_mode"] = outcome.consent_mode
    assert {key: answered.get(key) for key in v["expect"]} == v["expect"]


def test_the_vectors_reach_every_reason_and_every_signal():
    expectations = [value for v in VECTORS["vectors"] for value in v["expect"].values() if isinstance(value, str)]
    assert {e.split(" ", 1)[1] for e in expectations} == REASONS
    signals_on = {name for v in VECTORS["vectors"] for name, on in case(v)["signals"].items() if on}
    assert signals_on == set(d.SIGNAL_NAMES)
    assert {case(v)["regime"] for v in VECTORS["vectors"]} >= set(d.REGIMES)


def test_the_banner_rule_answers_each_vector():
    output = banner_node_test("rule.test.js", "tests/unit/rule_vectors.json")
    # Every vector ran as its own node test, none skipped.
    assert f"# pass {len(VECTORS['vectors'])}\n" in output, output

"""The decision rule, step by step (README, "The decision rule").

Each step has cases that fail if that step is removed or changed; the big
table crosses every regime, choice and signal.
"""
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from consent import decisions as d

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(days=365)
PURPOSES = (
    d.Purpose("authentication", essential=True),
    d.Purpose("security", essential=True),
    d.Purpose("analytics"),
    d.Purpose("advertising", sale_or_sharing=True),
    d.Purpose("recognition", sale_or_sharing=True),
)
OPTIONAL = ("analytics", "advertising", "recognition")
SALE_OR_SHARING = ("advertising", "recognition")


def ctx(regime=d.OPT_IN, choices=None, made_at=NOW - timedelta(days=1), version="3", choice_signals=None,
        signals=None, in_force=None, honor_dnt=False, confirmed=False, purposes=PURPOSES):
    choice = None
    if choices is not None:
        choice = d.Choice(choices, made_at, version, d.Signals(**(choice_signals or {})), confirmed)
    return d.Context(
        purposes=purposes, regime=regime, now=NOW, lifetime=LIFETIME, choice=choice,
        signals=d.Signals(**(signals or {})), versions_in_force=in_force, honor_dnt=honor_dnt,
    )


def decision(context, key):
    return d.decide(context).purposes[key]


ALL_YES = {k: True for k in OPTIONAL}
ALL_NO = {k: False for k in OPTIONAL}


# --- Step 1: essential purposes are granted ------------------------------------

@pytest.mark.parametrize("regime", d.REGIMES)
@pytest.mark.parametrize("key", ["authentication", "security"])
def test_essential_granted_even_against_refusal_and_every_signal(regime, key):
    every_signal = {name: True for name in d.SIGNAL_NAMES}
    context = ctx(regime, choices={key: False, **ALL_NO}, signals=every_signal, honor_dnt=True)
    assert decision(context, key) == d.Decision(True, d.ESSENTIAL)


def test_essential_granted_when_choice_is_stale():
    context = ctx(choices=ALL_NO, made_at=NOW - LIFETIME * 2)
    assert decision(context, "security") == d.Decision(True, d.ESSENTIAL)


# --- Step 2: stale choices count as absent ---------------------------------------

@pytest.mark.parametrize("regime, granted", [(d.OPT_IN, False), (d.OPT_OUT, True)])
def test_choice_older_than_lifetime_is_absent(regime, granted):
    choices = ALL_NO if regime == d.OPT_OUT else ALL_YES  # the opposite of the default
    context = ctx(regime, choices=choices, made_at=NOW - LIFETIME)
    outcome = d.decide(context)
    for key in OPTIONAL:
        assert outcome.purposes[key] == d.Decision(granted, d.EXPIRED)
    assert outcome.needs_choice


def test_choice_just_inside_lifetime_still_counts():
    context = ctx(choices=ALL_YES, made_at=NOW - LIFETIME + timedelta(seconds=1))
    assert decision(context, "analytics") == d.Decision(True, d.CHOICE)
    assert not d.decide(context).needs_choice


@pytest.mark.parametrize("regime, granted", [(d.OPT_IN, False), (d.OPT_OUT, True)])
def test_choice_under_policy_before_material_change_is_absent(regime, granted):
    choices = ALL_NO if regime == d.OPT_OUT else ALL_YES
    context = ctx(regime, choices=choices, version="2", in_force=frozenset({"3", "4"}))
    outcome = d.decide(context)
    for key in OPTIONAL:
        assert outcome.purposes[key] == d.Decision(granted, d.POLICY_CHANGED)
    assert outcome.needs_choice


def test_choice_under_version_in_force_counts():
    context = ctx(choices=ALL_YES, version="3", in_force=frozenset({"3", "4"}))
    assert decision(context, "advertising") == d.Decision(True, d.CHOICE)


def test_without_material_change_any_version_counts():
    context = ctx(choices=ALL_YES, version="1", in_force=None)
    assert decision(context, "advertising") == d.Decision(True, d.CHOICE)


def test_policy_change_takes_precedence_over_expiry_as_the_reason():
    context = ctx(choices=ALL_YES, version="1", made_at=NOW - LIFETIME * 2, in_force=frozenset({"3"}))
    assert decision(context, "analytics").reason == d.POLICY_CHANGED


# --- Step 3: an explicit choice decides, else the regime -----------------------

@pytest.mark.parametrize("regime", d.REGIMES)
@pytest.mark.parametrize("value", [True, False])
def test_explicit_choice_decides_in_every_regime(regime, value):
    context = ctx(regime, choices={k: value for k in OPTIONAL})
    for key in OPTIONAL:
        assert decision(context, key) == d.Decision(value, d.CHOICE)


@pytest.mark.parametrize("regime, expected", [
    (d.OPT_IN, d.Decision(False, d.DEFAULT_OPT_IN)),
    (d.OPT_OUT, d.Decision(True, d.DEFAULT_OPT_OUT)),
])
def test_without_choice_the_regime_decides(regime, expected):
    outcome = d.decide(ctx(regime))
    for key in OPTIONAL:
        assert outcome.purposes[key] == expected
    assert outcome.needs_choice


def test_purpose_missing_from_choice_gets_default_and_asks_again():
    outcome = d.decide(ctx(d.OPT_IN, choices={"analytics": True, "advertising": False}))
    assert outcome.purposes["analytics"] == d.Decision(True, d.CHOICE)
    assert outcome.purposes["recognition"] == d.Decision(False, d.DEFAULT_OPT_IN)
    assert outcome.needs_choice


def test_complete_choice_needs_no_banner():
    assert not d.decide(ctx(choices=ALL_NO)).needs_choice


def test_non_boolean_choice_value_counts_as_absent():
    outcome = d.decide(ctx(d.OPT_IN, choices={"analytics": "yes", "advertising": 1, "recognition": None}))
    for key in OPTIONAL:
        assert outcome.purposes[key] == d.Decision(False, d.DEFAULT_OPT_IN)


def test_unknown_regime_is_treated_as_the_strictest():
    assert decision(ctx("nonsense"), "analytics") == d.Decision(False, d.DEFAULT_OPT_IN)


# --- Step 4: signals only take away ----------------------------------------------

def test_ga_optout_denies_analytics_only():
    outcome = d.decide(ctx(choices=ALL_YES, signals={"ga_optout": True}))
    assert outcome.purposes["analytics"] == d.Decision(False, d.GA_OPTOUT)
    assert outcome.purposes["advertising"] == d.Decision(True, d.CHOICE)
    assert outcome.purposes["recognition"] == d.Decision(True, d.CHOICE)


def test_gpc_denies_the_purposes_marked_sale_or_sharing_only():
    outcome = d.decide(ctx(d.OPT_OUT, signals={"gpc": True}))
    assert outcome.purposes["advertising"] == d.Decision(False, d.GPC)
    assert outcome.purposes["recognition"] == d.Decision(False, d.GPC)
    assert outcome.purposes["analytics"] == d.Decision(True, d.DEFAULT_OPT_OUT)
    assert outcome.consent_mode["ad_storage"] == "denied"


def test_which_purposes_gpc_denies_is_each_purpose_s_setting():
    purposes = (d.Purpose("analytics", sale_or_sharing=True), d.Purpose("advertising"), d.Purpose("recognition"))
    outcome = d.decide(ctx(d.OPT_OUT, signals={"gpc": True}, purposes=purposes))
    assert outcome.purposes["analytics"] == d.Decision(False, d.GPC)
    assert outcome.purposes["advertising"] == d.Decision(True, d.DEFAULT_OPT_OUT)


def test_gpc_overrides_a_grant_made_before_the_signal():
    context = ctx(choices=ALL_YES, choice_signals={"gpc": False}, signals={"gpc": True})
    assert decision(context, "advertising") == d.Decision(False, d.GPC)


def test_explicit_grant_made_while_gpc_was_on_stands_when_the_conflict_was_confirmed():
    context = ctx(choices=ALL_YES, choice_signals={"gpc": True}, signals={"gpc": True}, confirmed=True)
    for key in SALE_OR_SHARING:
        assert decision(context, key) == d.Decision(True, d.CHOICE)


def test_grant_made_while_gpc_was_on_without_the_confirmation_is_denied():
    # An API client's "accept all" sent with Sec-GPC: 1.
    context = ctx(choices=ALL_YES, choice_signals={"gpc": True}, signals={"gpc": True})
    for key in SALE_OR_SHARING:
        assert decision(context, key) == d.Decision(False, d.GPC)
    assert decision(context, "analytics") == d.Decision(True, d.CHOICE)


def test_a_confirmation_without_the_signal_at_choice_time_rescues_nothing():
    context = ctx(choices=ALL_YES, choice_signals={"gpc": False}, signals={"gpc": True}, confirmed=True)
    assert decision(context, "advertising") == d.Decision(False, d.GPC)


def test_gpc_at_choice_time_does_not_rescue_a_default_grant():
    # Opt-out regime, choice covers only analytics: advertising is a default
    # grant, not an explicit one, so GPC still denies it.
    context = ctx(d.OPT_OUT, choices={"analytics": True}, choice_signals={"gpc": True}, signals={"gpc": True},
                  confirmed=True)
    assert decision(context, "advertising") == d.Decision(False, d.GPC)


def test_dnt_ignored_unless_site_honours_it():
    assert decision(ctx(d.OPT_OUT, signals={"dnt": True}), "advertising") == d.Decision(True, d.DEFAULT_OPT_OUT)
    honoured = ctx(d.OPT_OUT, signals={"dnt": True}, honor_dnt=True)
    assert decision(honoured, "advertising") == d.Decision(False, d.DNT)


def test_explicit_grant_under_honoured_dnt_stands():
    context = ctx(choices=ALL_YES, choice_signals={"dnt": True}, signals={"dnt": True}, honor_dnt=True, confirmed=True)
    assert decision(context, "advertising") == d.Decision(True, d.CHOICE)
    unconfirmed = ctx(choices=ALL_YES, choice_signals={"dnt": True}, signals={"dnt": True}, honor_dnt=True)
    assert decision(unconfirmed, "advertising") == d.Decision(False, d.DNT)


def test_gpc_named_before_dnt_when_both_are_on():
    context = ctx(d.OPT_OUT, signals={"dnt": True, "gpc": True}, honor_dnt=True)
    assert decision(context, "advertising").reason == d.GPC


@pytest.mark.parametrize("signal, reason", [("nai_optout", d.NAI_OPTOUT), ("lat", d.LAT)])
def test_interest_based_ads_off_but_advertising_stays(signal, reason):
    outcome = d.decide(ctx(choices=ALL_YES, signals={signal: True}))
    assert outcome.purposes["advertising"] == d.Decision(True, d.CHOICE)
    assert outcome.ad_personalization == d.Decision(False, reason)
    assert outcome.consent_mode["ad_storage"] == "granted"
    assert outcome.consent_mode["ad_personalization"] == "denied"


def test_signals_never_grant():
    every_signal = {name: True for name in d.SIGNAL_NAMES}
    outcome = d.decide(ctx(d.OPT_IN, choices=ALL_NO, signals=every_signal, honor_dnt=True))
    for key in OPTIONAL:
        assert outcome.purposes[key] == d.Decision(False, d.CHOICE)
    assert outcome.ad_personalization == d.Decision(False, d.CHOICE)


# --- The whole table: every regime × choice × signal ------------------------------

def expected(regime, choice, signal, honor_dnt):
    """The rule written out longhand for one optional purpose set to ``choice``."""
    if choice is None:
        base = {k: d.Decision(regime == d.OPT_OUT, d.DEFAULT_OPT_OUT if regime == d.OPT_OUT else d.DEFAULT_OPT_IN) for k in OPTIONAL}
    else:
        base = {k: d.Decision(choice, d.CHOICE) for k in OPTIONAL}
    if signal == "ga_optout" and base["analytics"].granted:
        base["analytics"] = d.Decision(False, d.GA_OPTOUT)
    opt_out_reason = "gpc" if signal == "gpc" else ("dnt" if signal == "dnt" and honor_dnt else None)
    for key in SALE_OR_SHARING:
        if opt_out_reason and base[key].granted:
            base[key] = d.Decision(False, opt_out_reason)
    personalization = base["advertising"]
    if personalization.granted and signal in ("nai_optout", "lat"):
        personalization = d.Decision(False, signal)
    return base, personalization


@pytest.mark.parametrize(
    "regime, choice, signal, honor_dnt",
    list(itertools.product(d.REGIMES, [None, True, False], [None, *d.SIGNAL_NAMES], [False, True])),
)
def test_rule_table(regime, choice, signal, honor_dnt):
    choices = None if choice is None else {k: choice for k in OPTIONAL}
    context = ctx(regime, choices=choices, signals={signal: True} if signal else {}, honor_dnt=honor_dnt)
    outcome = d.decide(context)
    base, personalization = expected(regime, choice, signal, honor_dnt)
    for key in OPTIONAL:
        assert outcome.purposes[key] == base[key], key
    assert outcome.ad_personalization == personalization


# --- Step 5 and Consent Mode --------------------------------------------------------

def test_fail_closed_denies_every_optional_purpose():
    outcome = d.fail_closed(PURPOSES)
    for key in OPTIONAL:
        assert outcome.purposes[key] == d.Decision(False, d.UNAVAILABLE)
    assert outcome.purposes["security"] == d.Decision(True, d.ESSENTIAL)
    assert outcome.consent_mode == {
        "ad_personalization": "denied", "ad_storage": "denied", "ad_user_data": "denied",
        "analytics_storage": "denied", "functionality_storage": "granted",
        "personalization_storage": "denied", "security_storage": "granted",
    }


def test_consent_mode_follows_the_design_mapping():
    choices = {"analytics": True, "advertising": False, "recognition": True}
    mode = d.decide(ctx(choices=choices)).consent_mode
    assert mode == {
        "security_storage": "granted",
        "functionality_storage": "granted",
        "analytics_storage": "granted",
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
        "personalization_storage": "granted",
    }


def test_consent_mode_denies_storage_whose_purpose_the_site_lacks():
    context = d.Context(purposes=(d.Purpose("security", True),), regime=d.OPT_OUT, now=NOW, lifetime=LIFETIME)
    mode = d.decide(context).consent_mode
    assert mode["security_storage"] == "granted"
    assert mode["analytics_storage"] == "denied"
    assert mode["functionality_storage"] == "denied"
    assert mode["ad_personalization"] == "denied"


def test_signals_parse_only_real_booleans():
    assert d.Signals.from_mapping({"gpc": "true", "lat": 1, "dnt": True}) == d.Signals(dnt=True)
    assert d.Signals.from_mapping(None) == d.Signals()

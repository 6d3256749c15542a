"""Properties of the decision rule that must hold for any input (hypothesis)."""
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent import decisions as d

keys = st.sampled_from(["authentication", "security", "analytics", "advertising", "recognition", "custom", ""])
purposes = st.lists(st.builds(d.Purpose, keys, st.booleans(), st.booleans()), max_size=6, unique_by=lambda p: p.key).map(tuple)
signals = st.builds(d.Signals, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
any_value = st.one_of(st.booleans(), st.none(), st.integers(), st.text(max_size=3))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
versions = st.one_of(st.none(), st.text(max_size=3))
choices = st.one_of(
    st.none(),
    st.builds(d.Choice, st.dictionaries(keys, any_value, max_size=6), moments, versions, signals, st.booleans()),
)
contexts = st.builds(
    d.Context,
    purposes=purposes,
    regime=st.one_of(st.sampled_from(d.REGIMES), st.text(max_size=8)),
    now=moments,
    lifetime=st.timedeltas(min_value=timedelta(days=1), max_value=timedelta(days=4000)),
    choice=choices,
    signals=signals,
    versions_in_force=st.one_of(st.none(), st.frozensets(st.text(max_size=3), max_size=3)),
    honor_dnt=st.booleans(),
)
SIGNAL_FREE = d.Signals()


@settings(max_examples=2000, deadline=None)
@given(contexts)
def test_rule_is_total_and_well_formed(ctx):
    outcome = d.decide(ctx)
    assert set(outcome.purposes) == {p.key for p in ctx.purposes}
    assert set(outcome.consent_mode) == set(d.CONSENT_MODE_PURPOSES) | {d.AD_PERSONALIZATION}
    assert set(outcome.consent_mode.values()) <= {"granted", "denied"}
    for purpose in ctx.purposes:
        decision = outcome.purposes[purpose.key]
        assert isinstance(decision.granted, bool)
        if purpose.essential:
            assert decision == d.Decision(True, d.ESSENTIAL)


@settings(max_examples=2000, deadline=None)
@given(contexts)
def test_signals_never_grant_what_is_denied_without_them(ctx):
    without = d.decide(_replace(ctx, signals=SIGNAL_FREE))
    with_signals = d.decide(ctx)
    for key, decision in with_signals.purposes.items():
        if decision.granted:
            assert without.purposes[key].granted
    if with_signals.ad_personalization.granted:
        assert without.ad_personalization.granted


@settings(max_examples=1000, deadline=None)
@given(contexts)
def test_ad_personalization_never_exceeds_advertising(ctx):
    outcome = d.decide(ctx)
    advertising = outcome.purposes.get(d.ADVERTISING)
    if outcome.ad_personalization.granted:
        assert advertising is not None and advertising.granted


@settings(max_examples=500, deadline=None)
@given(purposes)
def test_fail_closed_grants_only_essentials(purposes):
    outcome = d.fail_closed(purposes)
    for purpose in purposes:
        assert outcome.purposes[purpose.key].granted == purpose.essential


def _replace(ctx, **changes):
    from dataclasses import replace

    return replace(ctx, **changes)

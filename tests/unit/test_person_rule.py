"""The rule's step 3: a browser linked to a person decides each purpose by the person's most recent choice.

Pure cases of ``consent.decisions.person_choices`` through ``decide``: recency
per purpose, stale choices dropped (by version on the same site, by time on
another site of the group), signals that stay per browser, and a browser not
linked deciding exactly as before.
"""
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from consent import decisions as d

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PURPOSES = (
    d.Purpose("security", essential=True),
    d.Purpose("analytics"),
    d.Purpose("advertising", sale_or_sharing=True),
)


def choice(days_ago, version="3", other_site=False, signals=None, confirmed=False, **choices):
    return d.Choice(choices, NOW - timedelta(days=days_ago), version, d.Signals(**(signals or {})), confirmed,
                    other_site)


def ctx(own=None, linked=(), signals=None, in_force=None, material_since=None, regime=d.OPT_IN):
    return d.Context(purposes=PURPOSES, regime=regime, now=NOW, lifetime=timedelta(days=365), choice=own,
                     signals=d.Signals(**(signals or {})), versions_in_force=in_force,
                     material_since=material_since, linked=tuple(linked))


def decided(context):
    outcome = d.decide(context)
    return {key: (dec.granted, dec.reason) for key, dec in outcome.purposes.items()}, outcome.needs_choice


def test_the_most_recent_choice_among_the_linked_browsers_wins():
    refused_on_phone = choice(1, analytics=False, advertising=False)
    granted_on_laptop_before = choice(5, analytics=True, advertising=True)
    assert decided(ctx(own=granted_on_laptop_before, linked=[refused_on_phone]))[0] == {
        "security": (True, "essential"), "analytics": (False, "choice"), "advertising": (False, "choice")}
    # The other way round: this browser chose last, so its own choice wins.
    assert decided(ctx(own=refused_on_phone, linked=[granted_on_laptop_before]))[0]["analytics"] == (False, "choice")
    assert decided(ctx(own=choice(1, analytics=True), linked=[choice(5, analytics=False)]))[0]["analytics"] == \
        (True, "choice")


def test_each_purpose_takes_its_own_most_recent_choice():
    # The newest choice names only analytics: advertising keeps the older choice's answer.
    outcome, needs_choice = decided(ctx(own=choice(9, analytics=True, advertising=True),
                                        linked=[choice(2, analytics=False)]))
    assert outcome["analytics"] == (False, "choice") and outcome["advertising"] == (True, "choice")
    assert needs_choice is False


def test_a_browser_with_no_choice_of_its_own_takes_the_persons():
    outcome, needs_choice = decided(ctx(own=None, linked=[choice(1, analytics=True, advertising=False)]))
    assert outcome["analytics"] == (True, "choice") and needs_choice is False


def test_a_browser_not_linked_decides_as_before():
    own = choice(1, analytics=True)
    assert d.decide(ctx(own=own)) == d.decide(replace(ctx(own=own), linked=()))
    outcome, needs_choice = decided(ctx(own=own))
    assert outcome["advertising"] == (False, "default_opt_in") and needs_choice is True


def test_an_expired_linked_choice_does_not_count():
    outcome, needs_choice = decided(ctx(own=choice(30, analytics=True), linked=[choice(400, analytics=False)]))
    assert outcome["analytics"] == (True, "choice")


def test_a_linked_choice_under_a_version_no_longer_in_force_does_not_count():
    newer_but_old_version = choice(1, version="2", analytics=False)
    outcome, _ = decided(ctx(own=choice(3, version="3", analytics=True), linked=[newer_but_old_version],
                             in_force=frozenset({"3"})))
    assert outcome["analytics"] == (True, "choice")


def test_after_a_material_change_every_browser_of_the_person_is_asked_again():
    changed = NOW - timedelta(days=2)
    before = [choice(10, version="2", analytics=True), choice(5, version="2", other_site=True, analytics=True)]
    outcome, needs_choice = decided(ctx(own=before[0], linked=before[1:], in_force=frozenset({"3"}),
                                        material_since=changed))
    assert outcome["analytics"] == (False, "policy_changed") and needs_choice is True
    # The person answers on one device, under the new version: the answer counts on the other.
    answer = choice(1, version="3", analytics=True, advertising=False)
    outcome, needs_choice = decided(ctx(own=before[0], linked=[*before[1:], answer], in_force=frozenset({"3"}),
                                        material_since=changed))
    assert outcome["analytics"] == (True, "choice") and needs_choice is False


def test_a_choice_on_another_site_of_the_group_counts_only_after_this_sites_material_change():
    # Another site's versions mean nothing here: its choice is judged by its time.
    sister = choice(3, version="7", other_site=True, analytics=False)
    assert decided(ctx(linked=[sister], in_force=frozenset({"3"}), material_since=NOW - timedelta(days=10)))[0][
        "analytics"] == (False, "choice")
    assert decided(ctx(linked=[sister], in_force=frozenset({"3"}), material_since=NOW - timedelta(days=1)))[0][
        "analytics"] == (False, "policy_changed")


def test_signals_stay_with_the_browser_that_sends_them():
    granted_elsewhere = choice(1, analytics=True, advertising=True)
    # This browser sends GPC: the person's grant of a sale-or-sharing purpose is taken away here...
    assert decided(ctx(linked=[granted_elsewhere], signals={"gpc": True}))[0]["advertising"] == (False, "gpc")
    # ...and a linked browser's signals, which the rule never sees, take nothing away here.
    assert decided(ctx(linked=[granted_elsewhere]))[0]["advertising"] == (True, "choice")


def test_a_grant_confirmed_over_gpc_counts_only_from_the_choice_that_confirmed_it():
    confirmed = choice(1, signals={"gpc": True}, confirmed=True, advertising=True)
    unconfirmed = choice(1, advertising=True)
    assert decided(ctx(linked=[confirmed], signals={"gpc": True}))[0]["advertising"] == (True, "choice")
    assert decided(ctx(linked=[unconfirmed], signals={"gpc": True}))[0]["advertising"] == (False, "gpc")
    # The confirmation of an older choice does not carry over to a newer one that granted without it.
    assert decided(ctx(own=choice(5, signals={"gpc": True}, confirmed=True, advertising=True),
                       linked=[unconfirmed], signals={"gpc": True}))[0]["advertising"] == (False, "gpc")


def test_when_every_choice_is_stale_the_reason_is_the_most_recent_ones():
    outcome, _ = decided(ctx(own=choice(400, analytics=True), linked=[choice(2, version="2", analytics=True)],
                             in_force=frozenset({"3"})))
    assert outcome["analytics"] == (False, "policy_changed")

"""The consent write is one transaction: a failure at any step leaves nothing of it.

The write has four steps that touch storage: the visitor's state (inserted
or updated), its audit event, the webhook outbox row, and the mark that
retires the cached answer (a new version in the cache, or, when the cache is
unreachable, a ``CacheInvalidationFailure`` row). Each test makes one step
fail inside the database itself (a trigger that raises, on SQLite and on
PostgreSQL alike), on a visitor's first write and on a later one, and then
checks that no row of the write survived, that a lookup still answers what
the visitor chose before, and that the same write succeeds once the fault
is gone. The tests commit for real (``transaction=True``): had the steps been
committed one by one, the rows written before the failing step would stay.
"""
import logging

import pytest
from django.core.cache import caches
from django.db import connection

from consent.models import CacheInvalidationFailure, ConsentEvent, Visitor
from delivery.models import OutboxMessage, WebhookEndpoint
from tests.support import consent_body, lookup_url, write_url

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = {  # step: (table, the statement that fails)
    "state": (Visitor._meta.db_table, {"first": "INSERT", "later": "UPDATE"}),
    "event": (ConsentEvent._meta.db_table, {"first": "INSERT", "later": "INSERT"}),
    "outbox": (OutboxMessage._meta.db_table, {"first": "INSERT", "later": "INSERT"}),
    "cache mark": (CacheInvalidationFailure._meta.db_table, {"first": "INSERT", "later": "INSERT"}),
}
BEFORE = {"analytics": True, "advertising": False}
AFTER = {"analytics": False, "advertising": True}


def fail_on(table, statement, step):
    """A trigger that makes every ``statement`` on ``table`` fail with 'injected failure at <step>'."""
    message = f"injected failure at {step}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$ "
                           f"BEGIN RAISE EXCEPTION '{message}'; END $$")
            cursor.execute(f'CREATE TRIGGER inject_failure BEFORE {statement} ON "{table}" '
                           f"FOR EACH ROW EXECUTE FUNCTION inject_failure()")
        else:
            cursor.execute(f'CREATE TRIGGER inject_failure BEFORE {statement} ON "{table}" '
                           f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def remove_failure(table):
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER IF EXISTS inject_failure ON "{table}"' if connection.vendor == "postgresql"
                       else "DROP TRIGGER IF EXISTS inject_failure")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS inject_failure()")


def stored():
    """Everything a write leaves in the database."""
    return {
        "visitors": list(Visitor.objects.values_list("uuid", "choices", "policy_version").order_by("id")),
        "events": list(ConsentEvent.objects.values_list("id", flat=True).order_by("id")),
        "outbox": list(OutboxMessage.objects.values_list("id", flat=True).order_by("created_at")),
        "cache failures": CacheInvalidationFailure.objects.count(),
    }


@pytest.fixture
def subscribed(demo_site):
    """An active endpoint, so that a change of decisions writes an outbox row (never delivered: port 9)."""
    WebhookEndpoint.objects.create(site=demo_site, url="http://127.0.0.1:9/hooks")
    return demo_site


@pytest.mark.guarantee
@pytest.mark.parametrize("write", ["first", "later"])
@pytest.mark.parametrize("step", list(STEPS))
def test_a_failure_at_any_step_of_the_write_leaves_nothing_of_it(api, subscribed, visitor_id, monkeypatch, caplog,
                                                                   step, write):
    token = None
    if write == "later":
        response = api.post(write_url(), consent_body(visitor_id, choices=BEFORE), format="json")
        assert response.status_code == 201, response.content
        token = response.json()["token"]
    answered_before = api.get(lookup_url(visitor_id)).json()  # also fills the cache with it
    before = stored()
    assert len(before["outbox"]) == (1 if write == "later" else 0)

    if step == "cache mark":  # the cache cannot take the new version, so the write records the failure: make that fail
        def unreachable(*args, **kwargs):
            raise ConnectionError("cache unreachable (injected)")
        monkeypatch.setattr(caches["default"], "set_many", unreachable)
    table, statements = STEPS[step]
    fail_on(table, statements[write], step)
    body = consent_body(visitor_id, choices=AFTER, **({"token": token} if token else {}))
    try:
        with caplog.at_level(logging.ERROR, logger="api"):
            response = api.post(write_url(), body, format="json")
    finally:
        remove_failure(table)
        monkeypatch.undo()

    assert response.status_code == 503, response.content
    assert response.json()["error"] == "unavailable"
    assert f"injected failure at {step}" in caplog.text  # the failure came from the step under test
    assert stored() == before  # nothing of the write survived
    assert api.get(lookup_url(visitor_id)).json() == answered_before

    # Without the fault, the same write goes through: nothing left half-done stands in its way.
    response = api.post(write_url(), body, format="json")
    assert response.status_code == 201, response.content
    after = stored()
    assert [row[1] for row in after["visitors"]] == [AFTER]
    assert len(after["events"]) == len(before["events"]) + 1
    assert len(after["outbox"]) == len(before["outbox"]) + 1
    assert api.get(lookup_url(visitor_id)).json()["decisions"] != answered_before["decisions"]

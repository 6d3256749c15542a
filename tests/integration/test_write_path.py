"""The consent write's first statement, and the race of two first writes.

A first write inserts the visitor with its first event, the visitor with
``ON CONFLICT DO NOTHING`` (``consent.rows.insert_row``); when a racing first
write got there first, it carries on as a later write and must prove
ownership like any other. A write of a visitor the cache saw lately locks
its row first instead; when the row has gone since, it carries on as a first
write.
"""
import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.purge import erase_visitor
from audit.verify import verify
from consent import cache, chain, writes
from consent.client import ClientInfo
from consent.errors import Forbidden
from consent.models import ConsentEvent, Visitor
from consent.sites import site_rules
from tests.support import consent_body, lookup_url, new_visitor_id, self_certifying_id, write_url

TOKEN = "t" * 43
VISITOR = self_certifying_id(TOKEN)
CLIENT = ClientInfo("FR", "203.0.113.0/24", "tests", {})


def lose_the_race(monkeypatch, rules):
    """Make another first write for VISITOR (token TOKEN) land between our look and our insert."""
    real_insert = chain.insert_row

    def racing_insert(*args, **kwargs):
        monkeypatch.setattr(chain, "insert_row", real_insert)
        writes.record_consent(rules, writes.ConsentWrite(uuid.UUID(VISITOR), token=TOKEN, choices={"analytics": True}), CLIENT)
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(chain, "insert_row", racing_insert)


@pytest.mark.django_db
def test_first_write_that_loses_the_race_is_a_later_write(demo_site, monkeypatch):
    rules = site_rules("demo")
    lose_the_race(monkeypatch, rules)
    late = writes.ConsentWrite(uuid.UUID(VISITOR), token=TOKEN, choices={"analytics": False, "advertising": True})
    result = writes.record_consent(rules, late, CLIENT)
    assert result.token == TOKEN and result.logged
    assert Visitor.objects.get().choices == {"analytics": False, "advertising": True}  # nothing chosen is lost
    assert list(ConsentEvent.objects.order_by("id").values_list("choices", flat=True)) == [
        {"analytics": True}, {"analytics": False, "advertising": True}]
    assert verify(checkpoints=False).ok


@pytest.mark.django_db
def test_first_write_without_token_that_loses_the_race_must_prove_ownership(demo_site, monkeypatch):
    rules = site_rules("demo")
    lose_the_race(monkeypatch, rules)
    with pytest.raises(Forbidden) as rejected:
        writes.record_consent(rules, writes.ConsentWrite(uuid.UUID(VISITOR), choices={"analytics": False}), CLIENT)
    assert rejected.value.code == "token_required"


def change(api, visitor):
    """The visitor's later write (analytics off), with the statements it sent: (answer, visitor inserts tried)."""
    with CaptureQueriesContext(connection) as queries:
        answer = api.post(write_url(), consent_body(visitor, choices={"analytics": False}), format="json")
    return answer, [q["sql"] for q in queries if 'INSERT INTO "consent_visitor"' in q["sql"]]


@pytest.mark.django_db
@pytest.mark.parametrize("seen_by", ["its last write", "a lookup"])
def test_a_visitor_the_cache_saw_lately_is_locked_first_without_an_insert_tried(api, demo_site, seen_by):
    visitor = new_visitor_id()
    assert api.post(write_url(), consent_body(visitor), format="json").status_code == 201
    if seen_by == "a lookup":
        caches["default"].clear()
        assert api.get(lookup_url(visitor)).json()["needs_choice"] is False  # found, with its choice
    answer, inserts = change(api, visitor)
    assert answer.status_code == 201, answer.content
    assert inserts == []
    assert Visitor.objects.get(uuid=visitor).choices["analytics"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("lost_by", ["a cleared cache", "a lookup before the first write"])
def test_a_visitor_the_cache_does_not_know_as_stored_gets_the_insert_tried_first_then_its_row_changed(api, demo_site,
                                                                                                      lost_by):
    visitor = new_visitor_id()
    if lost_by == "a lookup before the first write":
        assert api.get(lookup_url(visitor)).json()["needs_choice"] is True  # caches "unknown"
    assert api.post(write_url(), consent_body(visitor), format="json").status_code == 201
    caches["default"].clear()
    if lost_by == "a lookup before the first write":
        api.get(lookup_url(uuid.uuid4()))  # the cache works; it only holds nothing of this visitor
    answer, inserts = change(api, visitor)
    assert answer.status_code == 201, answer.content
    assert len(inserts) == 1  # tried, found the row taken
    assert Visitor.objects.get(uuid=visitor).choices["analytics"] is False
    assert ConsentEvent.objects.filter(visitor__uuid=visitor).count() == 2


@pytest.mark.django_db
def test_a_visitor_erased_since_the_cache_saw_it_is_written_anew_as_a_first_write(api, demo_site):
    visitor = new_visitor_id()
    assert api.post(write_url(), consent_body(visitor), format="json").status_code == 201
    erase_visitor(demo_site, visitor, reason="right to delete")
    assert writes.rules_for_write("demo", uuid.UUID(visitor))[1] is True  # the cache still saw it lately
    answer, inserts = change(api, visitor)
    assert answer.status_code == 201, answer.content
    assert len(inserts) == 1
    stored = Visitor.objects.get(uuid=visitor)
    assert stored.choices["analytics"] is False
    assert ConsentEvent.objects.filter(visitor=stored).count() == 1  # a chain of its own, after the tombstone
    assert verify(checkpoints=False).ok


@pytest.mark.django_db
@pytest.mark.parametrize("site", ["no such site", "x" * 300])
@pytest.mark.parametrize("route", ["lookup", "write"])
def test_a_site_key_that_cannot_be_one_is_a_404_and_no_cache_key_is_made_of_it(api, demo_site, monkeypatch, site, route):
    asked, read = [], cache.read
    monkeypatch.setattr(cache, "read", lambda *keys: asked.extend(keys) or read(*keys))
    visitor = new_visitor_id()
    if route == "lookup":
        answer = api.get(lookup_url(visitor, site))
    else:
        answer = api.post(write_url(site), consent_body(visitor), format="json")
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_site"
    assert not [key for key in asked if site in key]


@pytest.mark.django_db
def test_write_endpoint_methods(api, demo_site):
    assert api.options(write_url()).status_code == 200
    response = api.head(write_url())
    assert response.status_code == 405 and "POST" in response["Allow"]
    response = api.put(write_url(), consent_body(VISITOR), format="json")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.guarantee
def test_parallel_first_writes_make_one_visitor_and_strangers_none(gunicorn):
    """Through a real gunicorn on PostgreSQL: the owner's racing first writes make one visitor (each
    recorded); a stranger's, without the token the id is derived from, are all refused."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    visitor = new_visitor_id()
    url, owner, stranger = f"{gunicorn}{write_url()}", consent_body(visitor), consent_body(visitor, token=None)
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda i: post(url, owner if i % 2 else stranger), range(24)))
    assert sorted(answers) == [(201, None)] * 12 + [(403, "token_required")] * 12
    assert Visitor.objects.count() == 1 and ConsentEvent.objects.count() == 12


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]

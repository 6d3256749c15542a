"""The consent write's first statement, and the race of two first writes.

A first write inserts the visitor with its first event, the visitor with
``ON CONFLICT DO NOTHING`` (``consent.rows.insert_row``); when a racing first
write got there first, it carries on as a later write and must prove
ownership like any other.
"""
import json
import os
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command

from audit.verify import verify
from consent import chain, writes
from consent.client import ClientInfo
from consent.errors import Forbidden
from consent.models import ConsentEvent, Visitor
from consent.sites import site_rules
from tests.support import consent_body, new_visitor_id, self_certifying_id, write_url

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

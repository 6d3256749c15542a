"""Shared fixtures: a seeded demo site, an API client, and a clean cache per test."""
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from consent.models import Site


@pytest.fixture(autouse=True)
def clean_cache():
    # Cached site rules and visitor states must not leak between tests whose
    # databases are rolled back (with Redis, the suite uses its own db number).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def demo_site(db):
    call_command("seed_demo", "--origin", "https://shop.example.com", stdout=open("/dev/null", "w"))
    return Site.objects.get(key="demo")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def visitor_id():
    return str(uuid.uuid4())


def write_url(site="demo"):
    return f"/api/v1/sites/{site}/consents"


def lookup_url(visitor, site="demo"):
    return f"/api/v1/sites/{site}/decisions/{visitor}"


def consent_body(visitor, **overrides):
    body = {
        "visitor_id": visitor,
        "choices": {"analytics": True, "advertising": False, "recognition": False},
        "signals": {"gpc": False, "ga_optout": False, "nai_optout": False, "lat": False, "dnt": False},
        "policy_version": "1",
        "banner_version": "1.0.0",
        "language": "en",
    }
    body.update(overrides)
    return body

"""The consent dashboard in real headless Chromium: rendered and screenshotted.

The screenshot goes to a temporary file; with UPDATE_SCREENSHOTS=1 it
replaces docs/dashboard.png (the README's picture) instead.

Skips (and says why) where /usr/bin/chromium is missing, fails instead when CI=true
(the browser fixture in conftest.py decides).
"""
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit import tasks
from consent import client as client_info
from consent.sites import site_rules
from consent.writes import ConsentWrite, record_consent
from tests.support import new_visitor

pytestmark = pytest.mark.browser
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
COUNTRIES = ["FR", "DE", "US", "US", "US", "GB", "ES", "IT", "CA", "NL"]


def _month_of_choices(days=30, seed=7):
    """A plausible month: opt-in regions mostly refuse, opt-out regions mostly keep defaults; GPC and NAI signals."""
    rng = random.Random(seed)
    rules = site_rules("demo")
    now = timezone.now()
    for day in range(days):
        for _ in range(rng.randint(8, 16)):
            when = now - timedelta(days=day, minutes=rng.randint(0, 600))
            country = rng.choice(COUNTRIES)
            mood = rng.random() + (0.15 if country in ("US", "CA") else 0) + day / 200
            if mood < 0.35:
                choices = {"analytics": False, "advertising": False, "recognition": False}
            elif mood > 0.85:
                choices = {"analytics": True, "advertising": True, "recognition": True}
            else:
                choices = {"analytics": rng.random() < 0.75, "advertising": rng.random() < 0.35, "recognition": rng.random() < 0.2}
            source, signals = ("banner", {})
            roll = rng.random()
            if roll < 0.08:
                source, choices, signals = "gpc", None, {"gpc": True}
            elif roll < 0.12:
                source, choices, signals = "nai", None, {"nai_optout": True}
            elif roll < 0.2:
                source = "api"
            write = ConsentWrite(*new_visitor(), choices=choices, signals=signals,
                                 source="api" if source == "api" else "banner",
                                 banner_version="1.0.0" if source == "banner" else "")
            record_consent(rules, write, client_info.ClientInfo(country, "", "", {}), now=when)


def test_dashboard_screenshot(browser, demo, tmp_path):
    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "dashboard.png"
    _month_of_choices()
    tasks.refresh_rollups.apply(kwargs={"days": 31}).get()
    User.objects.create_superuser("privacy", password="x")
    client = Client()
    client.force_login(User.objects.get(username="privacy"))
    session = client.cookies["sessionid"].value
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    try:
        context.add_cookies([{"name": "sessionid", "value": session, "url": demo}])
        page = context.new_page()
        page.goto(f"{demo}/admin/consent/consentevent/dashboard/?site=demo&days=30")
        assert page.title().startswith("Consent dashboard")
        charts = page.locator('#content-main svg[role="img"]')
        assert charts.count() == 4
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 200 and box["height"] > 40
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    assert screenshot.stat().st_size > 20_000

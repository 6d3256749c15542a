"""Dashboard: daily rollups kept by a Celery task, drawn as server-side SVG."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit import dashboard, tasks
from audit.groups import ensure_auditor_group
from audit.models import ConsentRollup
from consent import client as client_info
from consent.sites import site_rules
from consent.writes import ConsentWrite, record_consent
from tests.support import new_visitor

ALL = {"analytics": True, "advertising": True, "recognition": True}
NONE = {"analytics": False, "advertising": False, "recognition": False}
SOME = {"analytics": True, "advertising": False, "recognition": False}


def choose(choices, country="FR", source="banner", when=None, signals=None):
    rules = site_rules("demo")
    who = client_info.ClientInfo(country=country, ip_prefix="", user_agent="", header_signals={})
    write = ConsentWrite(*new_visitor(), choices=choices, signals=signals or {}, source=source,
                         banner_version="1.0.0" if source == "banner" else "")
    record_consent(rules, write, who, now=when)


@pytest.fixture
def week(demo_site):
    now = timezone.now()
    for day in range(3):
        when = now - timedelta(days=day)
        choose(ALL, when=when)
        choose(NONE, when=when)
        choose(SOME, country="US", source="api", when=when)
    choose(None, signals={"gpc": True}, country="US", when=now)  # a signal alone: no choice pattern
    return now


def test_pattern_of_a_choice():
    optional = ["analytics", "advertising", "recognition"]
    assert dashboard.pattern_of(ALL, optional) == "accept_all"
    assert dashboard.pattern_of(NONE, optional) == "reject_all"
    assert dashboard.pattern_of(SOME, optional) == "custom"
    assert dashboard.pattern_of({}, optional) == ""


def test_rollup_task_counts_each_day_once(week):
    assert tasks.refresh_rollups.apply(kwargs={"days": 3}).get() == 10
    assert tasks.refresh_rollups.apply(kwargs={"days": 3}).get() == 10  # idempotent: recounted, not added
    today = week.date()
    rows = ConsentRollup.objects.filter(day=today)
    assert sum(r.events for r in rows) == 4
    by_pattern = {r.pattern: r.events for r in rows}
    assert by_pattern == {"accept_all": 1, "reject_all": 1, "custom": 1, "": 1}
    custom = rows.get(pattern="custom")
    assert custom.source == "api" and custom.region == "US"
    assert custom.purposes == {"analytics": [1, 1], "advertising": [1, 0], "recognition": [1, 0]}


def test_dashboard_data_reads_rollups_not_the_log(week, django_assert_max_num_queries):
    from consent.models import Site

    dashboard.refresh_rollups(days=3)
    site = Site.objects.get(key="demo")
    with django_assert_max_num_queries(3):  # purposes, rollups; no scan of consent events
        data = dashboard.dashboard_data(site, days=7)
    assert data["total"] == 10
    rates = dict(data["opt_in"]["analytics"])
    assert rates[week.date()] == pytest.approx(2 / 3)
    assert rates[week.date() - timedelta(days=5)] is None
    assert data["opt_in_totals"]["advertising"] == [9, 3]
    assert dict(data["patterns"]) == {"Accept all": 3, "Reject all": 3, "Custom": 3}
    assert dict(data["sources"]) == {"Banner": 6, "API": 3, "GPC": 1}
    assert dict(data["regions"]) == {"FR": 6, "US": 4}


def test_charts_are_svg_without_script(week):
    from consent.models import Site

    dashboard.refresh_rollups(days=3)
    charts = dashboard.charts(dashboard.dashboard_data(Site.objects.get(key="demo"), days=7))
    for name, svg in charts.items():
        assert svg.startswith("<svg") and svg.endswith("</svg>"), name
        assert "<script" not in svg and "<title" in svg and 'role="img"' in svg
    assert "polyline" in charts["opt_in"]
    assert "Accept all" in charts["patterns"] and "33%" in charts["patterns"]


def test_dashboard_page_for_auditors(week):
    from django.contrib.auth.models import Group

    dashboard.refresh_rollups(days=3)
    ensure_auditor_group()
    user = User.objects.create_user("ann", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="auditor"))
    client = Client()
    client.force_login(user)
    page = client.get(reverse("admin:consent_consentevent_dashboard") + "?site=demo&days=7")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" viewBox=') == 4  # the four charts (the admin has icon sprites too)
    assert "Opt-in rate per purpose per day" in html
    main = html.split('id="content-main"', 1)[1].split("<!-- END SVGs", 1)[0]
    assert "<script" not in main.split("</form>", 1)[1].split('id="footer"')[0]  # the charts bring no JavaScript
    assert "10 events" in html
    assert client.get(reverse("admin:consent_consentevent_dashboard") + "?days=abc").status_code == 200


def test_dashboard_before_any_rollup(demo_site):
    user = User.objects.create_superuser("root", password="x")
    client = Client()
    client.force_login(user)
    html = client.get(reverse("admin:consent_consentevent_dashboard")).content.decode()
    assert "not computed yet" in html and "No events in this period." in html

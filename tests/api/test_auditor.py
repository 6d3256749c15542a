"""The auditor: reads, filters and exports the log, sees each visitor's chain, changes nothing."""
import csv
import io
import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from audit.groups import ensure_auditor_group
from audit.purge import guard_lifted
from consent.models import ConsentEvent, Site, Visitor
from tests.support import consent_body, new_visitor_id, write_url


@pytest.fixture
def auditor(db):
    ensure_auditor_group()  # made by migration 0006; a flushed test database needs it again
    user = User.objects.create_user("ann", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="auditor"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def events(api, demo_site):
    """Two FR visitors choosing in the banner, one US visitor through the API."""
    made = []
    for country, banner, analytics in (("FR", True, True), ("FR", True, False), ("US", False, False)):
        visitor = new_visitor_id()
        body = consent_body(visitor, choices={"analytics": analytics, "advertising": False, "recognition": False})
        if not banner:
            body.pop("banner_version")
        api.post(write_url(), body, format="json", HTTP_CF_IPCOUNTRY=country)
        made.append(visitor)
    return made


def test_auditor_group_has_view_permissions_only(auditor):
    codenames = set(Group.objects.get(name="auditor").permissions.values_list("codename", flat=True))
    assert "view_consentevent" in codenames and "view_visitor" in codenames and "view_site" in codenames
    assert all(code.startswith("view_") for code in codenames)
    assert "view_apikey" not in codenames and "view_webhookendpoint" not in codenames


OUR_APPS = {"consent", "audit", "delivery", "privacy_requests"}


def _consent_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items() if model._meta.app_label in OUR_APPS]


def test_auditor_gets_403_on_every_change(auditor, events, demo_site):
    from consent.models import ApiKey
    from delivery.models import WebhookEndpoint

    WebhookEndpoint.objects.create(site=demo_site, url="https://hooks.example.com/cmp")
    from consent.api_keys import issue_key

    issue_key(ApiKey(site=demo_site, name="app"))
    checked = 0
    for model, _model_admin in _consent_admins():
        info = model._meta.app_label, model._meta.model_name
        obj = model._default_manager.first()
        add = reverse("admin:{}_{}_add".format(*info))
        assert auditor.get(add).status_code == 403, add
        assert auditor.post(add, {}).status_code == 403, add
        if obj is None:
            continue
        change = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
        delete = reverse("admin:{}_{}_delete".format(*info), args=[obj.pk])
        assert auditor.post(change, {}).status_code == 403, change
        assert auditor.get(delete).status_code == 403, delete
        assert auditor.post(delete, {"post": "yes"}).status_code == 403, delete
        get = auditor.get(change)
        # Readable where the auditor may view; never a form that saves.
        assert get.status_code in (200, 403), change
        if get.status_code == 200:
            assert b'name="_save"' not in get.content, change
        checked += 1
    assert checked >= 6
    # Bulk actions are not offered either (no delete_selected).
    changelist = auditor.get(reverse("admin:consent_consentevent_changelist"))
    assert changelist.status_code == 200 and b"delete_selected" not in changelist.content
    assert ConsentEvent.objects.count() == 3 and Site.objects.get(key="demo").name == "Demo Shop"


def test_auditor_filters_the_log(auditor, events):
    url = reverse("admin:consent_consentevent_changelist")
    cases = {
        "source=banner": 2, "source=api": 1, "region=FR": 2, "region=US": 1,
        "purpose=analytics&decision=granted": 1, "purpose=analytics&decision=denied": 2,
        "purpose=analytics": 3, f"site__id__exact={Site.objects.get(key='demo').pk}": 3,
        f"q={events[0]}": 1,
    }
    for query, count in cases.items():
        response = auditor.get(f"{url}?{query}")
        assert response.status_code == 200, query
        assert response.context["cl"].result_count == count, query
    from django.utils import timezone

    today = timezone.now().date().isoformat()
    assert auditor.get(f"{url}?created_from={today}&created_to={today}").context["cl"].result_count == 3
    assert auditor.get(f"{url}?created_from=2001-01-01&created_to=2001-01-02").context["cl"].result_count == 0


def _export(client, fmt, query=""):
    response = client.get(reverse("admin:consent_consentevent_export", args=[fmt]) + query)
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode(), response


def test_auditor_exports_the_filtered_set_as_csv_and_json_lines(auditor, events):
    text, response = _export(auditor, "csv", "?region=FR")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="consent-events-')
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and {r["region"] for r in rows} == {"FR"}
    assert {r["visitor_id"] for r in rows} == set(events[:2])
    assert json.loads(rows[0]["choices"])["advertising"] is False
    assert all(len(r["event_hash"]) == 64 for r in rows)
    text, response = _export(auditor, "jsonl", "?source=api")
    assert response["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 1 and lines[0]["visitor_id"] == events[2] and lines[0]["site"] == "demo"
    event = ConsentEvent.objects.get(pk=lines[0]["id"])
    assert lines[0]["event_hash"] == event.event_hash and lines[0]["decisions"] == event.decisions


def test_export_streams_in_chunks(auditor, events, settings):
    from audit import exports

    settings.CMP_AUDIT_EXPORT_CHUNK = 1
    chunks = list(exports.jsonl_chunks(ConsentEvent.objects.all()))
    assert sum(chunk.count("\n") for chunk in chunks) == 3
    assert auditor.get(reverse("admin:consent_consentevent_export", args=["xml"])).status_code == 404
    assert auditor.get(reverse("admin:consent_consentevent_export", args=["csv"]) + "?created_from=nope").status_code == 400


def test_export_needs_view_permission(events, db):
    user = User.objects.create_user("bob", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("admin:consent_consentevent_export", args=["csv"])).status_code == 403
    assert Client().get(reverse("admin:consent_consentevent_export", args=["csv"])).status_code == 302  # to login


def test_visitor_history_shows_the_chain_status(auditor, events):
    visitor = Visitor.objects.get(uuid=events[0])
    url = reverse("admin:consent_consentevent_visitor_history", args=[visitor.pk])
    page = auditor.get(url)
    assert page.status_code == 200
    assert b"Chain intact" in page.content and str(visitor.uuid).encode() in page.content
    event = visitor.events.get()
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute("UPDATE consent_consentevent SET region = 'DE' WHERE id = %s", [event.pk])
    page = auditor.get(url)
    assert b"Chain broken" in page.content and f"event {event.pk}".encode() in page.content


def test_changelist_links_to_exports_history_and_dashboard(auditor, events):
    page = auditor.get(reverse("admin:consent_consentevent_changelist") + "?region=FR").content.decode()
    assert "export.csv?region=FR" in page and "export.jsonl?region=FR" in page
    assert reverse("admin:consent_consentevent_dashboard") in page
    assert "/visitor/" in page and "history" in page

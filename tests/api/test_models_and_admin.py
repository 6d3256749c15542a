"""The audit log is append-only everywhere; the admin shows evidence, never edits it."""
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from consent.models import AppendOnlyError, ConsentEvent, Site, Visitor
from tests.support import consent_body, write_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(api, demo_site, visitor_id):
    assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
    return ConsentEvent.objects.get(visitor__uuid=visitor_id)


def test_event_cannot_be_updated_or_deleted_through_the_orm(event):
    event.source = "api"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).update(source="api")
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).delete()
    assert ConsentEvent.objects.get(pk=event.pk).source == "banner"


def test_visitor_with_events_cannot_be_deleted(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        Visitor.objects.get(pk=event.visitor_id).delete()


@pytest.fixture
def admin_client(client):
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.login(username="admin", password="pw")
    return client


def test_superuser_sees_the_event_but_cannot_add_change_or_delete_it(admin_client, event):
    base = "/admin/consent/consentevent/"
    listing = admin_client.get(base)
    assert listing.status_code == 200
    assert str(event.visitor.uuid) in listing.content.decode()
    detail = admin_client.get(f"{base}{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content  # read-only view
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{event.pk}/change/", {"source": "api"}).status_code == 403
    assert admin_client.post(f"{base}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(base, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    assert ConsentEvent.objects.filter(pk=event.pk).get().source == "banner"


def test_visitors_are_read_only_in_the_admin(admin_client, event):
    base = "/admin/consent/visitor/"
    assert admin_client.get(base).status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{event.visitor_id}/delete/", {"post": "yes"}).status_code == 403
    assert b"token_hash" not in admin_client.get(f"{base}{event.visitor_id}/change/").content


def test_sites_are_editable_in_the_admin(admin_client, demo_site):
    page = admin_client.get(f"/admin/consent/site/{demo_site.pk}/change/")
    assert page.status_code == 200
    assert b"Sign-in and session" in page.content  # purposes inline


@pytest.mark.parametrize("field, value, words", [
    ("allowed_origins", ["https://shop.example.com/path"], "not an origin"),
    ("regime_overrides", {"France": "opt_in"}, "ISO country code"),
    ("regime_overrides", {"FR": "maybe"}, "not one of"),
    ("regime_overrides", {"US-California": "opt_in"}, "region code like US-CA"),
    ("regime_overrides", {"EU-FR": "opt_in"}, "names no country"),
    ("regime_overrides", {"US-CA": "maybe"}, "not one of"),
    ("ga_measurement_ids", ["12345"], "measurement id"),
    ("languages", ["English"], "language code"),
])
def test_site_validation_explains_bad_values(field, value, words):
    """Model validation: what the admin form and any other way of saving a site go through."""
    site = Site(key="x", name="X", **{field: value})
    with pytest.raises(ValidationError, match=words):
        site.full_clean()

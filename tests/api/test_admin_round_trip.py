"""Every page of the admin that edits saves again as it was shown: a form that refuses its own values (a field
that comes back rounded, a required field the page does not show) leaves the privacy team unable to change
anything on that page."""
import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client, RequestFactory

from consent.api_keys import issue_key
from consent.models import ApiKey, Site, SiteGroup
from delivery.models import WebhookEndpoint
from privacy_requests.models import DataSubjectRequest
from scanner.models import ScanSettings, Tracker
from tests.support import admin_errors, form_fields

pytestmark = pytest.mark.django_db


def editable_in_the_admin() -> list:
    """The models whose admin page a superuser may change (the read-only ones refuse any post)."""
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_active=True)  # unsaved: a superuser's permissions need no rows
    return [model for model in apps.get_models()
            if admin.site.is_registered(model) and admin.site.get_model_admin(model).has_change_permission(request)]


EDITABLE = editable_in_the_admin()


@pytest.fixture
def one_of_each():
    """A site made as the privacy team makes one (its policy version in force from now), and one row of each model
    its pages edit; each test edits the newest row of its model."""
    call_command("add_site", "shop", "--origin", "https://shop.example", "--policy-url", "https://shop.example/privacy",
                 stdout=io.StringIO())
    site = Site.objects.get(key="shop")
    Group.objects.create(name="Privacy team")
    SiteGroup.objects.create(key="brands", name="Our brands")
    issue_key(ApiKey(site=site, name="iOS app"))
    WebhookEndpoint.objects.create(site=site, url="http://127.0.0.1:9/hook")  # the suite allows loopback
    DataSubjectRequest.objects.create(site=site, kind=DataSubjectRequest.Kind.KNOW, email="ada@example.com")
    ScanSettings.objects.create(site=site)
    Tracker.objects.create(site=site, kind="cookie", name="_ga", domain="shop.example")


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(User.objects.create_superuser("dpo", "dpo@example.com", "pw"))
    return client


@pytest.mark.parametrize("model", EDITABLE, ids=[m._meta.label for m in EDITABLE])
def test_each_page_that_edits_saves_again_unchanged(model, one_of_each, admin_client):
    obj = model.objects.order_by("-pk").first()
    assert obj is not None, f"no {model._meta.label} to edit: make one in the one_of_each fixture"
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{obj.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    saved = admin_client.post(url, {**form_fields(page.content.decode()), "_save": "Save"})
    assert saved.status_code == 302, admin_errors(saved)

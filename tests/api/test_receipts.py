"""Consent receipts: one per choice, a JWS any JOSE library checks, listed to the visitor with its token.

Signatures are checked here with PyJWT against the published JWKS, never
with the platform's own code (except where the platform's own check is the
subject).
"""
import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from audit import purge, receipts
from audit.log import extend_logs
from audit.signing import TREE_HEAD, sign
from consent.chain import canonical_json
from consent.models import ConsentEvent
from tests.support import consent_body, new_visitor_id, write_url
from tests.support.outsider import leaf, root_from_path


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


def published_keys(api):
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return jwt.PyJWKSet.from_dict(response.json())


def jose_verify(api, token):
    """What any outsider does with PyJWT: the key named in the header, from the published set; EdDSA only."""
    key = published_keys(api)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["EdDSA"])


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
    header = jwt.get_unverified_header(latest["jws"])
    assert header == {"alg": "EdDSA", "kid": "dev-ed25519", "typ": "cmp-receipt+jws"}
    assert latest["signature"] == {"alg": "EdDSA", "kid": "dev-ed25519", "value": latest["jws"].rsplit(".", 1)[1]}
    # A standard JOSE library checks it against the published keys; the payload is the readable receipt.
    assert jose_verify(api, latest["jws"]) == receipt
    assert receipts.verify(latest) == receipt
    assert latest["log"] == {"url": f"{settings.CMP_PUBLIC_URL}/api/v1/sites/demo/log", "inclusion": None}  # not logged yet
    # Deterministic: the same event gives the same receipt.
    assert get(api, visitor_id, token).json()["receipts"][0] == latest


def test_a_logged_receipt_carries_its_inclusion_proof(api, visitor):
    visitor_id, token = visitor
    extend_logs(lag_seconds=0)
    document = get(api, visitor_id, token, latest="1").json()
    proof, entry = document["log"]["inclusion"], document["receipt"]["auditLog"]
    head = jose_verify(api, proof["tree_head"]["tree_head"])
    assert head["tree_size"] == 2 and proof["leaf_index"] == 1
    start = leaf(entry["eventId"], entry["eventHash"])
    assert root_from_path(1, 2, start, [bytes.fromhex(h) for h in proof["audit_path"]]).hex() == head["root_hash"]


def test_the_published_keys_hold_no_private_part_and_other_keys_fail(api, visitor):
    visitor_id, token = visitor
    keys = api.get("/.well-known/jwks.json").json()["keys"]
    assert keys == [{"kty": "OKP", "crv": "Ed25519", "x": keys[0]["x"], "kid": "dev-ed25519", "alg": "EdDSA", "use": "sig"}]
    document = get(api, visitor_id, token, latest="1").json()
    with pytest.raises(jwt.InvalidSignatureError):  # a key of someone else's, under the same id
        jwt.decode(document["jws"], Ed25519PrivateKey.generate().public_key(), algorithms=["EdDSA"])
    with pytest.raises(jwt.InvalidAlgorithmError):  # no downgrade to an HMAC "signed" with the public key
        jwt.decode(document["jws"], "x", algorithms=["HS256"])
    assert api.post("/.well-known/jwks.json").status_code == 405


def test_latest_receipt_downloads_as_a_file(api, visitor):
    visitor_id, token = visitor
    response = get(api, visitor_id, token, latest="1")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="consent-receipt-demo-')
    document = response.json()
    assert jose_verify(api, document["jws"])["services"][0]["purposes"]


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
    response = get(api, new_visitor_id(), token)
    assert response.status_code == 403 and response.json()["error"] == "bad_token"


def test_another_visitors_token_is_refused(api, visitor, demo_site):
    visitor_id, _ = visitor
    other = new_visitor_id()
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


def test_one_changed_byte_fails(api, visitor):
    visitor_id, token = visitor
    document = get(api, visitor_id, token, latest="1").json()
    head, payload, signature = document["jws"].split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    at = raw.index(b'"state":"denied"') + len(b'"state":"d')
    changed = raw[:at] + b"E" + raw[at + 1:]  # "denied" -> "dEnied": one byte
    forged = f"{head}.{base64.urlsafe_b64encode(changed).rstrip(b'=').decode()}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jose_verify(api, forged)
    with pytest.raises(receipts.ReceiptInvalid, match="signature does not match"):
        receipts.verify({**document, "jws": forged, "receipt": json.loads(changed)})
    # The readable copy alone changed: the platform's own check says so too.
    document["receipt"]["policyVersion"] = "9"
    with pytest.raises(receipts.ReceiptInvalid, match="differs from the signed one"):
        receipts.verify(document)


def test_every_single_byte_change_in_the_signed_part_fails(api, visitor):
    visitor_id, token = visitor
    token_jws = get(api, visitor_id, token, latest="1").json()["jws"]
    failures = 0
    for at in range(0, len(token_jws), 5):  # a sample of positions in header, payload and signature
        flipped = token_jws[at].swapcase() if token_jws[at].isalpha() else ("1" if token_jws[at] != "1" else "2")
        changed = token_jws[:at] + flipped + token_jws[at + 1:]
        try:
            jose_verify(api, changed)
        except (jwt.InvalidTokenError, KeyError):
            failures += 1
        else:
            pytest.fail(f"a changed character at {at} still verified: {changed[at - 10:at + 10]!r}")
    assert failures > 50


def test_keys_rotate_by_key_id_and_retired_keys_stay_published(api, visitor):
    visitor_id, token = visitor
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with override_settings(CMP_SIGNING_KEYS=[("k1", first)]):
        old = get(api, visitor_id, token, latest="1").json()
        assert jwt.get_unverified_header(old["jws"])["kid"] == "k1"
    with override_settings(CMP_SIGNING_KEYS=[("k2", second), ("k1", first)]):
        new = get(api, visitor_id, token, latest="1").json()
        assert jwt.get_unverified_header(new["jws"])["kid"] == "k2"
        assert jose_verify(api, old["jws"]) == jose_verify(api, new["jws"])
    # k1's private half destroyed, its public half kept published: old receipts still verify.
    with override_settings(CMP_SIGNING_KEYS=[("k2", second)], CMP_RETIRED_PUBLIC_KEYS=[("k1", first.public_key())]):
        assert {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]} == {"k1", "k2"}
        assert jose_verify(api, old["jws"]) == old["receipt"]
        assert receipts.verify(old) == old["receipt"]
    with override_settings(CMP_SIGNING_KEYS=[("k2", second)]):
        with pytest.raises(KeyError):
            jose_verify(api, old["jws"])
        with pytest.raises(receipts.ReceiptInvalid, match="signature does not match"):
            receipts.verify(old)


def test_a_receipt_signature_cannot_pass_for_a_tree_head(api, visitor):
    visitor_id, token = visitor
    document = get(api, visitor_id, token, latest="1").json()
    assert jwt.get_unverified_header(document["jws"])["typ"] != TREE_HEAD
    from audit.signing import signature_valid

    kid, value = document["signature"]["kid"], document["signature"]["value"]
    assert not signature_valid(document["receipt"], TREE_HEAD, kid, value)


def test_production_without_keys_refuses_to_sign(api, visitor):
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(CMP_SIGNING_KEYS=()):
        with pytest.raises(ImproperlyConfigured, match="CMP_SIGNING_KEYS"):
            sign({"a": 1}, TREE_HEAD)


def _legacy(document, secret=b"first-secret-0123456789", kid="k1"):
    """A receipt as the platform signed them before Ed25519: HMAC-SHA256 over the canonical receipt."""
    value = base64.urlsafe_b64encode(hmac.new(secret, canonical_json(document["receipt"]), hashlib.sha256).digest())
    return {"receipt": document["receipt"], "signature": {"alg": "HS256", "kid": kid, "value": value.rstrip(b"=").decode()}}


def test_hmac_receipts_of_before_stay_verifiable_by_the_operator(api, visitor, tmp_path, capsys):
    visitor_id, token = visitor
    old = _legacy(get(api, visitor_id, token, latest="1").json())
    with override_settings(CMP_RECEIPT_KEYS=[("k1", b"first-secret-0123456789")]):
        call_command("verify_receipt", _write(tmp_path, old))
        out = capsys.readouterr().out
        assert "VALID receipt" in out and "matches audit log event" in out
        value = old["signature"]["value"]
        old["signature"]["value"] = ("B" if value[0] == "A" else "A") + value[1:]
        with pytest.raises(CommandError):
            call_command("verify_receipt", _write(tmp_path, old))
        assert "signature does not match" in capsys.readouterr().err
    with pytest.raises(CommandError):  # the key is gone: it cannot be checked
        call_command("verify_receipt", _write(tmp_path, _legacy(get(api, visitor_id, token, latest="1").json())))
    assert "unknown key id 'k1'" in capsys.readouterr().err


def test_hmac_receipt_of_a_purged_event_still_verifies_through_the_tombstone(api, visitor, tmp_path, capsys):
    from consent.models import Visitor

    visitor_id, token = visitor
    old = _legacy(get(api, visitor_id, token, latest="1").json())
    purge.erase_visitor(Visitor.objects.get(uuid=visitor_id).site, visitor_id, reason="test")
    with override_settings(CMP_RECEIPT_KEYS=[("k1", b"first-secret-0123456789")]):
        call_command("verify_receipt", _write(tmp_path, old))
    assert "purged" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not JSON"):
        call_command("verify_receipt", _write(tmp_path, b"{nope", "bad.json"))


def test_receipts_are_in_the_right_to_know_export(api, visitor):
    """The zip a right-to-know request hands over carries a receipt for each of the visitor's events, each one valid."""
    import io
    import zipfile

    from privacy_requests.export import build_zip
    from privacy_requests.models import DataSubjectRequest

    visitor_id, token = visitor
    request = DataSubjectRequest.objects.create(
        site_id=ConsentEvent.objects.filter(visitor__uuid=visitor_id).values_list("site_id", flat=True).first(),
        kind=DataSubjectRequest.Kind.KNOW, email="someone@example.com", visitor_uuid=visitor_id,
        visitor_token_verified=True)
    data = json.loads(zipfile.ZipFile(io.BytesIO(build_zip(request))).read("data.json"))
    exported = data["receipts"]
    events = sorted(ConsentEvent.objects.filter(visitor__uuid=visitor_id).values_list("id", flat=True), reverse=True)
    assert len(events) == 2
    assert [r["receipt"]["auditLog"]["eventId"] for r in exported] == events
    # The same receipts the visitor can fetch, and each verifies against the published keys.
    assert exported == get(api, visitor_id, token).json()["receipts"]
    for r in exported:
        assert jose_verify(api, r["jws"])["auditLog"]["eventId"] == r["receipt"]["auditLog"]["eventId"]


def test_a_document_nested_past_the_decoders_stack_is_refused_as_invalid():
    """verify_receipt reads files from anywhere: arrays nested too deep are an invalid receipt, not a crash."""
    with pytest.raises(receipts.ReceiptInvalid, match="not JSON"):
        receipts.verify("[" * 5000)
    nested = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    with pytest.raises(receipts.ReceiptInvalid, match="no JWS"):
        receipts.verify({"signature": {"alg": "EdDSA"}, "jws": f"{nested}.{nested}.AAAA"})

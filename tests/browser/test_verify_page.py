"""The public page that checks a receipt in the visitor's browser: real Chromium, WebCrypto's Ed25519, no secret."""
import json

from django.db import connection, transaction
from django.test import Client

from audit.log import extend_logs
from audit.models import LogLeaf, LogNode, TreeHead
from audit.purge import guard_lifted
from tests.support import consent_body, new_visitor_id, write_url


def a_receipt(client):
    visitor = new_visitor_id()
    token = client.post(write_url(), consent_body(visitor), content_type="application/json").json()["token"]
    return lambda: client.get(f"/api/v1/sites/demo/visitors/{visitor}/receipts", {"latest": "1"},
                              HTTP_AUTHORIZATION=f"Bearer {token}").content.decode()


def check(page, base, receipt, saved=""):
    page.goto(base + "/verify/")
    page.fill("#receipt", receipt)
    page.fill("#saved-head", saved)
    page.click("button[type=submit]")
    page.wait_for_selector("#verdict[data-status]:not([data-status=checking])")
    return page.text_content("#verdict"), page.locator("#results li").all_text_contents()


def more_events(client, count=2):
    for _ in range(count):
        client.post(write_url(), consent_body(new_visitor_id()), content_type="application/json")
    extend_logs(lag_seconds=0)


def test_the_page_checks_a_receipt_and_remembers_the_tree_head(page, demo):
    client = Client()
    receipt = a_receipt(client)
    verdict, lines = check(page, demo, receipt())
    assert verdict.startswith("NOT YET") and "no tree head yet" in verdict  # written, not logged yet
    extend_logs(lag_seconds=0)
    verdict, lines = check(page, demo, receipt())
    assert verdict == "VALID", lines
    assert lines[0].startswith("Signature valid") and "leaf 0 of the tree head of 1 leaves" in lines[1]
    saved = page.input_value("#latest-head")
    assert saved.count(".") == 2  # the head it checked, to keep
    more_events(client)
    # The page remembered the head (localStorage): with the box empty it checks consistency with it.
    verdict, lines = check(page, demo, receipt())
    assert verdict == "VALID" and "the 1 leaves of the tree head you saved" in lines[-1], lines
    verdict, lines = check(page, demo, receipt(), saved)
    assert verdict == "VALID" and len(lines) == 3


def test_the_page_catches_a_rewritten_log_and_a_forged_receipt(page, demo):
    client = Client()
    receipt = a_receipt(client)
    more_events(client, 3)
    document = receipt()
    saved = json.loads(client.get("/api/v1/sites/demo/log").content)["tree_head"]
    assert check(page, demo, document, saved)[0] == "VALID"
    forged = json.loads(document)
    header, payload, signature = forged["jws"].split(".")
    forged["jws"] = f"{header}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    verdict, lines = check(page, demo, json.dumps(forged), saved)
    assert verdict.startswith("INVALID") and "signature does not match" in verdict
    # The operator deletes an event logged before the saved head, rebuilds the log and re-signs it.
    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE id = (SELECT MAX(id) FROM consent_consentevent)")
    for model in (LogLeaf, LogNode, TreeHead):
        model.objects.all().delete()
    extend_logs(lag_seconds=0)
    more_events(client, 2)
    verdict, lines = check(page, demo, document, saved)
    assert verdict.startswith("INVALID") and "does not extend the one you saved" in verdict, lines
    assert lines[0].startswith("Signature valid") and lines[1].startswith("In the log")


def test_the_page_is_served_under_the_platforms_strict_policy(demo):
    response = Client().get("/verify/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert Client().post("/verify/").status_code == 405

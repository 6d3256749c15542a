"""The outsider's command over real HTTP: ``manage.py verify_receipt`` and ``python -m audit.checker`` against a live server.

The checker gets everything from the server as anyone would (keys, tree
heads, proofs); it never reads the database. ``python -m audit.checker``
runs in a process with no Django settings at all.
"""
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from audit.log import extend_logs
from audit.models import LogLeaf, LogNode, TreeHead
from tests.support import ROOT, consent_body, new_visitor_id, write_url

pytestmark = pytest.mark.django_db(transaction=True)  # the live server must see the test's rows


@pytest.fixture
def receipt(api, demo_site, tmp_path):
    visitor = new_visitor_id()
    token = api.post(write_url(), consent_body(visitor), format="json").json()["token"]
    extend_logs(lag_seconds=0)
    document = api.get(f"/api/v1/sites/demo/visitors/{visitor}/receipts", {"latest": "1"},
                       HTTP_AUTHORIZATION=f"Bearer {token}").json()
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document))
    return path


def more_events(api, count=2):
    for _ in range(count):
        api.post(write_url(), consent_body(new_visitor_id()), format="json")
    extend_logs(lag_seconds=0)


def test_a_receipt_checks_end_to_end_and_against_the_head_saved_last_time(api, live_server, receipt, tmp_path, capsys):
    saved = tmp_path / "head.jws"
    call_command("verify_receipt", str(receipt), "--platform", live_server.url, "--save-tree-head", str(saved))
    out = capsys.readouterr().out
    assert "VALID receipt" in out and "signature valid" in out and "is leaf 0 of the tree head of 1 leaves" in out
    more_events(api)
    call_command("verify_receipt", str(receipt), "--platform", live_server.url, "--tree-head", str(saved))
    out = capsys.readouterr().out
    assert "tree head of 3 leaves" in out and "the 1 leaves of the tree head you saved" in out


def test_a_rewritten_log_fails_the_command(api, live_server, receipt, tmp_path, capsys):
    more_events(api)
    saved = tmp_path / "head.jws"
    saved.write_text(api.get("/api/v1/sites/demo/log").content.decode())  # the log's JSON answer is accepted too
    from django.db import connection, transaction

    from audit.purge import guard_lifted

    with transaction.atomic(), guard_lifted(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE id = (SELECT MAX(id) FROM consent_consentevent)")
    for model in (LogLeaf, LogNode, TreeHead):  # the operator rebuilds and re-signs the log without it
        model.objects.all().delete()
    extend_logs(lag_seconds=0)
    more_events(api, 2)
    with pytest.raises(CommandError) as failure:
        call_command("verify_receipt", str(receipt), "--platform", live_server.url, "--tree-head", str(saved))
    assert failure.value.returncode == 1
    assert "the log was rewritten" in capsys.readouterr().err


def test_an_event_not_logged_yet_is_not_a_failure(api, live_server, demo_site, tmp_path, capsys):
    visitor = new_visitor_id()
    token = api.post(write_url(), consent_body(visitor), format="json").json()["token"]
    path = tmp_path / "receipt.json"
    path.write_text(api.get(f"/api/v1/sites/demo/visitors/{visitor}/receipts", {"latest": "1"},
                            HTTP_AUTHORIZATION=f"Bearer {token}").content.decode())
    with pytest.raises(CommandError) as pending:
        call_command("verify_receipt", str(path), "--platform", live_server.url)
    assert pending.value.returncode == 2 and "no tree head yet" in capsys.readouterr().out


def test_the_checker_runs_outside_the_platform(api, live_server, receipt, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(api.get("/.well-known/jwks.json").content.decode())  # keys pinned by the checker
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "REDIS", "CMP_", "DEBUG"))}
    run = subprocess.run([sys.executable, "-m", "audit.checker", str(receipt), "--platform", live_server.url,
                          "--jwks", str(jwks), "--save-tree-head", str(tmp_path / "head.jws")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("VALID") and "django" not in run.stderr.lower()
    receipt.write_text(receipt.read_text().replace('"state": "granted"', '"state": "denied"', 1))
    forged = json.loads(receipt.read_text())
    forged["jws"] = forged["jws"][:-4] + ("AAAA" if not forged["jws"].endswith("AAAA") else "BBBB")
    receipt.write_text(json.dumps(forged))
    run = subprocess.run([sys.executable, "-m", "audit.checker", str(receipt), "--platform", live_server.url, "--jwks", str(jwks)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "signature does not match" in run.stderr


def test_the_readmes_lines_check_a_receipt(live_server, receipt, tmp_path):
    """README, "Check a receipt yourself": its Python block, run as written, against a live platform."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- check-a-receipt:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = block.replace('"https://cmp.example.com"', repr(live_server.url))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "REDIS", "CMP_", "DEBUG"))}
    (tmp_path / "consent-receipt.json").write_text(receipt.read_text())
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VALID: signed by the platform and leaf 0 of tree head 1")
    forged = json.loads(receipt.read_text())
    header, payload, signature = forged["jws"].split(".")
    forged["jws"] = f"{header}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    (tmp_path / "consent-receipt.json").write_text(json.dumps(forged))
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "InvalidSignatureError" in run.stderr

"""What a person does after `make run`: POST a consent with curl, look it up.

Starts the real development server in a subprocess on a fresh SQLite file,
exactly as `make run` does, and talks HTTP to it.
"""
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, http, new_visitor_id, token_of, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    manage = [sys.executable, "manage.py"]
    for args in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run(manage + args, cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(manage + ["runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/demo/", proc)
    yield base, env
    proc.terminate()
    proc.wait(timeout=10)


def test_post_then_lookup_shows_the_new_decision_and_the_event_is_logged(server):
    base, env = server
    visitor = new_visitor_id()
    lookup = f"{base}/api/v1/sites/demo/decisions/{visitor}"
    assert http("GET", lookup)[1]["decisions"]["advertising"]["granted"] is False
    status, written = http("POST", f"{base}/api/v1/sites/demo/consents", {
        "visitor_id": visitor, "token": token_of(visitor),
        "choices": {"analytics": False, "advertising": True, "recognition": False},
        "policy_version": "1", "banner_version": "curl",
    })
    assert status == 201
    status, answer = http("GET", lookup)
    assert status == 200
    assert answer["decisions"]["advertising"] == {"granted": True, "reason": "choice"}
    assert answer["consent_mode"]["ad_storage"] == "granted"
    status, refused = http("POST", f"{base}/api/v1/sites/demo/consents", {"visitor_id": visitor, "choices": {}})
    assert (status, refused["error"]) == (403, "token_required")
    # The event is in the database the admin reads.
    count = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         f"from consent.models import ConsentEvent; print(ConsentEvent.objects.filter(visitor__uuid='{visitor}').count())"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    assert count == "1"


def test_demo_page_and_embed_script_are_served(server):
    base, _ = server
    with urllib.request.urlopen(base + "/demo/") as page:
        assert b'src="/c/demo.js"' in page.read()
    with urllib.request.urlopen(base + "/c/demo.js") as script:
        assert script.status == 200

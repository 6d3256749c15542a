"""50 writes for one visitor at once, from several processes, through a real
gunicorn on PostgreSQL: every write has its event, the visitor ends on the
latest choice, and the visitor's hash chain verifies."""
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from consent.models import ConsentEvent, Visitor

from .receiver import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


@pytest.fixture
def gunicorn():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (CI does)")
    db = connection.settings_dict
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cmp.wsgi", "-b", f"127.0.0.1:{port}", "-w", "3", "--threads", "4"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/.well-known/gpc.json", timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_fifty_parallel_writes_for_one_visitor(gunicorn):
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    url = f"{gunicorn}/api/v1/sites/demo/consents"
    visitor, token = str(uuid.uuid4()), "p" * 43
    bodies = [
        {"visitor_id": visitor, "token": token, "policy_version": "1",
         "choices": {"analytics": i % 2 == 0, "advertising": i % 3 == 0, "recognition": i % 5 == 0}}
        for i in range(50)
    ]
    with ProcessPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(post, [url] * 50, bodies))
    assert statuses == [201] * 50
    events = list(ConsentEvent.objects.filter(visitor__uuid=visitor).order_by("id"))
    assert len(events) == 50
    assert Visitor.objects.get(uuid=visitor).choices == events[-1].choices  # the latest write won
    result = subprocess.run([sys.executable, "manage.py", "verify_audit"], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": f"postgres://{connection.settings_dict['USER']}@127.0.0.1:5432/{connection.settings_dict['NAME']}"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""50 writes for one visitor at once, from several processes, through a real
gunicorn on PostgreSQL: every write has its event, the visitor ends on the
latest choice, and the visitor's hash chain verifies."""
import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ProcessPoolExecutor

import pytest
from django.core.management import call_command

from consent.models import ConsentEvent, Visitor
from tests.support import ROOT, database_url, new_visitor

pytestmark = [pytest.mark.guarantee, pytest.mark.django_db(transaction=True)]


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_fifty_parallel_writes_for_one_visitor(gunicorn):
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    url = f"{gunicorn}/api/v1/sites/demo/consents"
    visitor, token = new_visitor()
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
                            env={**os.environ, "DATABASE_URL": database_url()},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

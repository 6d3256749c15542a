"""``manage.py run_job`` runs any scheduled job now; the dashboard then has its numbers."""
import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import ConsentRollup
from tests.support import consent_body, write_url

pytestmark = pytest.mark.django_db


def run_job(*args):
    out = io.StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def test_run_job_refreshes_the_rollups_now(api, demo_site, visitor_id):
    assert api.post(write_url(), consent_body(visitor_id), format="json").status_code == 201
    assert not ConsentRollup.objects.exists()
    out = run_job("audit.tasks.refresh_rollups")
    assert "Ran audit.tasks.refresh_rollups({}): 1" in out
    assert sum(r.events for r in ConsentRollup.objects.filter(site=demo_site)) == 1
    assert "days" in run_job("audit.tasks.refresh_rollups", "--kwargs", '{"days": 31}')


@pytest.mark.parametrize("args, words", [
    (["audit.tasks.nope"], "Jobs: audit.tasks.apply_retention"),
    (["delivery.tasks.deliver_webhook"], "No job"),  # a task, but not a scheduled job
    (["audit.tasks.refresh_rollups", "--kwargs", "{days: 2}"], "not JSON"),
    (["audit.tasks.refresh_rollups", "--kwargs", "[2]"], "JSON object"),
    (["audit.tasks.refresh_rollups", "--kwargs", '{"weeks": 2}'], "does not take"),
])
def test_run_job_says_what_is_wrong(args, words):
    with pytest.raises(CommandError, match=words.replace("(", r"\(")):
        run_job(*args)

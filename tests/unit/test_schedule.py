"""The beat schedule run in one process (cmp/schedule.py): each job when Celery's schedule says."""
from datetime import UTC, datetime, timedelta

from celery.schedules import crontab

from cmp.celery import app
from cmp.schedule import Schedule, jobs, task


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def test_each_entry_runs_when_its_schedule_falls_due():
    clock = Clock(datetime(2026, 11, 25, 2, 59, 0, tzinfo=UTC))
    schedule = Schedule({
        "every-30s": {"task": "delivery.tasks.sweep_outbox", "schedule": 30.0},
        "daily-3am": {"task": "consent.tasks.expire_choices", "schedule": crontab(hour=3, minute=0)},
    }, clock=clock)
    assert schedule.due()[0] == []  # like beat: nothing at start
    clock.now += timedelta(seconds=29)
    names, wait = schedule.due()
    assert names == [] and 0 < wait <= 1.5
    clock.now += timedelta(seconds=1)
    assert schedule.due()[0] == ["every-30s"]
    assert schedule.due()[0] == []  # once per period
    clock.now = datetime(2026, 11, 25, 3, 0, 1, tzinfo=UTC)
    assert schedule.due()[0] == ["every-30s", "daily-3am"]
    clock.now += timedelta(hours=23)
    assert schedule.due()[0] == ["every-30s"]
    clock.now += timedelta(hours=1)
    assert "daily-3am" in schedule.due()[0]


def test_the_wait_never_exceeds_the_bound_so_a_clock_jump_is_noticed():
    clock = Clock(datetime(2026, 11, 25, 4, 0, tzinfo=UTC))
    schedule = Schedule({"daily": {"task": "consent.tasks.expire_choices", "schedule": crontab(hour=3, minute=0)}},
                        clock=clock)
    assert schedule.due()[1] <= 30


def test_every_scheduled_job_is_a_registered_task():
    assert jobs() == sorted({entry["task"] for entry in app.conf.beat_schedule.values()})
    for name in jobs():
        assert task(name).name == name


def described(schedule) -> str:
    """How the README's table of jobs says when ``schedule`` runs."""
    if isinstance(schedule, float):
        seconds = int(schedule)
        return {60: "every minute"}.get(seconds) or (f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s")
    hour, minute, weekday = (str(schedule._orig_hour), str(schedule._orig_minute), str(schedule._orig_day_of_week))
    if hour == "*" and minute.startswith("*/"):
        return f"every {minute[2:]} min"
    at = f"{int(hour):02d}:{int(minute):02d}"
    return f"Mondays {at}" if weekday == "1" else f"daily {at}"


def test_the_readme_documents_the_beat_schedule_as_it_is():
    from tests.support import ROOT

    readme = (ROOT / "README.md").read_text()
    table = readme.split("| task (beat schedule) | what it does |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cell = line.split("|")[1]
        name, when = cell.split("`")[1], cell.split("(", 1)[1].rsplit(")", 1)[0]
        rows[name] = when
    schedule = {}
    for entry in app.conf.beat_schedule.values():
        schedule.setdefault(entry["task"], []).append(described(entry["schedule"]))
    assert sorted(rows) == sorted(schedule), "the README's table and cmp/celery.py name different jobs"
    for name, phrases in schedule.items():
        for phrase in phrases:
            assert phrase in rows[name], f"{name}: the README says ({rows[name]}), the schedule says {phrase}"

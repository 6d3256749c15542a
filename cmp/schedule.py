"""The beat schedule (``cmp/celery.py``), run by one process that needs no broker.

In production ``celery beat`` sends each job to the workers when it is due.
On the embedded default there is no broker to send to, so ``manage.py
run_schedule`` (``make run`` starts it) runs each job itself, in-process, when
the same schedule says it is due: the same entries, Celery's own schedule
objects decide. ``manage.py run_job NAME`` runs any job once, now.
"""
import logging
import time
from datetime import UTC, datetime

from celery.schedules import maybe_schedule

from cmp.celery import app

logger = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 30.0  # look again at least this often (the clock may jump)


def jobs() -> list[str]:
    """The names of the tasks the beat schedule runs."""
    return sorted({entry["task"] for entry in app.conf.beat_schedule.values()})


def task(name: str):
    """The registered task ``name`` (the apps' task modules are imported first: a worker would)."""
    app.loader.import_default_modules()
    return app.tasks[name]


def run_job(name: str, **kwargs):
    """Run the task ``name`` here and now, as an eager task; returns its result."""
    return task(name).apply(kwargs=kwargs, throw=True).get()


class Schedule:
    """The beat entries and when each last ran; ``clock`` gives the time (aware, UTC)."""

    def __init__(self, beat_schedule: dict, clock=lambda: datetime.now(UTC)):
        self.clock = clock
        started = clock()
        self.entries = {}
        for name, entry in beat_schedule.items():
            when = maybe_schedule(entry["schedule"], app=app)
            when.nowfun = clock
            # Like beat, an entry's first run is when its schedule next falls due after the start.
            self.entries[name] = {"task": entry["task"], "kwargs": entry.get("kwargs", {}), "when": when,
                                  "last_run": started}

    def due(self) -> tuple[list[str], float]:
        """The entries due now (marked as run), and the seconds until the next check."""
        now, names, wait = self.clock(), [], MAX_SLEEP_SECONDS
        for name, entry in self.entries.items():
            is_due, next_check = entry["when"].is_due(entry["last_run"])
            if is_due:
                entry["last_run"] = now
                names.append(name)
            wait = min(wait, next_check)
        return names, max(wait, 0.1)

    def run_due(self) -> float:
        """Run every entry due now, one after another; the seconds until the next check."""
        names, wait = self.due()
        for name in names:
            entry = self.entries[name]
            try:
                result = run_job(entry["task"], **entry["kwargs"])
                logger.info("Ran %s (%s): %r", name, entry["task"], result)
            except Exception:  # one failing job must not stop the others; beat would go on too
                logger.exception("Scheduled job %s (%s) failed", name, entry["task"])
        return wait if not names else 0.1  # a long job may have made another due

    def run_forever(self):
        while True:
            time.sleep(self.run_due())

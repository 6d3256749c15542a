"""The Celery application.

Settings come from Django's settings under the ``CELERY_`` namespace; with no
``REDIS_URL`` set, ``CELERY_TASK_ALWAYS_EAGER`` makes every task run in-process,
so a first run needs no broker.
"""
import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmp.settings")

app = Celery("cmp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# What beat runs. Every task is idempotent, so a missed or doubled run is harmless.
app.conf.beat_schedule = {
    "sweep-webhook-outbox": {"task": "delivery.tasks.sweep_outbox", "schedule": 30.0},
    "make-event-partitions": {"task": "consent.tasks.make_event_partitions", "schedule": crontab(hour=2, minute=50)},
    "expire-choices": {"task": "consent.tasks.expire_choices", "schedule": crontab(hour=3, minute=0)},
    "forget-expired-links": {"task": "consent.tasks.forget_expired_links", "schedule": 3600.0},
    "apply-retention": {"task": "audit.tasks.apply_retention", "schedule": crontab(hour=3, minute=30)},
    "prune-webhook-messages": {"task": "delivery.tasks.prune_messages", "schedule": crontab(hour=3, minute=40)},
    "purge-old-requests": {"task": "privacy_requests.tasks.purge_old_requests", "schedule": crontab(hour=3, minute=50)},
    "request-confirmations-sweep": {"task": "privacy_requests.tasks.send_missing_confirmations", "schedule": 60.0},
    "expire-unverified-requests": {
        "task": "privacy_requests.tasks.expire_unverified_requests",
        "schedule": crontab(hour=4, minute=0),
    },
    "privacy-team-digest": {"task": "privacy_requests.tasks.send_daily_digest", "schedule": crontab(hour=7, minute=0)},
    # Provable consent: extend each site's log and sign its tree head, and keep the dashboard's rollups fresh.
    "audit-checkpoint": {"task": "audit.tasks.audit_checkpoint", "schedule": 600.0},
    # Today's counts every minute, so the dashboard follows the choices within minutes; today and
    # yesterday every 15 minutes, so the last events of a day are counted after midnight too.
    "refresh-rollups-today": {"task": "audit.tasks.refresh_rollups", "schedule": 60.0, "kwargs": {"days": 1}},
    "refresh-rollups": {"task": "audit.tasks.refresh_rollups", "schedule": crontab(minute="*/15"), "kwargs": {"days": 2}},
    # A scan of every site each week (Monday 02:00 UTC); a site may turn its weekly scan off.
    "weekly-scans": {"task": "scanner.tasks.schedule_weekly_scans", "schedule": crontab(hour=2, minute=0, day_of_week=1)},
}


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_bad_settings(**kwargs):
    from cmp.checks import refuse_bad_settings  # needs Django's apps, loaded by then

    refuse_bad_settings()

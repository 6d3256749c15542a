"""``manage.py run_schedule``: run cmp/celery.py's beat schedule in this process, no broker needed."""
import logging

from django.core.management.base import BaseCommand

from cmp.celery import app
from cmp.schedule import Schedule


class Command(BaseCommand):
    help = ("Run each job of the beat schedule (cmp/celery.py) in this process when it is due. "
            "For the embedded default (make run starts it); production runs `celery -A cmp beat` and workers.")

    def handle(self, *args, **options):
        logging.getLogger("cmp.schedule").setLevel(logging.INFO)
        schedule = Schedule(app.conf.beat_schedule)
        self.stdout.write(f"Running {len(schedule.entries)} scheduled jobs in this process: "
                          f"{', '.join(sorted(schedule.entries))}.")
        try:
            schedule.run_forever()
        except KeyboardInterrupt:
            pass

"""``manage.py run_job audit.tasks.refresh_rollups``: run one job now, in this process."""
import inspect
import json

from django.core.management.base import BaseCommand, CommandError

from cmp.schedule import jobs, run_job, task


class Command(BaseCommand):
    help = "Run one scheduled job (a task of the beat schedule, cmp/celery.py) now, in this process."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The task's name, e.g. audit.tasks.refresh_rollups.")
        parser.add_argument("--kwargs", default=None,
                            help='Arguments as a JSON object, e.g. \'{"days": 31}\' (default: the task\'s own defaults).')

    def handle(self, *args, name, kwargs, **options):
        known = jobs()
        if name not in known:
            raise CommandError(f"No job {name!r}. Jobs: {', '.join(known)}.")
        try:
            arguments = json.loads(kwargs or "{}")
        except json.JSONDecodeError as error:
            raise CommandError(f"--kwargs is not JSON: {error}.") from None
        if not isinstance(arguments, dict):
            raise CommandError("--kwargs must be a JSON object, e.g. '{\"days\": 31}'.")
        try:
            inspect.signature(task(name).run).bind(**arguments)
        except TypeError as error:
            raise CommandError(f"{name} does not take {json.dumps(arguments)}: {error}.") from None
        result = run_job(name, **arguments)
        self.stdout.write(self.style.SUCCESS(f"Ran {name}({json.dumps(arguments)}): {result!r}"))

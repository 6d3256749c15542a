"""Hold a site's trackers in its HTML files: ``manage.py hold_markup demo public/*.html`` (a static site's build step)."""
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from consent.models import Site
from scanner.holding import hold_markup
from scanner.inventory import blocking_rules


class Command(BaseCommand):
    help = ("Hold the scripts, iframes and images of the site's tracker hosts in HTML (see scanner/holding.py): "
            "each FILE is rewritten in place; with no FILE, standard input is written to standard output.")

    def add_arguments(self, parser):
        parser.add_argument("site", help="The site's key.")
        parser.add_argument("files", nargs="*", metavar="FILE", help="HTML files (UTF-8) to rewrite in place.")

    def handle(self, *args, site, files, **options):
        target = Site.objects.filter(key=site).first()
        if target is None:
            raise CommandError(f"No site with key {site!r}.")
        rules = blocking_rules(target)
        if not files:
            self.stdout.write(hold_markup(sys.stdin.read(), rules["hosts"], rules["essential"]), ending="")
            return
        pages = {path: self._read(path) for path in files}  # every file readable before any is written
        for path, html in pages.items():
            held = hold_markup(html, rules["hosts"], rules["essential"])
            if held != html:
                staged = f"{path}.held"
                with open(staged, "w", encoding="utf-8", newline="") as file:
                    file.write(held)
                os.replace(staged, path)  # a file is whole, old or new
            self.stdout.write(f"{path}: {'held' if held != html else 'nothing to hold'}")

    @staticmethod
    def _read(path) -> str:
        try:
            with open(path, encoding="utf-8", newline="") as file:
                return file.read()
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path} as UTF-8 text: {error}")

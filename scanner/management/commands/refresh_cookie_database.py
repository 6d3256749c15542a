"""Replace the Open Cookie Database snapshot with a newer file of the same columns."""
import os

from django.core.management.base import BaseCommand, CommandError

from scanner import cookiedb


class Command(BaseCommand):
    help = "Check a newer open-cookie-database.csv and make it the scanner's snapshot (scanner/data/)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The newer open-cookie-database.csv.")

    def handle(self, *args, path, **options):
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
            entries = cookiedb.parse(text)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}")
        except ValueError as error:
            raise CommandError(f"{path} is not an Open Cookie Database file: {error}")
        before = len(cookiedb.parse(cookiedb.SNAPSHOT.read_text(encoding="utf-8")))
        staged = cookiedb.SNAPSHOT.with_suffix(".csv.new")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, cookiedb.SNAPSHOT)  # whole or not at all
        cookiedb.database.cache_clear()
        self.stdout.write(self.style.SUCCESS(
            f"Snapshot replaced: {len(entries)} entries (was {before}). Keep its license file and attribution "
            "(scanner/data/README.md) and commit the file."))

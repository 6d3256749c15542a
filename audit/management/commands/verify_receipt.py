"""Check a consent receipt file: its signature, and that the audit log holds its event."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import receipts


class Command(BaseCommand):
    help = (
        "Verify a consent receipt (JSON file, '-' for stdin): the platform's signature, then the matching event "
        "in the audit log. Also accepts the receipts API's list answer (checks each). Exits non-zero if any fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--signature-only", action="store_true", help="Do not look the event up in the audit log.")

    def handle(self, *args, file, signature_only=False, **options):
        import sys

        try:
            raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise CommandError(f"{file} is not JSON: {error}.") from None
        documents = document["receipts"] if isinstance(document, dict) and isinstance(document.get("receipts"), list) else [document]
        failures = 0
        for index, item in enumerate(documents):
            label = item.get("receipt", {}).get("receiptId", f"#{index}") if isinstance(item, dict) and isinstance(item.get("receipt"), dict) else f"#{index}"
            try:
                receipt = receipts.verify(item)
            except receipts.ReceiptInvalid as error:
                failures += 1
                self.stderr.write(self.style.ERROR(f"INVALID receipt {label}: {error}"))
                continue
            message = f"signature valid (key {item['signature']['kid']!r})"
            if not signature_only:
                ok, detail = receipts.matches_log(receipt)
                if not ok:
                    failures += 1
                    self.stderr.write(self.style.ERROR(f"MISMATCH receipt {label}: {message}, but {detail}"))
                    continue
                message += f"; {detail}"
            self.stdout.write(self.style.SUCCESS(f"VALID receipt {label}: {message}"))
        if failures:
            raise CommandError(f"{failures} of {len(documents)} receipt(s) failed verification.", returncode=1)

"""Check consent receipts: as an outsider would (``audit/checker.py``), or, for receipts of before
Ed25519 (HMAC), against the platform's keys and database as only the operator can."""
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import checker, receipts


class Command(BaseCommand):
    help = (
        "Verify consent receipts (a JSON file, '-' for stdin; also the receipts API's list answer). A receipt "
        "(JWS) is checked over HTTP like an outsider would: its signature against the published keys, its event's "
        "inclusion in the site's log, and with --tree-head the log's consistency with a tree head saved earlier. "
        "An HMAC receipt of before is checked with CMP_RECEIPT_KEYS and the audit log. Exit 1 if any fails, "
        "2 if one's event has not joined the log yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--tree-head", help="A tree head saved earlier (its JWS, or the log's JSON answer).")
        parser.add_argument("--save-tree-head", help="Write the latest tree head here once checked, for next time.")
        parser.add_argument("--platform", help="The platform's address (default: the origin of each receipt's log.url).")
        parser.add_argument("--jwks", help="A copy of the platform's keys (JWKS file) to trust instead of fetching them.")

    def handle(self, *args, file, tree_head=None, save_tree_head=None, platform=None, jwks=None, **options):
        documents = self._documents(file)
        try:
            saved = checker.read_tree_head(Path(tree_head).read_text()) if tree_head else None
            keys = json.loads(Path(jwks).read_text()) if jwks else None
        except (OSError, ValueError, checker.CheckFailed) as error:
            raise CommandError(f"Cannot read the saved tree head or keys: {error}") from None
        failures = pending = 0
        latest = None
        for index, document in enumerate(documents):
            label = self._label(document, index)
            try:
                if isinstance(document, dict) and "jws" not in document:
                    self._legacy(document, label)
                    continue
                result = checker.Checker(platform or checker.platform_of(document), keys).check(document, saved)
            except checker.NotLoggedYet as error:
                pending += 1
                self.stdout.write(self.style.WARNING(f"NOT YET receipt {label}: {error}"))
            except (checker.CheckFailed, receipts.ReceiptInvalid) as error:
                failures += 1
                self.stderr.write(self.style.ERROR(f"INVALID receipt {label}: {error}"))
            else:
                latest = result
                self.stdout.write(self.style.SUCCESS(f"VALID receipt {label}: " + "; ".join(result.lines)))
        if save_tree_head and latest is not None:
            Path(save_tree_head).write_text(latest.head_jws + "\n")
            self.stdout.write(f"Saved the latest tree head ({latest.head['tree_size']} leaves) to {save_tree_head}.")
        if failures:
            raise CommandError(f"{failures} of {len(documents)} receipt(s) failed verification.", returncode=1)
        if pending:
            raise CommandError(f"{pending} receipt(s) not in the log yet: check again in a few minutes.", returncode=2)

    def _documents(self, file) -> list:
        try:
            raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise CommandError(f"{file} is not JSON: {error}.") from None
        return document["receipts"] if isinstance(document, dict) and isinstance(document.get("receipts"), list) else [document]

    @staticmethod
    def _label(document, index) -> str:
        receipt = document.get("receipt") if isinstance(document, dict) else None
        return receipt.get("receiptId", f"#{index}") if isinstance(receipt, dict) else f"#{index}"

    def _legacy(self, document, label) -> None:
        """An HMAC receipt: its signature with CMP_RECEIPT_KEYS, then its event in the audit log."""
        receipt = receipts.verify(document)
        ok, detail = receipts.matches_log(receipt)
        message = f"signature valid (key {document['signature']['kid']!r}, HMAC of before)"
        if not ok:
            raise receipts.ReceiptInvalid(f"{message}, but {detail}")
        self.stdout.write(self.style.SUCCESS(f"VALID receipt {label}: {message}; {detail}"))

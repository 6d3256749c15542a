"""Streaming exports of the audit log, as CSV or JSON Lines, in constant memory.

Rows are read with ``queryset.iterator(chunk_size=...)`` (a server-side
cursor on PostgreSQL) and written out as they come, a few hundred rows per
chunk of the HTTP response, so a million events take no more memory than a
thousand. Each row carries the event's ``prev_hash`` and ``event_hash``, so an
export can be checked against the log (or a later export) offline.

Every CSV cell goes through :func:`safe_cell` (the data-request export uses
it too): user agents and banner versions come from whoever writes, and a
spreadsheet would run a cell that starts like a formula.
"""
import csv
import json

from django.conf import settings
from django.http import StreamingHttpResponse

from consent.chain import iso_utc

COLUMNS = [
    "id", "created_at", "site", "visitor_id", "source", "regime", "region", "policy_version", "banner_version",
    "language", "choices", "signals", "decisions", "consent_mode", "ip_prefix", "user_agent", "prev_hash", "event_hash",
]
_VALUES = [
    "id", "created_at", "site__key", "visitor__uuid", "source", "regime", "region", "policy_version", "banner_version",
    "language", "choices", "signals", "decisions", "consent_mode", "ip_prefix", "user_agent", "prev_hash", "event_hash",
]
JSON_COLUMNS = {"choices", "signals", "decisions", "consent_mode"}
ROWS_PER_CHUNK = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def records(queryset, chunk_size=None):
    """Each event as a dict of plain values, in id order, streamed."""
    chunk_size = chunk_size or settings.CMP_AUDIT_EXPORT_CHUNK
    rows = queryset.order_by("id").values_list(*_VALUES).iterator(chunk_size=chunk_size)
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        record["created_at"] = iso_utc(record["created_at"])
        record["visitor_id"] = str(record["visitor_id"])
        yield record


def safe_cell(value):
    """A CSV cell a spreadsheet will not run: text starting with = + - @, a tab or CR gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A file-like object whose write() returns what was written (for csv.writer)."""

    def write(self, value):
        return value


def csv_chunks(queryset, chunk_size=None):
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    batch = []
    for record in records(queryset, chunk_size):
        batch.append(writer.writerow([
            safe_cell(json.dumps(record[c], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                      if c in JSON_COLUMNS else record[c])
            for c in COLUMNS
        ]))
        if len(batch) >= ROWS_PER_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def jsonl_chunks(queryset, chunk_size=None):
    batch = []
    for record in records(queryset, chunk_size):
        batch.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        if len(batch) >= ROWS_PER_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def streaming_response(queryset, fmt: str, filename: str) -> StreamingHttpResponse:
    chunks = csv_chunks(queryset) if fmt == "csv" else jsonl_chunks(queryset)
    response = StreamingHttpResponse((chunk.encode() for chunk in chunks), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response

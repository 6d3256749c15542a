"""The event table's monthly partitions (PostgreSQL only).

On PostgreSQL ``consent_consentevent`` is partitioned by month of
``created_at`` (migration 0019): one partition per calendar month (UTC), named
``consent_consentevent_pYYYYMM``, and a default partition that takes any event
no month holds (the events of before the migration, and any event dated where
no partition was made yet, so an insert never fails for want of one).
Retention then drops whole months (``audit/retention.py``) instead of deleting
rows one by one. Elsewhere (SQLite) the table is a plain table and these
functions do nothing.

A month's partition is made ahead of time (a daily task, ``AHEAD`` months
on), so a day it cannot be made (the table busy) costs nothing. PostgreSQL
refuses to make one for a month that already has rows in the default
partition, and such a month then simply stays in the default one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DatabaseError, connection, transaction

logger = logging.getLogger("consent")

TABLE = "consent_consentevent"
DEFAULT = f"{TABLE}_default"
AHEAD = 3  # months made beyond the current one
# Attaching a partition waits for the transactions that read the default partition (a long export) and for
# visitor writes (its foreign keys): give up after this long, and try again the next day.
LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Month:
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive


def partitioned() -> bool:
    """Whether the event table is partitioned here (PostgreSQL after migration 0019)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() is not None


def month_of(moment: datetime, offset: int = 0) -> Month:
    """The calendar month (UTC) of ``moment``, moved by ``offset`` months."""
    index = moment.astimezone(UTC).year * 12 + moment.astimezone(UTC).month - 1 + offset
    start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    end = datetime((index + 1) // 12, (index + 1) % 12 + 1, 1, tzinfo=UTC)
    return Month(f"{TABLE}_p{start:%Y%m}", start, end)


def months() -> list[Month]:
    """The monthly partitions that exist, oldest first (not the default one)."""
    return _months() if partitioned() else []


def _months() -> list[Month]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) AND c.relname <> %s ORDER BY c.relname", [TABLE, DEFAULT])
        names = [row[0] for row in cursor.fetchall()]
    return [month_of(datetime.strptime(name[-6:], "%Y%m").replace(tzinfo=UTC)) for name in names]


def ensure_months(first: datetime, last: datetime) -> list[str]:
    """Make the partitions of every month from ``first``'s to ``last``'s that does not exist yet; returns their names.

    A month the default partition already has events of cannot be made (and
    need not be: its events stay in the default partition); it is logged and
    skipped.
    """
    if not partitioned():
        return []
    existing = {m.name for m in _months()}
    made, offset = [], 0
    while (month := month_of(first, offset)).start <= last:
        offset += 1
        if month.name in existing:
            continue
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Made apart, then attached: CREATE TABLE … PARTITION OF would lock the whole event table, writes
                # included, while ATTACH lets them go on (it locks the default partition, which writes of now
                # do not reach).
                cursor.execute(f'CREATE TABLE "{month.name}" (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
                cursor.execute(f'ALTER TABLE {TABLE} ATTACH PARTITION "{month.name}" FOR VALUES FROM (%s) TO (%s)',
                               [month.start, month.end])
        except DatabaseError as error:
            logger.warning("event partition %s not made this time (its events would go to %s): %s", month.name,
                           DEFAULT, error)
            continue
        made.append(month.name)
    return made


def ensure_ahead(now: datetime) -> list[str]:
    """Make this month's partition and the next ``AHEAD`` months' (the daily task)."""
    return ensure_months(now, month_of(now, AHEAD).start)

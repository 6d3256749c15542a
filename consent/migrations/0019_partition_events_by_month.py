"""On PostgreSQL, partition the event table by month (consent/partitions.py).

The table as it was becomes the default partition, so no event is copied:
its events stay where they are, and new months get partitions of their own.
Its indexes, foreign keys and the append-only trigger move to the partitioned
table under their old names (PostgreSQL attaches the partition's equivalent
indexes and keys rather than building them again). The primary key becomes
(id, created_at), as a partitioned table's must include the partition key;
ids still come from the one identity sequence, so they stay unique.
Django's model does not change: elsewhere (SQLite) nothing happens.
"""
from django.db import migrations
from django.utils import timezone

from consent import partitions

TABLE, DEFAULT = partitions.TABLE, partitions.DEFAULT


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary", [TABLE])
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [TABLE])
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
        triggers = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {DEFAULT}")
        for name, _ in indexes:
            cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_d"')
        for name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {DEFAULT} RENAME CONSTRAINT "{name}" TO "{name}_d"')
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}" ON {DEFAULT}')
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {DEFAULT} INCLUDING DEFAULTS INCLUDING IDENTITY) PARTITION BY RANGE (created_at)")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), coalesce((SELECT max(id) FROM {DEFAULT}), 0) + 1, false)")
        cursor.execute(f"ALTER TABLE {DEFAULT} ALTER COLUMN id DROP IDENTITY")
        cursor.execute(f"ALTER TABLE {DEFAULT} DROP CONSTRAINT {TABLE}_pkey")
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, created_at)")
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {DEFAULT} DEFAULT")
        for _name, definition in indexes:
            cursor.execute(definition.replace(f" ON public.{DEFAULT} ", f" ON {TABLE} "))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')  # attaches the partition's
        for _name, definition in triggers:
            cursor.execute(definition.replace(f" ON public.{DEFAULT} ", f" ON {TABLE} "))
    # This month's partition is not made when the default one already has events of this month (logged).
    partitions.ensure_ahead(timezone.now())


class Migration(migrations.Migration):
    atomic = True

    dependencies = [
        ("consent", "0018_people"),
    ]

    operations = [
        # Not reversible: the partitions would have to be merged back into one table.
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]

"""``consent/rows.py``: the one-statement insert under the ORM, and what it cannot handle.

It reaches under ``save()`` (``Model._meta``, ``Model._state``), so these tests
hold it to what ``save()`` would do, and fail the day a model it inserts
gains a field it does not know how to write.
"""
import uuid

import pytest
from django.db import connection, models, transaction

from consent.models import ConsentEvent, Visitor
from consent.rows import insert_row, locked_row
from tests.support import another_session

VISITOR = uuid.UUID("0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10")


@pytest.mark.parametrize("model", [Visitor, ConsentEvent])
def test_every_field_of_the_inserted_models_is_one_insert_row_writes(model):
    for field in model._meta.concrete_fields:
        name = f"{model.__name__}.{field.name}"
        if field.primary_key:
            assert isinstance(field, models.AutoField | models.BigAutoField), f"{name}: insert_row leaves the key to the database"
            continue
        # insert_row sends the model's own default; a database default alone it would not send (it serves raw
        # SQL only, such as the benchmarks' COPY).
        assert field.has_default() or not field.has_db_default(), f"{name}: a database default is not sent by insert_row"
        assert not field.generated, f"{name}: a generated column cannot be inserted"
        # A field with a database default is returned by save(); insert_row sent its value, so it has it already.
        returned = getattr(field, "db_returning", False) and not (field.has_db_default() and field.has_default())
        assert not returned, f"{name}: insert_row returns only the key"
    assert not model._meta.many_to_many, f"{model.__name__}: many-to-many rows are not inserted"


@pytest.mark.django_db
def test_insert_row_writes_what_save_would(demo_site):
    by_row = Visitor(site=demo_site, uuid=VISITOR, token_hash="a" * 64, choices={"analytics": True}, language="fr")
    assert insert_row(by_row) is True
    by_save = Visitor(site=demo_site, uuid=uuid.uuid4(), token_hash="a" * 64, choices={"analytics": True}, language="fr")
    by_save.save()
    skip = {"id", "uuid", "created_at", "updated_at"}
    values = [{k: v for k, v in row.items() if k not in skip}
              for row in Visitor.objects.order_by("id").values()]
    assert values[0] == values[1]
    assert by_row.pk is not None and not by_row._state.adding


@pytest.mark.django_db
def test_insert_row_inserts_once_per_unique_key(demo_site):
    first = Visitor(site=demo_site, uuid=VISITOR, token_hash="a" * 64, choices={"analytics": True})
    assert insert_row(first, ignore_conflicts=True) is True
    again = Visitor(site=demo_site, uuid=VISITOR, token_hash="b" * 64)
    event = ConsentEvent(site=demo_site, visitor=again, source="api", regime="opt_in")
    assert insert_row(again, ignore_conflicts=True, child=event) is False
    assert again.pk is None and event.pk is None and ConsentEvent.objects.count() == 0
    stored = Visitor.objects.get()
    assert (stored.pk, stored.token_hash, stored.choices) == (first.pk, "a" * 64, {"analytics": True})


@pytest.mark.django_db
def test_insert_row_with_its_child(demo_site):
    visitor = Visitor(site=demo_site, uuid=VISITOR, token_hash="a" * 64)
    event = ConsentEvent(site=demo_site, visitor=visitor, source="api", regime="opt_in", choices={"analytics": True})
    assert insert_row(visitor, ignore_conflicts=True, child=event) is True
    stored = ConsentEvent.objects.select_related("visitor").get()
    assert (stored.pk, stored.visitor_id, stored.visitor.uuid) == (event.pk, visitor.pk, VISITOR)
    assert stored.choices == {"analytics": True} and event.visitor_id == visitor.pk


@pytest.mark.django_db
def test_update_row_writes_what_save_would_and_inserts_the_child(demo_site):
    from consent.rows import update_row

    by_row = Visitor(site=demo_site, uuid=VISITOR, token_hash="a" * 64)
    by_save = Visitor(site=demo_site, uuid=uuid.uuid4(), token_hash="a" * 64)
    insert_row(by_row), insert_row(by_save)
    for visitor in (by_row, by_save):
        visitor.choices, visitor.language, visitor.last_event_hash = {"analytics": False}, "de", "c" * 64
    event = ConsentEvent(site=demo_site, visitor_id=0, source="api", regime="opt_in", event_hash="c" * 64)
    update_row(by_row, child=event)
    by_save.save()
    skip = {"id", "uuid", "created_at", "updated_at"}
    values = [{k: v for k, v in row.items() if k not in skip} for row in Visitor.objects.order_by("id").values()]
    assert values[0] == values[1] and values[0]["language"] == "de"
    stored = ConsentEvent.objects.get()
    assert (stored.pk, stored.visitor_id, stored.event_hash) == (event.pk, by_row.pk, "c" * 64)


@pytest.mark.django_db(transaction=True)
def test_locked_row_reads_the_row_and_locks_it_until_the_transaction_ends(demo_site):
    stored = Visitor.objects.create(site=demo_site, uuid=VISITOR, token_hash="a" * 64, choices={"analytics": True})
    fields = [f.attname for f in Visitor._meta.concrete_fields]
    with transaction.atomic():
        locked = locked_row(Visitor, site_id=demo_site.id, uuid=str(VISITOR))
        assert [getattr(locked, name) for name in fields] == [getattr(stored, name) for name in fields]
        assert locked_row(Visitor, site_id=demo_site.id, uuid=uuid.uuid4()) is None
        if connection.vendor == "postgresql":
            import psycopg

            with another_session() as other, pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("SELECT 1 FROM consent_visitor WHERE id = %s FOR UPDATE NOWAIT", [stored.pk])
    if connection.vendor == "postgresql":
        with another_session() as other:  # the transaction has ended: the lock with it
            assert other.execute("SELECT 1 FROM consent_visitor WHERE id = %s FOR UPDATE NOWAIT", [stored.pk]).fetchone()

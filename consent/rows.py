"""Writing a visitor and its event in one statement, below the ORM's ``save()``.

The consent write's first statement creates a visitor together with the
first event of its chain, and a later write locks the visitor's row, then updates it together with
its new event; ``save()`` costs more there than the statement itself (signals,
SQL compiled anew each time), and would take two, and so does the ORM's
``select_for_update().first()`` for the lock. This is the one module that
reaches under the ORM (``Model._meta``, ``Model._state``): everything it does
with them is here, and ``tests/unit/test_rows.py`` fails when a model it
inserts gains a field it cannot handle.
"""
import functools

from django.db import DEFAULT_DB_ALIAS, connections, models


def insert_row(instance: models.Model, *, ignore_conflicts: bool = False, child: models.Model | None = None) -> bool:
    """INSERT ``instance`` in one statement and set its id; False if it was not inserted.

    ``ignore_conflicts``: a row that would break a unique constraint (one
    that exists, or that a concurrent transaction inserts and commits) is
    not inserted, and no error is raised (``ON CONFLICT DO NOTHING``).
    ``child``: a new row whose foreign key points at ``instance``, inserted
    with it when ``instance`` is; on PostgreSQL in the same statement (one
    round trip fewer), on SQLite right after.

    This is ``save()`` for a new row without what surrounds it (signals, SQL
    compiled anew each time), which costs more than the statement itself on
    the write path: the SQL is built once per model, and each value goes
    through its field's own ``pre_save`` and ``get_db_prep_save``, as the
    ORM sends it. No ``pre_save``/``post_save`` signals are sent.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of django.db.connection is a thread-local lookup
    together = child is not None and db.vendor == "postgresql"
    sql = _insert_sql(type(instance), ignore_conflicts, type(child) if together else None)
    params = _values(db, instance) + (_values(db, child, instance) if together else [])
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(instance, row[0], db)
    if child is not None:
        setattr(child, _link(type(child), type(instance)).attname, row[0])
        if together:
            _saved(child, row[1], db)
        else:
            insert_row(child)
    return True


def update_row(instance: models.Model, *, child: models.Model) -> None:
    """UPDATE every column of the saved ``instance`` and INSERT ``child``, a new row whose foreign key points at it;
    on PostgreSQL in one statement, on SQLite one after the other. ``save()`` for the pair, as :func:`insert_row`."""
    db = connections[DEFAULT_DB_ALIAS]
    model, together = type(instance), db.vendor == "postgresql"
    params = [f.get_db_prep_save(f.pre_save(instance, False), db) for f in _columns(model)] + [instance.pk]
    setattr(child, _link(type(child), model).attname, instance.pk)
    if together:
        params += _values(db, child)
    with db.cursor() as cursor:
        cursor.execute(_update_sql(model, type(child) if together else None), params)
        if together:
            _saved(child, cursor.fetchone()[0], db)
    if not together:
        insert_row(child)


def locked_row(model, **key):
    """The row of ``model`` whose columns equal ``key`` (a unique key, by field name), locked until the transaction
    ends (``FOR UPDATE``, where the database has it), or None.

    ``select_for_update().filter(**key).first()`` without its cost: the SQL is
    built once per model and key, each value goes through its field's
    ``get_db_prep_value`` as the ORM sends it, and the row comes back through
    the converters and ``Model.from_db`` as the ORM reads it.
    """
    db = connections[DEFAULT_DB_ALIAS]
    names = tuple(key)
    fields = [model._meta.get_field(name) for name in names]
    params = [field.get_db_prep_value(key[name], db) for field, name in zip(fields, names, strict=True)]
    with db.cursor() as cursor:
        cursor.execute(_select_sql(model, names, db.features.has_select_for_update), params)
        row = cursor.fetchone()
    return None if row is None else _instance(model, db, row)


def _instance(model, db, row) -> models.Model:
    """The instance of a row of ``_select_sql``, each value converted as the ORM's reads convert it."""
    fields, values = model._meta.concrete_fields, []
    for field, value in zip(fields, row, strict=True):
        column = field.get_col(model._meta.db_table)
        for convert in db.ops.get_db_converters(column) + field.get_db_converters(db):
            value = convert(value, column, db)
        values.append(value)
    return model.from_db(db.alias, [field.attname for field in fields], values)


def _values(db, instance, parent=None) -> list:
    """The row's values as the database takes them; without the link to ``parent`` (the statement makes it)."""
    skip = _link(type(instance), type(parent)) if parent is not None else None
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in _columns(type(instance)) if f is not skip]


def _saved(instance, pk, db) -> None:
    instance.pk = pk
    instance._state.adding, instance._state.db = False, db.alias


@functools.cache
def _columns(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@functools.cache
def _link(child_model, parent_model):
    """The foreign key of ``child_model`` that points at ``parent_model``."""
    return next(f for f in child_model._meta.concrete_fields if f.is_relation and f.related_model is parent_model)


@functools.cache
def _insert_sql(model, ignore_conflicts: bool, child_model=None) -> str:
    """``INSERT … RETURNING id`` (the same on PostgreSQL and SQLite); with
    ``child_model``, a PostgreSQL CTE that also inserts the child row, linked to the new id."""
    quote, table = connections[DEFAULT_DB_ALIAS].ops.quote_name, model._meta.db_table
    columns = _columns(model)
    sql = f"INSERT INTO {quote(table)} ({', '.join(quote(f.column) for f in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    sql += f" RETURNING {quote(model._meta.pk.column)}"
    if child_model is None:
        return sql
    link, child_columns = _link(child_model, model), _columns(child_model)
    values = ", ".join("parent.id" if f is link else "%s" for f in child_columns)
    return (f"WITH parent AS ({sql} AS id) INSERT INTO {quote(child_model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in child_columns)}) SELECT {values} FROM parent "
            f"RETURNING {quote(link.column)}, {quote(child_model._meta.pk.column)}")


@functools.cache
def _select_sql(model, names: tuple, for_update: bool) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    where = " AND ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in names)
    columns = ", ".join(quote(f.column) for f in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where}" + (" FOR UPDATE" if for_update else "")


@functools.cache
def _update_sql(model, child_model=None) -> str:
    """``UPDATE`` of every column by the key; with ``child_model``, a PostgreSQL CTE that also inserts the child row."""
    quote, table = connections[DEFAULT_DB_ALIAS].ops.quote_name, model._meta.db_table
    sql = (f"UPDATE {quote(table)} SET {', '.join(f'{quote(f.column)} = %s' for f in _columns(model))} "
           f"WHERE {quote(model._meta.pk.column)} = %s")
    if child_model is None:
        return sql
    child_columns = _columns(child_model)
    return (f"WITH parent AS ({sql}) INSERT INTO {quote(child_model._meta.db_table)} "
            f"({', '.join(quote(f.column) for f in child_columns)}) VALUES ({', '.join(['%s'] * len(child_columns))}) "
            f"RETURNING {quote(child_model._meta.pk.column)}")

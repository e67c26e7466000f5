"""Querysets compiled once per process, and statements prepared once per connection, for the
few hot paths where building and compiling a queryset, or planning a statement, costs more than
running it (a flash sale's claim, token authentication).

The query is still written with the ORM; only its SQL and how to read its rows are kept. Each
run sends that SQL with new values in the places the samples took and makes model instances
with ``Model.from_db`` and the same converters ``ModelIterable`` would apply: what a queryset
works out from its compiler on every evaluation, worked out once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet


class _Compiled(NamedTuple):
    model: type[Model]
    sql: str
    params: tuple
    slots: tuple  # the sample's name each parameter takes, or None: the compiled value stays
    columns: list
    init_list: list[str]
    own: list  # each column's field converters


class CompiledQuery:
    """``build(**samples)`` returns the queryset; it is built and compiled once per database
    alias, and :meth:`fetch` runs it with ``**values`` where the samples were.

    The samples are strings or integers that no constant of the query can equal (a string
    starting with a NUL, a negative number no id takes): each parameter of the compiled SQL
    equal to a sample is that argument, every other one stays as compiled. A sample the SQL
    does not carry as a parameter, or two samples that are equal, are refused at compile.
    Only the queryset's own model is read back: no ``select_related``, annotations or
    ``prefetch_related`` (a join written as a filter is fine).
    """

    def __init__(self, build: Callable[..., QuerySet], **samples: str | int):
        self._build = build
        self._samples = samples
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, using: str) -> _Compiled:
        qs = self._build(**self._samples).using(using)
        query = qs.query
        if query.select_related or query.annotation_select or qs._prefetch_related_lookups:
            raise ImproperlyConfigured("A compiled query reads its model's own columns only.")
        compiler = query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        slots = []
        for param in params:
            names = [
                name
                for name, sample in self._samples.items()
                if type(param) is type(sample) and param == sample
            ]
            if len(names) > 1:
                raise ImproperlyConfigured(f"Samples {names} are equal: give each its own value.")
            slots.append(names[0] if names else None)
        missing = set(self._samples) - set(slots)
        if missing:
            raise ImproperlyConfigured(f"The compiled query does not carry {sorted(missing)}.")
        columns = [col for col, *_ in compiler.select]
        init_list = [col.target.attname for col in columns]
        # The fields' own converters (from_db_value); the backend's are asked for on each run,
        # so that nothing kept here holds on to one thread's connection.
        own = [col.get_db_converters(compiler.connection) for col in columns]
        compiled = _Compiled(qs.model, sql, tuple(params), tuple(slots), columns, init_list, own)
        self._compiled[using] = compiled
        return compiled

    def sql(self, using: str = DEFAULT_DB_ALIAS, **values) -> tuple[str, list]:
        """The SQL and its arguments for these values, to run inside a bigger statement (as a
        subquery or a CTE): it selects the columns :meth:`fetch` reads, in the same order."""
        compiled = self._compiled.get(using) or self._compile(using)
        pairs = zip(compiled.slots, compiled.params, strict=True)
        return compiled.sql, [values[slot] if slot else param for slot, param in pairs]

    def fetch(self, using: str = DEFAULT_DB_ALIAS, **values) -> list[Model]:
        """The rows for these values, as model instances (deferred fields as ``only`` left
        them)."""
        compiled = self._compiled.get(using) or self._compile(using)
        sql, args = self.sql(using, **values)
        connection = connections[using]
        with hot_cursor(using) as cursor:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        model, init_list = compiled.model, compiled.init_list
        return [
            model.from_db(using, init_list, row)
            for row in converted_rows(rows, compiled.columns, compiled.own, connection)
        ]


def converted_rows(rows, columns, own, connection):
    """``rows`` with each value passed through its column's converters, as ``ModelIterable``
    does: the backend's (asked for on each call, from this thread's connection) and then the
    field's own (``own``, one list per column, from ``get_db_converters``)."""
    converters = [
        (at, funcs, column)
        for at, (column, field_funcs) in enumerate(zip(columns, own, strict=True))
        if (funcs := connection.ops.get_db_converters(column) + field_funcs)
    ]
    if not converters:
        return rows
    out = []
    for row in rows:
        row = list(row)
        for at, funcs, column in converters:
            value = row[at]
            for convert in funcs:
                value = convert(value, column, connection)
            row[at] = value
        out.append(row)
    return out


class _PreparedCursor(psycopg.Cursor):
    """Binds on the server and prepares every statement it runs, once per connection (psycopg
    keeps the last hundred)."""

    def execute(self, query, params=None, **kwargs):
        return super().execute(query, params, prepare=True)


def hot_cursor(using: str = DEFAULT_DB_ALIAS):
    """A cursor for a statement that runs on every request of a hot path. On PostgreSQL, when
    the database allows prepared statements (its ``OPTIONS["prepare_threshold"]``, set in the
    connection settings unless a transaction-pooling proxy forbids them), it is planned once per
    connection, behind Django's wrapper (its errors: ``IntegrityError``...). Otherwise (SQLite,
    prepared statements off, or queries being logged: DEBUG, a test counting them, which want
    the SQL with its values) Django's own cursor."""
    connection = connections[using]
    connection.ensure_connection()
    if (
        connection.vendor != "postgresql"
        or connection.connection.prepare_threshold is None
        or connection.queries_logged
    ):
        return connection.cursor()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        return connection.make_cursor(_PreparedCursor(connection.connection))

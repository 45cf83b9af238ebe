"""Fixed-shape ORM queries compiled to SQL once per process: a hot path (the token check, a user's
grants, the tag names of a page) then pays for its round trip, not for building and compiling the
same query again on every request.

The SQL comes from the ORM, so table and column names, joins and the database's dialect stay the
ORM's; only the values change between runs. `build` receives one marker per slot and must pass it
to the ORM unchanged into a query parameter (plain equality on an integer or text column, or a
parameter of RawSQL): compiling checks that every marker reached the parameters exactly as given
and refuses the query otherwise. Results go through the same converters the ORM applies (aware
datetimes, decimals, JSON), so rows look as `values_list()` would return them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import QuerySet

# Markers: values that no real query would hold. Integers stay inside every backend's bigint range
# (an out-of-range integer lookup would be compiled into "matches nothing").
_INT_MARKER_BASE = -(10**15)
_counter = itertools.count()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # constants of the query
    slots: tuple[tuple[int, str], ...]  # (parameter position, slot name) of each bound value
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]  # (column, functions, expression)


class PreparedQuery:
    """`build(**markers) -> QuerySet` compiled once per database alias; `rows(**values)` runs it.

    `slots` names each run-time value and its kind (int or str)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **slots: type) -> None:
        if any(kind not in (int, str) for kind in slots.values()):
            raise ImproperlyConfigured("prepared query slots are int or str")
        self._build = build
        self._slots = slots
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, using: str) -> _Compiled:
        markers: dict[str, Any] = {}
        for name, kind in self._slots.items():
            number = next(_counter)
            markers[name] = _INT_MARKER_BASE - number if kind is int else f"\x00l2c-slot-{number}:{name}\x00"
        queryset = self._build(**markers)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        by_value: dict[tuple[type, Any], str] = {(type(marker), marker): name for name, marker in markers.items()}
        constants: list[Any] = []
        slots: list[tuple[int, str]] = []
        for position, param in enumerate(params):
            slot = by_value.get((type(param), param))
            if slot is None:
                constants.append(param)
            else:
                constants.append(None)
                slots.append((position, slot))
        if {name for _, name in slots} != set(markers):
            raise ImproperlyConfigured(f"a slot of this prepared query did not reach its parameters: {sql}")
        columns = [expression for expression, _sql, _alias in compiler.select[: compiler.col_count]]
        converters = tuple((position, tuple(functions), expression)
                           for position, (functions, expression) in compiler.get_converters(columns).items())
        return _Compiled(sql, tuple(constants), tuple(slots), converters)

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[tuple[Any, ...]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(using)
        params = list(compiled.params)
        for position, name in compiled.slots:
            params[position] = values[name]
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            values_of_row = list(row)
            for position, functions, expression in compiled.converters:
                value = values_of_row[position]
                for function in functions:
                    value = function(value, expression, connection)
                values_of_row[position] = value
            converted.append(tuple(values_of_row))
        return converted


# A list of ids as ONE parameter (`id IN (<subquery>)`): binding thousands of values one by one costs
# more Python time than the whole query, SQLite limits a statement to 32,766 parameters, and a
# prepared query needs a fixed number of parameters.
ID_LIST_SQL = {"sqlite": "SELECT value FROM json_each(%s)", "postgresql": "SELECT unnest(%s::bigint[])"}


def id_list_param(ids: list[int]) -> Any:
    """The parameter of `ID_LIST_SQL` for the default database: a JSON array, or an array."""
    return json.dumps(ids) if connection.vendor == "sqlite" else ids

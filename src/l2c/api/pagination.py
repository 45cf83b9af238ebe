"""Keyset (cursor) pagination: never deep OFFSET. Sort keys are allow-listed per endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from l2c.db.prepared import ID_LIST_SQL, id_list_param
from l2c.kernel.cursor import Direction, decode_cursor, encode_cursor
from l2c.kernel.errors import FieldError, ValidationFailed

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


# A streamed search reads its matches in batches growing by STREAM_GROWTH from STREAM_FIRST_BATCH:
# one batch serves a page when a tenth of the matches are visible; a user who sees few of them
# costs a few more round trips, never one per row.
STREAM_FIRST_BATCH = 500
STREAM_GROWTH = 4
STREAM_MAX_BATCH = 16_000


class IdStream(Protocol):
    """Ids of matching rows in id order, read in batches (e.g. from a full-text index)."""

    def batch(self, *, bound: int | None, descending: bool, size: int) -> list[int]: ...


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _parse_sort(sort: str, allowed: Mapping[str, str]) -> tuple[str, bool]:
    if sort not in allowed:
        raise ValidationFailed(
            _("不能按“%(sort)s”排序。") % {"sort": sort},
            errors=[FieldError("sort", _("必须是以下之一：%(values)s。") % {"values": ", ".join(allowed)},
                               "invalid_choice")],
        )
    field = allowed[sort]
    return field.lstrip("-"), field.startswith("-")


def _bad_cursor(*, of_this_list: bool = True) -> ValidationFailed:
    message = _("分页游标无效：它不属于这个列表。") if of_this_list else _("分页游标无效。")
    return ValidationFailed(message, errors=[FieldError("cursor", message, "invalid_cursor")])


def _cursor_values(queryset: QuerySet[Any], field: str, values: tuple[Any, ...]) -> tuple[Any, int]:
    """The (sort value, id) of a decoded cursor, checked against this list's sort field.

    The cursor checksum is no signature, so a client may forge a well-formed cursor; values of the
    wrong type (or a cursor of another sort order) are a 422 on `cursor`, never a database error.
    """
    bad = _bad_cursor()
    if len(values) != 2:
        raise bad
    value, last_id = values
    try:
        converted = queryset.model._meta.get_field(field).to_python(value)
        queryset.model._meta.pk.to_python(last_id)
    except (DjangoValidationError, TypeError, ValueError):
        raise bad from None
    # A genuine cursor holds exactly the types the sort field and the primary key have.
    if value is None or type(converted) is not type(value) or type(last_id) is not int:
        raise bad
    return value, last_id


def _value(row: Any, name: str) -> Any:
    """A field of a model instance or of a `.values()` dict (which must include "id" and the sort field)."""
    if isinstance(row, dict):
        return row["id"] if name == "pk" else row[name]
    return getattr(row, name)


def id_list_q(ids: list[int], field: str = "pk") -> Q:
    """`field` IN (ids) as ONE parameter (a JSON array): binding thousands of values one by one costs
    more Python time than the whole query, and SQLite limits a statement to 32,766 parameters."""
    if connection.vendor in ID_LIST_SQL:
        sql = ID_LIST_SQL[connection.vendor]
        return Q(**{f"{field}__in": RawSQL(sql, [id_list_param(ids)])})  # noqa: S611 (constant SQL)
    return Q(**{f"{field}__in": ids})



def _streamed_rows(queryset: QuerySet[Any], stream: IdStream, *, bound: int | None, descending: bool,
                   wanted: int) -> list[Any]:
    """Up to `wanted` rows of `queryset` among the stream's ids past `bound`, in id order: batch after
    batch of the stream until enough rows are found or the stream ends."""
    order = "-pk" if descending else "pk"
    rows: list[Any] = []
    size = STREAM_FIRST_BATCH
    while True:
        ids = stream.batch(bound=bound, descending=descending, size=size)
        if ids:
            rows += list(queryset.filter(id_list_q(ids)).order_by(order)[: wanted - len(rows)])
        if len(rows) >= wanted or len(ids) < size:
            return rows
        bound, size = ids[-1], min(size * STREAM_GROWTH, STREAM_MAX_BATCH)


def keyset_page(queryset: QuerySet[Any], *, sort: str, allowed_sorts: Mapping[str, str], cursor: str | None,
                limit: int, stream: IdStream | None = None) -> Page:
    """One page of `queryset` ordered by (sort field, id), continuing after/before `cursor`.

    The sort field must be NOT NULL so that (value, id) is a total order. With a `stream` (only for
    the sort by id) the page's rows are `queryset` rows among the stream's ids, read batch by batch.
    """
    if limit < 1 or limit > MAX_PAGE_SIZE:
        message = _("每页条数必须在 1 到 %(max)s 之间。") % {"max": MAX_PAGE_SIZE}
        raise ValidationFailed(message, errors=[FieldError("limit", message, "out_of_range")])
    field, descending = _parse_sort(sort, allowed_sorts)
    direction = Direction.NEXT
    last_id: int | None = None
    if cursor:
        try:
            decoded = decode_cursor(cursor)
        except ValidationFailed:  # the kernel's message is English
            raise _bad_cursor(of_this_list=False) from None
        direction = decoded.direction
        value, last_id = _cursor_values(queryset, field, decoded.values)
        forward = direction == Direction.NEXT
        after = forward != descending  # moving to larger values?
        op = "gt" if after else "lt"
        # The leading inclusive bound lets the database range-scan the (field, id) index; the OR alone
        # makes SQLite walk every row before the cursor, so deep pages would cost O(depth).
        queryset = queryset.filter(
            Q(**{f"{field}__{op}e": value}),
            Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": last_id}),
        )
    backwards = direction == Direction.PREVIOUS
    order_desc = descending != backwards
    prefix = "-" if order_desc else ""
    if stream is not None and field == "id":
        rows = _streamed_rows(queryset, stream, bound=last_id, descending=order_desc, wanted=limit + 1)
    else:
        rows = list(queryset.order_by(f"{prefix}{field}", f"{prefix}pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    next_cursor = previous_cursor = None
    if rows:
        first, last = rows[0], rows[-1]
        if has_more or backwards:
            next_cursor = encode_cursor((_value(last, field), _value(last, "pk")), Direction.NEXT)
        if cursor and (not backwards or has_more):
            previous_cursor = encode_cursor((_value(first, field), _value(first, "pk")), Direction.PREVIOUS)
    return Page(items=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)

"""Keyset (cursor) pagination: never deep OFFSET. Sort keys are allow-listed per endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from l2c.kernel.cursor import Direction, decode_cursor, encode_cursor
from l2c.kernel.errors import FieldError, ValidationFailed

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def _parse_sort(sort: str, allowed: Mapping[str, str]) -> tuple[str, bool]:
    if sort not in allowed:
        raise ValidationFailed(
            f"Cannot sort by {sort!r}.",
            errors=[FieldError("sort", f"must be one of {', '.join(allowed)}", "invalid_choice")],
        )
    field = allowed[sort]
    return field.lstrip("-"), field.startswith("-")


def _cursor_values(queryset: QuerySet[Any], field: str, values: tuple[Any, ...]) -> tuple[Any, int]:
    """The (sort value, id) of a decoded cursor, checked against this list's sort field.

    The cursor checksum is no signature, so a client may forge a well-formed cursor; values of the
    wrong type (or a cursor of another sort order) are a 422 on `cursor`, never a database error.
    """
    bad = ValidationFailed("Bad cursor.", errors=[FieldError("cursor", "not a cursor of this list", "invalid_cursor")])
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


def keyset_page(queryset: QuerySet[Any], *, sort: str, allowed_sorts: Mapping[str, str], cursor: str | None,
                limit: int) -> Page:
    """One page of `queryset` ordered by (sort field, id), continuing after/before `cursor`.

    The sort field must be NOT NULL so that (value, id) is a total order.
    """
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise ValidationFailed("Bad page size.", errors=[FieldError("limit", f"must be 1..{MAX_PAGE_SIZE}")])
    field, descending = _parse_sort(sort, allowed_sorts)
    direction = Direction.NEXT
    if cursor:
        decoded = decode_cursor(cursor)
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

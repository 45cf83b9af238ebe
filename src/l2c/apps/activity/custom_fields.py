"""Validation of administrator-defined custom field values (stored in a record's `custom` JSON)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from l2c.kernel.errors import FieldError, ValidationFailed

from .models import CustomField

TRUE_WORDS = {"1", "true", "yes", "y", "是", "对", "√"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "错", "×", ""}


def definitions(object_type: str) -> list[CustomField]:
    return list(CustomField.objects.filter(object_type=object_type, is_active=True))


def _clean_one(field: CustomField, raw: Any) -> Any:
    """The stored JSON value of one custom field, or raise ValueError with a human reason."""
    kind = field.kind
    if raw is None or (isinstance(raw, str) and not raw.strip() and kind != CustomField.Kind.BOOLEAN):
        return None
    if kind == CustomField.Kind.TEXT:
        text = str(raw).strip()
        limit = field.max_length or 1000
        if len(text) > limit:
            raise ValueError(f"at most {limit} characters")
        return text
    if kind in (CustomField.Kind.NUMBER, CustomField.Kind.DECIMAL):
        if isinstance(raw, bool):
            raise ValueError("must be a number")
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite():
            raise ValueError("must be a number")
        if kind == CustomField.Kind.NUMBER and number != number.to_integral_value():
            raise ValueError("must be a whole number")
        if field.min_value is not None and number < field.min_value:
            raise ValueError(f"must be at least {field.min_value.normalize()}")
        if field.max_value is not None and number > field.max_value:
            raise ValueError(f"must be at most {field.max_value.normalize()}")
        return int(number) if kind == CustomField.Kind.NUMBER else str(number)
    if kind == CustomField.Kind.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip().replace("/", "-")).isoformat()
        except ValueError:
            raise ValueError("must be a date like 2026-01-31") from None
    if kind == CustomField.Kind.CHOICE:
        value = str(raw).strip()
        if value not in field.choices:
            raise ValueError(f"must be one of {', '.join(map(str, field.choices))}")
        return value
    if kind == CustomField.Kind.MULTI_CHOICE:
        items = raw if isinstance(raw, list | tuple) else [part for part in str(raw).replace("；", ";").split(";")]
        values = [str(item).strip() for item in items if str(item).strip()]
        unknown = [value for value in values if value not in field.choices]
        if unknown:
            raise ValueError(f"unknown choice {unknown[0]!r}; allowed: {', '.join(map(str, field.choices))}")
        return list(dict.fromkeys(values))
    if kind == CustomField.Kind.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("must be yes or no")
    raise ValueError(f"unknown field kind {kind}")


def clean_custom_values(
    object_type: str, values: Mapping[str, Any] | None, *, existing: Mapping[str, Any] | None = None,
    partial: bool = False, fields: list[CustomField] | None = None, row: int | None = None,
) -> dict[str, Any]:
    """Validate incoming custom values and merge them over `existing`.

    Unknown keys and invalid values raise ValidationFailed naming `custom.<key>`; a required field
    must end up with a value (on partial updates only when the update touches it).
    """
    fields = definitions(object_type) if fields is None else fields
    by_key = {field.key: field for field in fields}
    result = dict(existing or {})
    errors: list[FieldError] = []
    for key, raw in (values or {}).items():
        field = by_key.get(key)
        if field is None:
            errors.append(FieldError(f"custom.{key}", "unknown custom field", "unknown_field", row))
            continue
        try:
            cleaned = _clean_one(field, raw)
        except ValueError as error:
            errors.append(FieldError(f"custom.{key}", str(error), "invalid", row))
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    for field in fields:
        missing = result.get(field.key) in (None, "", [])
        if field.is_required and missing and (not partial or field.key in (values or {})):
            errors.append(FieldError(f"custom.{field.key}", "required", "required", row))
    if errors:
        raise ValidationFailed("Custom field values are not valid.", errors=errors)
    return result

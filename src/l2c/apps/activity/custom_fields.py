"""Validation of administrator-defined custom field values (stored in a record's `custom` JSON)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

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
            raise ValueError(_("最多 %(limit)s 个字符。") % {"limit": limit})
        return text
    if kind in (CustomField.Kind.NUMBER, CustomField.Kind.DECIMAL):
        if isinstance(raw, bool):
            raise ValueError(_("必须是数字。"))
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("必须是数字。")) from None
        if not number.is_finite():
            raise ValueError(_("必须是数字。"))
        if kind == CustomField.Kind.NUMBER and number != number.to_integral_value():
            raise ValueError(_("必须是整数。"))
        if field.min_value is not None and number < field.min_value:
            raise ValueError(_("不能小于 %(minimum)s。") % {"minimum": field.min_value.normalize()})
        if field.max_value is not None and number > field.max_value:
            raise ValueError(_("不能大于 %(maximum)s。") % {"maximum": field.max_value.normalize()})
        return int(number) if kind == CustomField.Kind.NUMBER else str(number)
    if kind == CustomField.Kind.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip().replace("/", "-")).isoformat()
        except ValueError:
            raise ValueError(_("必须是日期，例如 2026-01-31。")) from None
    if kind == CustomField.Kind.CHOICE:
        value = str(raw).strip()
        if value not in field.choices:
            raise ValueError(_("必须是以下之一：%(values)s。") % {"values": ", ".join(map(str, field.choices))})
        return value
    if kind == CustomField.Kind.MULTI_CHOICE:
        items = raw if isinstance(raw, list | tuple) else [part for part in str(raw).replace("；", ";").split(";")]
        values = [str(item).strip() for item in items if str(item).strip()]
        unknown = [value for value in values if value not in field.choices]
        if unknown:
            raise ValueError(_("未知选项“%(choice)s”，可选：%(values)s。") % {
                "choice": unknown[0], "values": ", ".join(map(str, field.choices))})
        return list(dict.fromkeys(values))
    if kind == CustomField.Kind.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(_("必须是“是”或“否”。"))
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
            errors.append(FieldError(f"custom.{key}", _("没有这个自定义字段。"), "unknown_field", row))
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
            errors.append(FieldError(f"custom.{field.key}", _("此项为必填项。"), "required", row))
    if errors:
        raise ValidationFailed(_("自定义字段的值有误。"), errors=errors)
    return result

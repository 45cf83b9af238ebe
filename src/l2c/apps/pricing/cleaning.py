"""Field cleaning shared by the pricing services and importers: numbers, codes, dates, lists, the
customer dimensions of a book scope or promotion eligibility, the engine's rule messages, version
checks and the audit call. Every problem is appended as a `FieldError` (field + stable code) so a
service reports all of them at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from l2c.apps.activity.audit import audit_record, jsonable
from l2c.apps.customers.models import Account
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import FieldError, PreconditionFailed, ValidationFailed

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
GROUP_LEVELS = ("key", "important", "normal")
MAX_SCOPE_ITEMS = 1000
# What the engine's RuleError codes mean, for the messages of promotion params and entries.
RULE_MESSAGES = {
    "required": gettext_noop("必填。"),
    "invalid_number": gettext_noop("不是有效的数字。"),
    "positive": gettext_noop("必须大于 0。"),
    "non_negative": gettext_noop("不能为负数。"),
    "percent_range": gettext_noop("百分比必须大于 0 且不超过 100。"),
    "integer": gettext_noop("必须是整数。"),
    "minimum": gettext_noop("小于允许的最小值。"),
    "invalid_boolean": gettext_noop("必须是 true 或 false。"),
    "unknown_field": gettext_noop("不认识的参数。"),
    "unknown_kind": gettext_noop("未知的促销类型。"),
    "invalid": gettext_noop("格式无效。"),
    "one_of": gettext_noop("两个参数必须且只能填一个。"),
    "duplicate": gettext_noop("重复。"),
    "bundle_too_small": gettext_noop("组合至少需要两件商品。"),
    "not_ascending": gettext_noop("必须按从小到大排列且不能重复。"),
    "amount_above_threshold": gettext_noop("减免金额不能超过门槛。"),
    "first_tier_start": gettext_noop("第一档的起始数量必须是 0 或 1。"),
    "tiers_need_fixed": gettext_noop("只有固定单价可以设置阶梯。"),
    "tiers_without_mode": gettext_noop("设置了阶梯就要选择阶梯方式。"),
    "markup_range": gettext_noop("加成必须大于 -100%。"),
    "invalid_choice": gettext_noop("不是可选的值。"),
    "validity_order": gettext_noop("结束时间不能早于开始时间。"),
    "validity_required": gettext_noop("限时秒杀价必须填写开始和结束时间。"),
    "groups_required": gettext_noop("会员/客户组价必须指定适用客户组。"),
}


def rule_message(code: str) -> str:
    """The message of an engine RuleError code in the active language."""
    return _(RULE_MESSAGES.get(code, "无效。"))


# --- cleaning helpers --------------------------------------------------------------------------------
def raise_errors(errors: list[FieldError], message: str) -> None:
    if errors:
        raise ValidationFailed(message, errors=errors)


def decimal_or_none(raw: Any) -> Decimal | None:
    """A finite Decimal from a number or text ("1,200.50", full-width digits), None when blank;
    ValueError when not a number. Floats go through their shortest text (never binary noise)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValueError("boolean")
    if isinstance(raw, float):
        raw = repr(raw)
    text = str(raw).strip().replace(",", "").replace("，", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def clean_decimal(data: Mapping[str, Any], name: str, errors: list[FieldError], *, field: str | None = None,
             required: bool = False, minimum: Decimal | None = None, positive: bool = False,
             maximum: Decimal | None = None, places: int = 4) -> Decimal | None:
    field = field or name
    try:
        value = decimal_or_none(data.get(name))
    except ValueError:
        errors.append(FieldError(field, _("不是有效的数字。"), "invalid_number"))
        return None
    if value is None:
        if required:
            errors.append(FieldError(field, _("必填。"), "required"))
        return None
    if positive and value <= 0:
        errors.append(FieldError(field, _("必须大于 0。"), "positive"))
    elif minimum is not None and value < minimum:
        message = _("不能为负数。") if minimum == 0 else _("不能小于 %(min)s。") % {"min": minimum}
        errors.append(FieldError(field, message, "non_negative" if minimum == 0 else "minimum"))
    elif maximum is not None and value > maximum:
        errors.append(FieldError(field, _("不能大于 %(max)s。") % {"max": maximum}, "maximum"))
    elif value != value.quantize(Decimal(1).scaleb(-places)):
        errors.append(FieldError(field, _("最多 %(places)s 位小数。") % {"places": places}, "too_many_decimals"))
    elif abs(value) >= Decimal(10) ** 13:
        errors.append(FieldError(field, _("数值太大。"), "too_large"))
    return value


def clean_int(raw: Any, field: str, errors: list[FieldError], *, minimum: int, maximum: int | None = None,
         required: bool = False) -> int | None:
    if raw is None or raw == "":
        if required:
            errors.append(FieldError(field, _("必填。"), "required"))
        return None
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = int(str(raw).strip())
    except ValueError:
        errors.append(FieldError(field, _("必须是整数。"), "integer"))
        return None
    if value < minimum or (maximum is not None and value > maximum):
        message = (_("必须在 %(min)s 到 %(max)s 之间。") % {"min": minimum, "max": maximum} if maximum is not None
                   else _("不能小于 %(min)s。") % {"min": minimum})
        errors.append(FieldError(field, message, "out_of_range"))
        return None
    return value


def clean_code(data: Mapping[str, Any], errors: list[FieldError]) -> str:
    code = str(data.get("code") or "").strip()
    if not CODE_PATTERN.match(code):
        errors.append(FieldError("code", _("代码必填：字母、数字、-、_，最多 60 个字符。"), "invalid"))
    return code


def clean_text(data: Mapping[str, Any], name: str, limit: int, errors: list[FieldError], *,
               required: bool = False) -> str:
    value = " ".join(str(data.get(name) or "").split()) if name != "description" else str(data.get(name) or "").strip()
    if required and not value:
        errors.append(FieldError(name, _("必填。"), "required"))
    elif len(value) > limit:
        errors.append(FieldError(name, _("最多 %(limit)s 个字。") % {"limit": limit}, "too_long"))
    return value


def clean_date(raw: Any, field: str, errors: list[FieldError]) -> dt.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        errors.append(FieldError(field, _("日期格式应为 YYYY-MM-DD。"), "invalid_date"))
        return None


def clean_datetime(raw: Any, field: str, errors: list[FieldError]) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    value = raw
    if not isinstance(value, dt.datetime):
        try:
            value = dt.datetime.fromisoformat(str(raw).strip())
        except ValueError:
            errors.append(FieldError(field, _("时间格式应为 YYYY-MM-DDTHH:MM。"), "invalid_datetime"))
            return None
    if value.tzinfo is None:
        from django.utils import timezone

        value = timezone.make_aware(value)
    return value.astimezone(dt.UTC)


def clean_list(raw: Any, field: str, errors: list[FieldError]) -> list[Any]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\n,，;；、]", raw)]
    if not isinstance(raw, (list, tuple)):
        errors.append(FieldError(field, _("必须是列表。"), "invalid"))
        return []
    values = [item.strip() if isinstance(item, str) else item for item in raw]
    values = [item for item in values if item not in ("", None)]
    if len(values) > MAX_SCOPE_ITEMS:
        errors.append(FieldError(field, _("最多 %(limit)s 项。") % {"limit": MAX_SCOPE_ITEMS}, "too_many"))
    return values


def clean_ids(raw: Any, field: str, errors: list[FieldError]) -> list[int]:
    ids: list[int] = []
    for item in clean_list(raw, field, errors):
        try:
            if isinstance(item, bool):
                raise ValueError
            value = int(str(item).strip())
            if value < 1:
                raise ValueError
        except ValueError:
            errors.append(FieldError(field, _("“%(value)s”不是有效的 ID。") % {"value": str(item)[:30]}, "invalid"))
            continue
        if value not in ids:
            ids.append(value)
    return sorted(ids)


def clean_scope(data: Mapping[str, Any], prefix: str, errors: list[FieldError]) -> dict[str, list[Any]]:
    """The four customer dimensions of a book scope (prefix "scope_") or promotion eligibility
    ("eligible_"): account ids that exist; groups "level:<key|important|normal>" / "tag:<name>";
    department ids that exist; regions "省" or "省/市"."""
    cleaned: dict[str, list[Any]] = {}
    name = f"{prefix}accounts"
    if name in data:
        ids = clean_ids(data.get(name), name, errors)
        found = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            errors.append(FieldError(name, _("客户不存在：%(ids)s") % {"ids": "、".join(missing[:10])}, "not_found"))
        cleaned[name] = ids
    name = f"{prefix}groups"
    if name in data:
        groups: list[str] = []
        for item in clean_list(data.get(name), name, errors):
            text = str(item).strip()
            kind, _sep, value = text.partition(":")
            valid = (kind == "level" and value in GROUP_LEVELS) or (kind == "tag" and 0 < len(value.strip()) <= 50)
            if not valid:
                errors.append(FieldError(name, _("客户组“%(value)s”无效：应为 level:key|important|normal 或 tag:名称。")
                                         % {"value": text[:50]}, "invalid"))
            elif text not in groups:
                groups.append(f"{kind}:{value.strip()}")
        cleaned[name] = sorted(groups)
    name = f"{prefix}departments"
    if name in data:
        ids = clean_ids(data.get(name), name, errors)
        found = set(Department.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            errors.append(FieldError(name, _("部门不存在：%(ids)s") % {"ids": "、".join(missing[:10])}, "not_found"))
        cleaned[name] = ids
    name = f"{prefix}regions"
    if name in data:
        regions: list[str] = []
        for item in clean_list(data.get(name), name, errors):
            parts = [part.strip() for part in str(item).split("/")]
            if not 1 <= len(parts) <= 2 or not all(parts) or any(len(part) > 30 for part in parts):
                message = _("区域“%(value)s”无效：应为“省”或“省/市”。") % {"value": str(item)[:50]}
                errors.append(FieldError(name, message,
                                         "invalid"))
            elif "/".join(parts) not in regions:
                regions.append("/".join(parts))
        cleaned[name] = sorted(regions)
    return cleaned


def codes_exist(model: Any, codes: Sequence[str], field: str, errors: list[FieldError], label: str) -> None:
    found = set(model.objects.filter(code__in=list(codes)).values_list("code", flat=True))
    missing = [code for code in codes if code not in found]
    if missing:
        errors.append(FieldError(field, _("%(label)s不存在：%(codes)s") % {"label": label,
                                                                    "codes": "、".join(missing[:10])}, "not_found"))


def check_version(current: int, expected: int | None, noun: str) -> None:
    if expected is not None and expected != current:
        message = _("这个%(noun)s已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
        raise PreconditionFailed(message % {"noun": noun, "current": current, "expected": expected})


def audit(object_type: str, record: Any, action: str, actor: User | None, changes: Mapping[str, Any] | None = None,
           summary: str = "") -> None:
    audit_record(object_type=object_type, object_id=record.pk, action=action, actor_id=actor.pk if actor else None,
                 object_repr=str(record), changes=jsonable(dict(changes or {})), summary=summary)

"""Pricing writes (ADR 0006): price books with scope, entries, tiers and attribute adjustments; promotions
and coupons; the margin policy. Quota reservations live in `reservations`.

Every write is one transaction that validates (all field problems at once, each with its field and a
stable code), writes, records an audit event and bumps the catalogue's rules version
(`catalog.services.rules_version_bump`): compiled engine catalogues are cached per rules version.
Books and promotions carry `version` (the API's ETag); updates are compare-and-set on it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from l2c.apps.activity.audit import audit_record, diff, jsonable, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog.models import Attribute, AttributeValue, Category, Product, ProductType, Sku
from l2c.apps.catalog.services import rules_version_bump
from l2c.apps.customers.models import Account
from l2c.apps.customers.rfm import clean_currency
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import Conflict, FieldError, PermissionDenied, PreconditionFailed, ValidationFailed

from .models import (
    AttributeAdjustment,
    BookStatus,
    Coupon,
    GuardAction,
    MarginPolicy,
    MarginThreshold,
    PriceBook,
    PriceBookEntry,
    PriceMethod,
    PriceTier,
    Promotion,
    PromotionKind,
    PromotionStatus,
    TierMode,
)
from .selectors import margin_policy_get

BOOK_AUDITED = ["code", "name", "currency", "is_base", "priority", "valid_from", "valid_to", "status",
                "description", "scope_accounts", "scope_groups", "scope_departments", "scope_regions"]
PROMOTION_AUDITED = ["code", "name", "kind", "status", "description", "valid_from", "valid_to", "params",
                     "eligible_accounts", "eligible_groups", "eligible_regions", "eligible_departments",
                     "eligible_skus", "eligible_products", "eligible_categories", "stacking_group", "exclusive",
                     "priority", "requires_coupon", "max_uses", "max_discount"]
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
GROUP_LEVELS = ("key", "important", "normal")
MAX_TIERS = 20
MAX_SCOPE_ITEMS = 1000
COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed
MAX_COUPONS_GENERATED = 10_000
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


class BaseBookConflict(Conflict):
    """Another active base book of the same currency exists: at most one per currency."""

    code = "base_book_exists"
    title = "Another active base price book exists"


class InvalidTransition(Conflict):
    """The status change is not possible from the record's current status."""

    code = "invalid_status"
    title = "Invalid status change"


# --- cleaning helpers --------------------------------------------------------------------------------
def _raise(errors: list[FieldError], message: str) -> None:
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


def _decimal(data: Mapping[str, Any], name: str, errors: list[FieldError], *, field: str | None = None,
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


def _int(raw: Any, field: str, errors: list[FieldError], *, minimum: int, maximum: int | None = None,
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


def _code(data: Mapping[str, Any], errors: list[FieldError]) -> str:
    code = str(data.get("code") or "").strip()
    if not CODE_PATTERN.match(code):
        errors.append(FieldError("code", _("代码必填：字母、数字、-、_，最多 60 个字符。"), "invalid"))
    return code


def _text(data: Mapping[str, Any], name: str, limit: int, errors: list[FieldError], *, required: bool = False) -> str:
    value = " ".join(str(data.get(name) or "").split()) if name != "description" else str(data.get(name) or "").strip()
    if required and not value:
        errors.append(FieldError(name, _("必填。"), "required"))
    elif len(value) > limit:
        errors.append(FieldError(name, _("最多 %(limit)s 个字。") % {"limit": limit}, "too_long"))
    return value


def _date(raw: Any, field: str, errors: list[FieldError]) -> dt.date | None:
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


def _datetime(raw: Any, field: str, errors: list[FieldError]) -> dt.datetime | None:
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


def _list(raw: Any, field: str, errors: list[FieldError]) -> list[Any]:
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


def _ids(raw: Any, field: str, errors: list[FieldError]) -> list[int]:
    ids: list[int] = []
    for item in _list(raw, field, errors):
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
        ids = _ids(data.get(name), name, errors)
        found = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            errors.append(FieldError(name, _("客户不存在：%(ids)s") % {"ids": "、".join(missing[:10])}, "not_found"))
        cleaned[name] = ids
    name = f"{prefix}groups"
    if name in data:
        groups: list[str] = []
        for item in _list(data.get(name), name, errors):
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
        ids = _ids(data.get(name), name, errors)
        found = set(Department.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            errors.append(FieldError(name, _("部门不存在：%(ids)s") % {"ids": "、".join(missing[:10])}, "not_found"))
        cleaned[name] = ids
    name = f"{prefix}regions"
    if name in data:
        regions: list[str] = []
        for item in _list(data.get(name), name, errors):
            parts = [part.strip() for part in str(item).split("/")]
            if not 1 <= len(parts) <= 2 or not all(parts) or any(len(part) > 30 for part in parts):
                message = _("区域“%(value)s”无效：应为“省”或“省/市”。") % {"value": str(item)[:50]}
                errors.append(FieldError(name, message,
                                         "invalid"))
            elif "/".join(parts) not in regions:
                regions.append("/".join(parts))
        cleaned[name] = sorted(regions)
    return cleaned


def _codes_exist(model: Any, codes: Sequence[str], field: str, errors: list[FieldError], label: str) -> None:
    found = set(model.objects.filter(code__in=list(codes)).values_list("code", flat=True))
    missing = [code for code in codes if code not in found]
    if missing:
        errors.append(FieldError(field, _("%(label)s不存在：%(codes)s") % {"label": label,
                                                                    "codes": "、".join(missing[:10])}, "not_found"))


def _check_version(current: int, expected: int | None, noun: str) -> None:
    if expected is not None and expected != current:
        message = _("这个%(noun)s已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
        raise PreconditionFailed(message % {"noun": noun, "current": current, "expected": expected})


def _audit(object_type: str, record: Any, action: str, actor: User | None, changes: Mapping[str, Any] | None = None,
           summary: str = "") -> None:
    audit_record(object_type=object_type, object_id=record.pk, action=action, actor_id=actor.pk if actor else None,
                 object_repr=str(record), changes=jsonable(dict(changes or {})), summary=summary)


# --- price books ---------------------------------------------------------------------------------------
def _clean_book(data: Mapping[str, Any], *, book: PriceBook | None, errors: list[FieldError]) -> dict[str, Any]:
    partial = book is not None
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        cleaned["code"] = _code(data, errors)
        if cleaned["code"] and PriceBook.objects.filter(code=cleaned["code"]).exclude(
                pk=book.pk if book else None).exists():
            errors.append(FieldError("code", _("代码“%(code)s”已被另一个价目表使用。") % {"code": cleaned["code"]},
                                     "duplicate"))
    if not partial or "name" in data:
        cleaned["name"] = _text(data, "name", 200, errors, required=True)
    if not partial or "currency" in data:
        try:
            cleaned["currency"] = clean_currency(data.get("currency") or "CNY")
        except ValueError as error:
            errors.append(FieldError("currency", str(error), "invalid"))
    if not partial or "is_base" in data:
        cleaned["is_base"] = bool(data.get("is_base"))
    if not partial or "priority" in data:
        cleaned["priority"] = _int(data.get("priority") or 0, "priority", errors, minimum=-1_000_000,
                                   maximum=1_000_000) or 0
    for name in ("valid_from", "valid_to"):
        if not partial or name in data:
            cleaned[name] = _date(data.get(name), name, errors)
    if not partial or "description" in data:
        cleaned["description"] = _text(data, "description", 5000, errors)
    scope_data = {key: value for key, value in data.items() if key.startswith("scope_")}
    if not partial:
        scope_data = {f"scope_{name}": data.get(f"scope_{name}") for name in ("accounts", "groups", "departments",
                                                                              "regions")}
    cleaned.update(clean_scope(scope_data, "scope_", errors))
    valid_from = cleaned.get("valid_from", book.valid_from if book else None)
    valid_to = cleaned.get("valid_to", book.valid_to if book else None)
    if valid_from and valid_to and valid_to < valid_from:
        errors.append(FieldError("valid_to", _("失效日期不能早于生效日期。"), "validity_order"))
    return cleaned


def _require_unique_base(book: PriceBook) -> None:
    """At most one active base book per currency: refuse naming the other one."""
    if not (book.is_base and book.status == BookStatus.ACTIVE):
        return
    other = PriceBook.objects.filter(is_base=True, status=BookStatus.ACTIVE, currency=book.currency).exclude(
        pk=book.pk).first()
    if other is not None:
        raise BaseBookConflict(_("币种 %(currency)s 已有生效的基础价目表“%(other)s”（%(code)s），请先归档它。")
                               % {"currency": book.currency, "other": other.name, "code": other.code},
                               errors=[FieldError("is_base", _("每个币种只能有一个生效的基础价目表。"),
                                                  "base_book_exists")])


def _save_book(book: PriceBook, fields: Sequence[str]) -> None:
    """Save, turning a lost race on the one-active-base-book constraint into the same refusal."""
    try:
        with transaction.atomic():
            book.save(update_fields=[*fields, "updated_at"] if fields else None)
    except IntegrityError:
        _require_unique_base(book)
        raise


@transaction.atomic
def price_book_create(*, actor: User, data: Mapping[str, Any]) -> PriceBook:
    """A new price book (status draft unless `status` is "active"); scope lists validated."""
    access.require(actor, "price_book", "create")
    errors: list[FieldError] = []
    cleaned = _clean_book(data, book=None, errors=errors)
    status = data.get("status") or BookStatus.DRAFT
    if status not in (BookStatus.DRAFT, BookStatus.ACTIVE):
        errors.append(FieldError("status", _("新价目表的状态只能是草稿或生效。"), "invalid_choice"))
    _raise(errors, _("价目表填写有误。"))
    book = PriceBook(**cleaned, status=status, created_by=actor)
    _require_unique_base(book)
    _save_book(book, [])
    _audit("price_book", book, AuditEvent.Kind.CREATE, actor, {key: [None, value] for key, value in
                                                               snapshot(book, BOOK_AUDITED).items()})
    rules_version_bump()
    return book


def _book_for(actor: User, book_id: int, action: str = "edit") -> PriceBook:
    book = access.get_for_action(actor, "price_book", book_id, action)
    return PriceBook.objects.select_for_update().get(pk=book.pk)


def _touch_book(book: PriceBook) -> None:
    """A change to the book's entries, tiers or adjustments is a new version of the book."""
    PriceBook.objects.filter(pk=book.pk).update(version=F("version") + 1)


@transaction.atomic
def price_book_update(*, actor: User, book_id: int, data: Mapping[str, Any],
                      expected_version: int | None = None) -> PriceBook:
    """Change header fields and/or scope (partial); compare-and-set on `version`."""
    book = _book_for(actor, book_id)
    _check_version(book.version, expected_version, _("价目表"))
    errors: list[FieldError] = []
    cleaned = _clean_book(data, book=book, errors=errors)
    _raise(errors, _("价目表填写有误。"))
    before = snapshot(book, BOOK_AUDITED)
    for name, value in cleaned.items():
        setattr(book, name, value)
    _require_unique_base(book)
    changes = diff(before, snapshot(book, BOOK_AUDITED))
    if changes:
        book.version += 1
        _save_book(book, [*cleaned, "version"])
        _audit("price_book", book, AuditEvent.Kind.UPDATE, actor, changes)
        rules_version_bump()
    return book


def _book_status(actor: User, book_id: int, status: str, expected_version: int | None) -> PriceBook:
    book = _book_for(actor, book_id)
    _check_version(book.version, expected_version, _("价目表"))
    if book.status == status:
        return book
    before = book.status
    book.status = status
    _require_unique_base(book)
    book.version += 1
    _save_book(book, ["status", "version"])
    _audit("price_book", book, AuditEvent.Kind.STATUS, actor, {"status": [before, status]})
    rules_version_bump()
    return book


@transaction.atomic
def price_book_activate(*, actor: User, book_id: int, expected_version: int | None = None) -> PriceBook:
    """Draft or archived → active; a base book is refused while another base book of its currency is active."""
    return _book_status(actor, book_id, BookStatus.ACTIVE, expected_version)


@transaction.atomic
def price_book_archive(*, actor: User, book_id: int, expected_version: int | None = None) -> PriceBook:
    return _book_status(actor, book_id, BookStatus.ARCHIVED, expected_version)


@transaction.atomic
def price_book_delete(*, actor: User, book_id: int, expected_version: int | None = None) -> None:
    book = access.get_for_action(actor, "price_book", book_id, "delete")
    _check_version(book.version, expected_version, _("价目表"))
    _audit("price_book", book, AuditEvent.Kind.DELETE, actor, {"code": [book.code, None]})
    book.delete()
    rules_version_bump()


@transaction.atomic
def price_book_copy(*, actor: User, book_id: int, code: str, name: str = "", valid_from: Any = None,
                    valid_to: Any = None) -> PriceBook:
    """A draft copy of a book with its scope, entries, tiers and adjustments (e.g. next year's book)."""
    access.require(actor, "price_book", "create")
    source = access.get_for_action(actor, "price_book", book_id, "view")
    data = {"code": code, "name": name or source.name, "currency": source.currency, "is_base": source.is_base,
            "priority": source.priority, "description": source.description,
            "valid_from": valid_from if valid_from not in (None, "") else source.valid_from,
            "valid_to": valid_to if valid_to not in (None, "") else source.valid_to,
            "scope_accounts": source.scope_accounts, "scope_groups": source.scope_groups,
            "scope_departments": source.scope_departments, "scope_regions": source.scope_regions}
    errors: list[FieldError] = []
    cleaned = _clean_book(data, book=None, errors=errors)
    _raise(errors, _("价目表填写有误。"))
    book = PriceBook.objects.create(**cleaned, status=BookStatus.DRAFT, created_by=actor)
    entries = list(PriceBookEntry.objects.filter(book=source).prefetch_related("tiers").order_by("pk"))
    copies = PriceBookEntry.objects.bulk_create([PriceBookEntry(
        book=book, sku_id=entry.sku_id, method=entry.method, unit_price=entry.unit_price, block_size=entry.block_size,
        markup_percent=entry.markup_percent, percent=entry.percent, percent_of=entry.percent_of,
        tier_mode=entry.tier_mode, floor_price=entry.floor_price) for entry in entries])
    copied_ids = {entry.sku_id: copy.pk for entry, copy in zip(entries, copies, strict=True)}
    if not all(copied_ids.values()):  # backends without RETURNING ids on bulk insert
        copied_ids = dict(PriceBookEntry.objects.filter(book=book).values_list("sku_id", "pk"))
    PriceTier.objects.bulk_create([PriceTier(entry_id=copied_ids[entry.sku_id], min_quantity=tier.min_quantity,
                                             unit_price=tier.unit_price, flat_fee=tier.flat_fee)
                                   for entry in entries for tier in entry.tiers.all()])
    AttributeAdjustment.objects.bulk_create([AttributeAdjustment(
        book=book, attribute=item.attribute, value=item.value, amount=item.amount, percent=item.percent,
        products=item.products, categories=item.categories, position=item.position)
        for item in AttributeAdjustment.objects.filter(book=source).order_by("position", "pk")])
    _audit("price_book", book, AuditEvent.Kind.CREATE, actor, {"copied_from": [None, source.code],
                                                               "entries": [None, len(entries)]},
           summary=_("复制自价目表 %(code)s") % {"code": source.code})
    rules_version_bump()
    return book


# --- entries and tiers -----------------------------------------------------------------------------------
def _clean_percent_of(raw: Any, errors: list[FieldError]) -> list[str]:
    items = [str(item).strip() for item in _list(raw, "percent_of", errors)]
    types = set(ProductType.values)
    categories = [item for item in items if not item.startswith("type:")]
    for item in items:
        if item.startswith("type:") and item.removeprefix("type:") not in types:
            errors.append(FieldError("percent_of", _("产品类型“%(value)s”无效，可选：%(types)s。")
                                     % {"value": item, "types": "、".join(f"type:{t}" for t in ProductType.values)},
                                     "invalid"))
    if categories:
        _codes_exist(Category, categories, "percent_of", errors, _("分类"))
    return sorted(set(items))


def clean_tiers(raw: Any, errors: list[FieldError]) -> list[dict[str, Decimal]]:
    """Tiers [{min_quantity, unit_price, flat_fee?}]: ascending unique min quantities (the first 0 or
    1), prices and fees ≥ 0."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, (list, tuple)):
        errors.append(FieldError("tiers", _("必须是列表。"), "invalid"))
        return []
    if len(raw) > MAX_TIERS:
        errors.append(FieldError("tiers", _("最多 %(limit)s 档。") % {"limit": MAX_TIERS}, "too_many"))
        return []
    tiers: list[dict[str, Decimal]] = []
    previous: Decimal | None = None
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            errors.append(FieldError(f"tiers.{index}", _("格式无效。"), "invalid"))
            continue
        count = len(errors)
        minimum = _decimal(item, "min_quantity", errors, field=f"tiers.{index}.min_quantity", required=True,
                           minimum=Decimal(0))
        price = _decimal(item, "unit_price", errors, field=f"tiers.{index}.unit_price", required=True,
                         minimum=Decimal(0))
        fee = _decimal(item, "flat_fee", errors, field=f"tiers.{index}.flat_fee", minimum=Decimal(0))
        if len(errors) > count or minimum is None or price is None:
            continue
        if index == 0 and minimum > 1:
            errors.append(FieldError("tiers.0.min_quantity", _("第一档的起始数量必须是 0 或 1。"), "first_tier_start"))
        if previous is not None and minimum == previous:
            errors.append(FieldError(f"tiers.{index}.min_quantity", _("起始数量 %(value)s 重复。") % {"value": minimum},
                                     "duplicate"))
        elif previous is not None and minimum < previous:
            errors.append(FieldError(f"tiers.{index}.min_quantity", _("各档起始数量必须从小到大排列。"),
                                     "not_ascending"))
        previous = minimum
        tiers.append({"min_quantity": minimum, "unit_price": price, "flat_fee": fee or Decimal(0)})
    return tiers


def clean_entry(data: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The fields of one price entry, checked per method: block needs block_size > 0; cost_plus
    needs markup_percent (> −100); percent_of_total needs percent > 0 and a non-empty percent_of
    (category codes or "type:<product type>"); tiers only on fixed prices with a tier mode."""
    method = data.get("method") or PriceMethod.FIXED
    if method not in PriceMethod.values:
        message = _("计价方式无效，可选：%(values)s。") % {"values": "、".join(PriceMethod.values)}
        errors.append(FieldError("method", message,
                                 "invalid_choice"))
    tier_mode = data.get("tier_mode") or TierMode.NONE
    if tier_mode not in TierMode.values:
        message = _("阶梯方式无效，可选：%(values)s。") % {"values": "、".join(TierMode.values)}
        errors.append(FieldError("tier_mode", message,
                                 "invalid_choice"))
    cleaned: dict[str, Any] = {"method": method, "tier_mode": tier_mode}
    cleaned["unit_price"] = _decimal(data, "unit_price", errors, minimum=Decimal(0),
                                     required=method in (PriceMethod.FIXED, PriceMethod.BLOCK)
                                     and tier_mode == TierMode.NONE) or Decimal(0)
    cleaned["floor_price"] = _decimal(data, "floor_price", errors, minimum=Decimal(0))
    cleaned["block_size"] = _decimal(data, "block_size", errors, positive=True, required=method == PriceMethod.BLOCK)
    cleaned["markup_percent"] = _decimal(data, "markup_percent", errors, minimum=Decimal("-99.9999"),
                                         required=method == PriceMethod.COST_PLUS)
    cleaned["percent"] = _decimal(data, "percent", errors, positive=True, maximum=Decimal(1000),
                                  required=method == PriceMethod.PERCENT_OF_TOTAL)
    cleaned["percent_of"] = _clean_percent_of(data.get("percent_of"), errors)
    if method == PriceMethod.PERCENT_OF_TOTAL and not cleaned["percent_of"] and not any(
            error.field == "percent_of" for error in errors):
        errors.append(FieldError("percent_of", _("必填：百分比的基数（分类代码或 type:产品类型）。"), "required"))
    if method != PriceMethod.BLOCK:
        cleaned["block_size"] = None
    if method != PriceMethod.COST_PLUS:
        cleaned["markup_percent"] = None
    if method != PriceMethod.PERCENT_OF_TOTAL:
        cleaned["percent"], cleaned["percent_of"] = None, []
    cleaned["tiers"] = clean_tiers(data.get("tiers"), errors)
    if tier_mode != TierMode.NONE:
        if method != PriceMethod.FIXED:
            errors.append(FieldError("tier_mode", _("只有固定单价可以设置阶梯。"), "tiers_need_fixed"))
        elif not cleaned["tiers"] and not any(error.field.startswith("tiers") for error in errors):
            errors.append(FieldError("tiers", _("选择了阶梯方式就至少要填写一档。"), "required"))
    elif cleaned["tiers"]:
        errors.append(FieldError("tier_mode", _("设置了阶梯就要选择阶梯方式（总量阶梯或分段阶梯）。"),
                                 "tiers_without_mode"))
    return cleaned


def _engine_check_entry(sku_code: str, cleaned: Mapping[str, Any]) -> None:
    """The engine's own parser as a last guard, so a saved entry always compiles."""
    from l2c.engines.pricing import compile as engine
    from l2c.engines.pricing import types as engine_types

    entry = engine_types.PriceEntry(
        sku=sku_code, method=cleaned["method"], unit_price=cleaned["unit_price"], block_size=cleaned["block_size"],
        markup_percent=cleaned["markup_percent"], percent=cleaned["percent"],
        percent_of=frozenset(cleaned["percent_of"]), tier_mode=cleaned["tier_mode"],
        tiers=tuple(engine_types.Tier(tier["min_quantity"], tier["unit_price"], tier["flat_fee"])
                    for tier in cleaned["tiers"]), floor_price=cleaned["floor_price"])
    try:
        engine.parse_entry(entry)
    except engine.RuleError as error:
        raise ValidationFailed(_("价目表条目填写有误。"), errors=[FieldError(error.field, rule_message(error.code),
                                                                    error.code)]) from None


def _sku(code: str) -> Sku:
    sku = Sku.objects.filter(code=str(code or "").strip()).first()
    if sku is None:
        raise ValidationFailed(_("SKU 不存在。"), errors=[FieldError("sku", _("没有编码为“%(code)s”的 SKU。")
                                                                % {"code": str(code)[:80]}, "not_found")])
    return sku


def entry_write(book: PriceBook, sku: Sku, cleaned: Mapping[str, Any]) -> tuple[PriceBookEntry, bool]:
    """Insert or replace the entry of `sku` in `book` with its tiers (no checks, no audit)."""
    values = {key: cleaned[key] for key in ("method", "unit_price", "block_size", "markup_percent", "percent",
                                            "percent_of", "tier_mode", "floor_price")}
    entry, created = PriceBookEntry.objects.update_or_create(book=book, sku=sku, defaults=values)
    PriceTier.objects.filter(entry=entry).delete()
    PriceTier.objects.bulk_create([PriceTier(entry=entry, **tier) for tier in cleaned["tiers"]])
    return entry, created


@transaction.atomic
def price_entry_upsert(*, actor: User, book_id: int, sku_code: str, data: Mapping[str, Any]) -> PriceBookEntry:
    """Set the price of one SKU in a book, tiers included (`data["tiers"]` replaces them)."""
    book = _book_for(actor, book_id)
    errors: list[FieldError] = []
    cleaned = clean_entry(data, errors)
    _raise(errors, _("价目表条目填写有误。"))
    sku = _sku(sku_code)
    _engine_check_entry(sku.code, cleaned)
    entry, created = entry_write(book, sku, cleaned)
    _touch_book(book)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"entry:{sku.code}": [None if created else "changed",
                                  {key: cleaned[key] for key in ("method", "unit_price", "tier_mode")}]},
           summary=_("设置 SKU %(sku)s 的价格") % {"sku": sku.code})
    rules_version_bump()
    return entry


@transaction.atomic
def price_entry_delete(*, actor: User, book_id: int, sku_code: str) -> None:
    book = _book_for(actor, book_id)
    deleted, _rows = PriceBookEntry.objects.filter(book=book, sku__code=sku_code).delete()
    if not deleted:
        raise ValidationFailed(_("这个价目表没有这个 SKU 的价格。"),
                               errors=[FieldError("sku", _("价目表中没有 SKU“%(code)s”。") % {"code": sku_code[:80]},
                                                  "not_found")])
    _touch_book(book)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor, {f"entry:{sku_code}": ["deleted", None]})
    rules_version_bump()


@transaction.atomic
def price_tiers_replace(*, actor: User, book_id: int, sku_code: str, tier_mode: str,
                        tiers: Sequence[Mapping[str, Any]]) -> PriceBookEntry:
    """Replace the tiers (and tier mode) of an existing entry; the rest of the entry stays."""
    book = _book_for(actor, book_id)
    entry = PriceBookEntry.objects.filter(book=book, sku__code=sku_code).select_related("sku").first()
    if entry is None:
        raise ValidationFailed(_("这个价目表没有这个 SKU 的价格。"),
                               errors=[FieldError("sku", _("价目表中没有 SKU“%(code)s”。") % {"code": sku_code[:80]},
                                                  "not_found")])
    data = {"method": entry.method, "unit_price": entry.unit_price, "block_size": entry.block_size,
            "markup_percent": entry.markup_percent, "percent": entry.percent, "percent_of": entry.percent_of,
            "floor_price": entry.floor_price, "tier_mode": tier_mode, "tiers": list(tiers)}
    errors: list[FieldError] = []
    cleaned = clean_entry(data, errors)
    _raise(errors, _("阶梯价格填写有误。"))
    _engine_check_entry(entry.sku.code, cleaned)
    entry, _created = entry_write(book, entry.sku, cleaned)
    _touch_book(book)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"tiers:{sku_code}": [None, [[str(t["min_quantity"]), str(t["unit_price"]), str(t["flat_fee"])]
                                         for t in cleaned["tiers"]]]})
    rules_version_bump()
    return entry


def _clean_adjustment(data: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    attribute_code = str(data.get("attribute") or "").strip()
    value_code = str(data.get("value") or "").strip()
    if not attribute_code:
        errors.append(FieldError("attribute", _("必填。"), "required"))
    if not value_code:
        errors.append(FieldError("value", _("必填。"), "required"))
    if attribute_code and value_code:
        attribute = Attribute.objects.filter(code=attribute_code).first()
        if attribute is None:
            errors.append(FieldError("attribute", _("没有代码为“%(code)s”的属性。") % {"code": attribute_code[:50]},
                                     "not_found"))
        elif not AttributeValue.objects.filter(attribute=attribute, code=value_code).exists():
            errors.append(FieldError("value", _("属性“%(attribute)s”没有代码为“%(code)s”的值。")
                                     % {"attribute": attribute.name, "code": value_code[:50]}, "not_found"))
    amount = _decimal(data, "amount", errors)
    percent = _decimal(data, "percent", errors, minimum=Decimal("-99.9999"), maximum=Decimal(1000))
    if (amount is None) == (percent is None) and not any(error.field in ("amount", "percent") for error in errors):
        errors.append(FieldError("amount", _("加价金额与加价百分比必须且只能填一个。"), "one_of"))
    products = [str(item) for item in _list(data.get("products"), "products", errors)]
    categories = [str(item) for item in _list(data.get("categories"), "categories", errors)]
    if products:
        _codes_exist(Product, products, "products", errors, _("产品"))
    if categories:
        _codes_exist(Category, categories, "categories", errors, _("分类"))
    position = _int(data.get("position") or 0, "position", errors, minimum=0, maximum=1_000_000) or 0
    return {"attribute": attribute_code, "value": value_code, "amount": amount, "percent": percent,
            "products": sorted(set(products)), "categories": sorted(set(categories)), "position": position}


@transaction.atomic
def attribute_adjustment_create(*, actor: User, book_id: int, data: Mapping[str, Any]) -> AttributeAdjustment:
    """+amount or +% on the book price for an attribute value (amount XOR percent)."""
    book = _book_for(actor, book_id)
    errors: list[FieldError] = []
    cleaned = _clean_adjustment(data, errors)
    _raise(errors, _("属性加价填写有误。"))
    adjustment = AttributeAdjustment.objects.create(book=book, **cleaned)
    _touch_book(book)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{adjustment.attribute}={adjustment.value}": [None, str(adjustment.amount
                                                                              if adjustment.amount is not None
                                                                              else f"{adjustment.percent}%")]})
    rules_version_bump()
    return adjustment


def _adjustment_for(actor: User, book_id: int, adjustment_id: int) -> tuple[PriceBook, AttributeAdjustment]:
    book = _book_for(actor, book_id)
    adjustment = AttributeAdjustment.objects.filter(pk=adjustment_id, book=book).first()
    if adjustment is None:
        from l2c.kernel.errors import NotFound

        raise NotFound(_("这个价目表没有 ID 为 %(id)s 的属性加价。") % {"id": adjustment_id})
    return book, adjustment


@transaction.atomic
def attribute_adjustment_update(*, actor: User, book_id: int, adjustment_id: int,
                                data: Mapping[str, Any]) -> AttributeAdjustment:
    book, adjustment = _adjustment_for(actor, book_id, adjustment_id)
    merged = {"attribute": adjustment.attribute, "value": adjustment.value, "amount": adjustment.amount,
              "percent": adjustment.percent, "products": adjustment.products, "categories": adjustment.categories,
              "position": adjustment.position, **data}
    errors: list[FieldError] = []
    cleaned = _clean_adjustment(merged, errors)
    _raise(errors, _("属性加价填写有误。"))
    before = snapshot(adjustment, list(cleaned))
    for name, value in cleaned.items():
        setattr(adjustment, name, value)
    adjustment.save()
    _touch_book(book)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{key}": value for key, value in diff(before, snapshot(adjustment, list(cleaned))).items()})
    rules_version_bump()
    return adjustment


@transaction.atomic
def attribute_adjustment_delete(*, actor: User, book_id: int, adjustment_id: int) -> None:
    book, adjustment = _adjustment_for(actor, book_id, adjustment_id)
    _audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{adjustment.attribute}={adjustment.value}": ["deleted", None]})
    adjustment.delete()
    _touch_book(book)
    rules_version_bump()


# --- promotions --------------------------------------------------------------------------------------------
def validate_promotion_params(kind: str, params: Any, errors: list[FieldError]) -> dict[str, Any]:
    """Params of `kind` checked by the engine's parser (`parse_params`); a wrong field is reported as
    "params.<field>" with the parser's code. SKU codes the params name must exist."""
    from l2c.engines.pricing.compile import RuleError, parse_params

    if not isinstance(params, Mapping):
        errors.append(FieldError("params", _("参数必须是对象。"), "invalid"))
        return {}
    try:
        parse_params(kind, params)
    except RuleError as error:
        field = "kind" if error.field == "kind" else f"params.{error.field}"
        errors.append(FieldError(field, rule_message(error.code), error.code))
        return dict(params)
    skus: list[tuple[str, str]] = []
    if kind == PromotionKind.GIFT:
        skus.append(("params.gift_sku", str(params["gift_sku"]).strip()))
    elif kind == PromotionKind.FREE_ACCESSORY:
        skus.append(("params.accessory_sku", str(params["accessory_sku"]).strip()))
    elif kind == PromotionKind.BUNDLE:
        skus += [(f"params.items.{index}.sku", str(item["sku"]).strip()) for index, item in enumerate(params["items"])]
    found = set(Sku.objects.filter(code__in=[code for _f, code in skus]).values_list("code", flat=True))
    for field, code in skus:
        if code not in found:
            errors.append(FieldError(field, _("没有编码为“%(code)s”的 SKU。") % {"code": code[:80]}, "not_found"))
    return dict(params)


def _clean_promotion(data: Mapping[str, Any], *, promotion: Promotion | None,
                     errors: list[FieldError]) -> dict[str, Any]:
    partial = promotion is not None
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        cleaned["code"] = _code(data, errors)
        if cleaned["code"] and Promotion.objects.filter(code=cleaned["code"]).exclude(
                pk=promotion.pk if promotion else None).exists():
            errors.append(FieldError("code", _("代码“%(code)s”已被另一个促销使用。") % {"code": cleaned["code"]},
                                     "duplicate"))
    if not partial or "name" in data:
        cleaned["name"] = _text(data, "name", 200, errors, required=True)
    if not partial or "description" in data:
        cleaned["description"] = _text(data, "description", 5000, errors)
    kind = data.get("kind") if "kind" in data or not partial else promotion.kind  # type: ignore[union-attr]
    if not partial or "kind" in data:
        if kind not in PromotionKind.values:
            errors.append(FieldError("kind", _("促销类型无效。"), "invalid_choice"))
        cleaned["kind"] = kind
    if not partial or "params" in data or "kind" in data:
        params = data.get("params", promotion.params if promotion else {})
        if kind in PromotionKind.values:
            cleaned["params"] = validate_promotion_params(kind, params if params is not None else {}, errors)
    for name in ("valid_from", "valid_to"):
        if not partial or name in data:
            cleaned[name] = _datetime(data.get(name), name, errors)
    eligibility = {key: value for key, value in data.items() if key.startswith("eligible_")}
    if not partial:
        eligibility = {f"eligible_{name}": data.get(f"eligible_{name}") for name in
                       ("accounts", "groups", "departments", "regions", "skus", "products", "categories")}
    cleaned.update(clean_scope(eligibility, "eligible_", errors))
    for name, model, label in (("eligible_skus", Sku, _("SKU")), ("eligible_products", Product, _("产品")),
                               ("eligible_categories", Category, _("分类"))):
        if name in eligibility:
            codes = sorted({str(item) for item in _list(eligibility.get(name), name, errors)})
            if codes:
                _codes_exist(model, codes, name, errors, label)
            cleaned[name] = codes
    if not partial or "stacking_group" in data:
        cleaned["stacking_group"] = _text(data, "stacking_group", 50, errors)
    for name in ("exclusive", "requires_coupon"):
        if not partial or name in data:
            cleaned[name] = bool(data.get(name))
    if not partial or "priority" in data:
        cleaned["priority"] = _int(data.get("priority") or 0, "priority", errors, minimum=-1_000_000,
                                   maximum=1_000_000) or 0
    if not partial or "max_uses" in data:
        cleaned["max_uses"] = _int(data.get("max_uses"), "max_uses", errors, minimum=1, maximum=2_000_000_000)
    if not partial or "max_discount" in data:
        cleaned["max_discount"] = _int(data.get("max_discount"), "max_discount", errors, minimum=1,
                                       maximum=10**15)
    if kind == PromotionKind.COUPON:
        cleaned["requires_coupon"] = True
    # Rules across fields, on the merged record.
    merged = {name: cleaned.get(name, getattr(promotion, name, None)) for name in
              ("valid_from", "valid_to", "eligible_groups", "max_uses", "max_discount")}
    if merged["valid_from"] and merged["valid_to"] and merged["valid_to"] < merged["valid_from"]:
        errors.append(FieldError("valid_to", rule_message("validity_order"), "validity_order"))
    if kind == PromotionKind.FLASH_PRICE and not (merged["valid_from"] and merged["valid_to"]):
        field = "valid_to" if merged["valid_from"] else "valid_from"
        errors.append(FieldError(field, rule_message("validity_required"), "validity_required"))
    if kind == PromotionKind.GROUP_PRICE and not merged["eligible_groups"] and not any(
            error.field == "eligible_groups" for error in errors):
        errors.append(FieldError("eligible_groups", rule_message("groups_required"), "groups_required"))
    if promotion is not None:
        if merged["max_uses"] is not None and merged["max_uses"] < promotion.used_count + promotion.reserved_count:
            errors.append(FieldError("max_uses", _("不能小于已使用和已预占的次数（%(count)s）。")
                                     % {"count": promotion.used_count + promotion.reserved_count}, "below_used"))
        if merged["max_discount"] is not None and merged["max_discount"] < (promotion.discount_used
                                                                           + promotion.discount_reserved):
            errors.append(FieldError("max_discount", _("不能小于已使用和已预占的优惠金额。"), "below_used"))
    return cleaned


@transaction.atomic
def promotion_create(*, actor: User, data: Mapping[str, Any]) -> Promotion:
    """A new promotion (draft); params validated per kind by the engine's parser."""
    access.require(actor, "promotion", "create")
    errors: list[FieldError] = []
    cleaned = _clean_promotion(data, promotion=None, errors=errors)
    _raise(errors, _("促销填写有误。"))
    promotion = Promotion.objects.create(**cleaned, status=PromotionStatus.DRAFT, created_by=actor)
    _audit("promotion", promotion, AuditEvent.Kind.CREATE, actor,
           {key: [None, value] for key, value in snapshot(promotion, PROMOTION_AUDITED).items()})
    rules_version_bump()
    return promotion


def _promotion_for(actor: User, promotion_id: int, action: str = "edit") -> Promotion:
    promotion = access.get_for_action(actor, "promotion", promotion_id, action)
    return Promotion.objects.select_for_update().get(pk=promotion.pk)


@transaction.atomic
def promotion_update(*, actor: User, promotion_id: int, data: Mapping[str, Any],
                     expected_version: int | None = None) -> Promotion:
    promotion = _promotion_for(actor, promotion_id)
    _check_version(promotion.version, expected_version, _("促销"))
    errors: list[FieldError] = []
    cleaned = _clean_promotion(data, promotion=promotion, errors=errors)
    _raise(errors, _("促销填写有误。"))
    before = snapshot(promotion, PROMOTION_AUDITED)
    changes = diff(before, {**before, **jsonable(cleaned)})
    if changes:
        # Counters are never written here: they move only through compare-and-set reservations.
        Promotion.objects.filter(pk=promotion.pk).update(**cleaned, version=F("version") + 1)
        promotion.refresh_from_db()
        _audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, changes)
        rules_version_bump()
    return promotion


TRANSITIONS = {
    "activate": ((PromotionStatus.DRAFT, PromotionStatus.PAUSED), PromotionStatus.ACTIVE),
    "pause": ((PromotionStatus.ACTIVE,), PromotionStatus.PAUSED),
    "end": ((PromotionStatus.DRAFT, PromotionStatus.ACTIVE, PromotionStatus.PAUSED), PromotionStatus.ENDED),
}


def _promotion_transition(actor: User, promotion_id: int, transition: str) -> Promotion:
    promotion = _promotion_for(actor, promotion_id)
    sources, target = TRANSITIONS[transition]
    if promotion.status not in sources:
        raise InvalidTransition(_("促销“%(name)s”当前状态为%(status)s，不能%(action)s。")
                                % {"name": promotion.name, "status": promotion.get_status_display(),
                                   "action": {"activate": _("启用"), "pause": _("暂停"), "end": _("结束")}[transition]})
    if transition == "activate":  # the stored params must still parse (the engine may have tightened)
        errors: list[FieldError] = []
        validate_promotion_params(promotion.kind, promotion.params, errors)
        _raise(errors, _("促销参数有误，不能启用。"))
    before = promotion.status
    Promotion.objects.filter(pk=promotion.pk).update(status=target, version=F("version") + 1)
    promotion.refresh_from_db()
    _audit("promotion", promotion, AuditEvent.Kind.STATUS, actor, {"status": [before, target]})
    rules_version_bump()
    return promotion


@transaction.atomic
def promotion_activate(*, actor: User, promotion_id: int) -> Promotion:
    return _promotion_transition(actor, promotion_id, "activate")


@transaction.atomic
def promotion_pause(*, actor: User, promotion_id: int) -> Promotion:
    return _promotion_transition(actor, promotion_id, "pause")


@transaction.atomic
def promotion_end(*, actor: User, promotion_id: int) -> Promotion:
    return _promotion_transition(actor, promotion_id, "end")


@transaction.atomic
def promotion_delete(*, actor: User, promotion_id: int, expected_version: int | None = None) -> None:
    """Delete a promotion nobody has used or reserved (else end it: the history stays)."""
    promotion = access.get_for_action(actor, "promotion", promotion_id, "delete")
    _check_version(promotion.version, expected_version, _("促销"))
    if promotion.used_count or promotion.reserved_count or promotion.reservations.exists():
        raise Conflict(_("促销“%(name)s”已被报价使用或预占，不能删除；请改为结束。") % {"name": promotion.name},
                       errors=[FieldError("id", _("已被使用，不能删除。"), "in_use")])
    _audit("promotion", promotion, AuditEvent.Kind.DELETE, actor, {"code": [promotion.code, None]})
    promotion.delete()
    rules_version_bump()


# --- coupons ---------------------------------------------------------------------------------------------
def _coupon_limits(max_uses: Any, per_customer_limit: Any, errors: list[FieldError]) -> tuple[int | None, int | None]:
    return (_int(max_uses, "max_uses", errors, minimum=1, maximum=2_000_000_000),
            _int(per_customer_limit, "per_customer_limit", errors, minimum=1, maximum=2_000_000_000))


@transaction.atomic
def coupon_create(*, actor: User, promotion_id: int, code: str, max_uses: int | None = 1,
                  per_customer_limit: int | None = None) -> Coupon:
    """One coupon code (stored upper-case, unique case-insensitively); max_uses None = unlimited."""
    promotion = _promotion_for(actor, promotion_id)
    errors: list[FieldError] = []
    text = str(code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{2,39}", text):
        errors.append(FieldError("code", _("券码为 3–40 位字母、数字、-、_。"), "invalid"))
    elif Coupon.objects.filter(code=text).exists():
        errors.append(FieldError("code", _("券码“%(code)s”已存在。") % {"code": text}, "duplicate"))
    uses, per_customer = _coupon_limits(max_uses, per_customer_limit, errors)
    _raise(errors, _("优惠券填写有误。"))
    coupon = Coupon.objects.create(promotion=promotion, code=text, max_uses=uses, per_customer_limit=per_customer)
    _audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {"coupon": [None, text]})
    rules_version_bump()
    return coupon


@transaction.atomic
def coupons_generate(*, actor: User, promotion_id: int, count: int, prefix: str = "", max_uses: int | None = 1,
                     per_customer_limit: int | None = None, length: int = 10) -> list[Coupon]:
    """`count` new random coupon codes (`prefix` + `length` characters from an unambiguous alphabet,
    drawn with `secrets`), unique among all coupons."""
    promotion = _promotion_for(actor, promotion_id)
    errors: list[FieldError] = []
    number = _int(count, "count", errors, minimum=1, maximum=MAX_COUPONS_GENERATED, required=True)
    size = _int(length, "length", errors, minimum=6, maximum=24) or 10
    prefix_text = str(prefix or "").strip().upper()
    if prefix_text and not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{0,15}", prefix_text):
        errors.append(FieldError("prefix", _("前缀为最多 16 位字母、数字、-、_。"), "invalid"))
    uses, per_customer = _coupon_limits(max_uses, per_customer_limit, errors)
    _raise(errors, _("优惠券生成参数有误。"))
    assert number is not None
    codes: set[str] = set()
    while len(codes) < number:
        batch = {prefix_text + "".join(secrets.choice(COUPON_ALPHABET) for _i in range(size))
                 for _n in range(number - len(codes))}
        batch -= set(Coupon.objects.filter(code__in=list(batch)).values_list("code", flat=True))
        codes |= batch
    coupons = Coupon.objects.bulk_create([Coupon(promotion=promotion, code=code, max_uses=uses,
                                                 per_customer_limit=per_customer) for code in sorted(codes)],
                                         batch_size=1000)
    _audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {"coupons_generated": [None, number]},
           summary=_("生成 %(count)s 张优惠券") % {"count": number})
    rules_version_bump()
    return coupons


@transaction.atomic
def coupon_deactivate(*, actor: User, coupon_id: int) -> Coupon:
    coupon = Coupon.objects.filter(pk=coupon_id).first()
    if coupon is None:
        from l2c.kernel.errors import NotFound

        raise NotFound(_("没有 ID 为 %(id)s 的优惠券。") % {"id": coupon_id})
    promotion = _promotion_for(actor, coupon.promotion_id)
    if coupon.is_active:
        Coupon.objects.filter(pk=coupon.pk).update(is_active=False)
        coupon.is_active = False
        _audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {f"coupon:{coupon.code}": ["active", "inactive"]})
        rules_version_bump()
    return coupon


# --- margin policy ------------------------------------------------------------------------------------------
@transaction.atomic
def margin_policy_save(*, actor: User, data: Mapping[str, Any], expected_version: int | None = None) -> MarginPolicy:
    """Admins: what below-cost and below-floor prices do (block / approval at a level 1–9) and the
    margin thresholds (replaced whole; unique min margin %, each with a level 1–9)."""
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以修改毛利管控策略。"))
    policy = margin_policy_get()
    policy = MarginPolicy.objects.select_for_update().get(pk=policy.pk)
    _check_version(policy.version, expected_version, _("毛利管控策略"))
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    for name in ("below_cost", "below_floor"):
        value = data.get(name, getattr(policy, name))
        if value not in GuardAction.values:
            errors.append(FieldError(name, _("只能是 block（禁止）或 approval（需审批）。"), "invalid_choice"))
        cleaned[name] = value
        level = _int(data.get(f"{name}_level", getattr(policy, f"{name}_level")), f"{name}_level", errors,
                     minimum=1, maximum=9, required=True)
        cleaned[f"{name}_level"] = level
    thresholds: list[dict[str, Any]] | None = None
    if "thresholds" in data:
        raw = data.get("thresholds") or []
        thresholds = []
        seen: set[Decimal] = set()
        if not isinstance(raw, (list, tuple)):
            errors.append(FieldError("thresholds", _("必须是列表。"), "invalid"))
            raw = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                errors.append(FieldError(f"thresholds.{index}", _("格式无效。"), "invalid"))
                continue
            percent = _decimal(item, "min_margin_percent", errors, field=f"thresholds.{index}.min_margin_percent",
                               required=True, minimum=Decimal(-100), maximum=Decimal(100), places=2)
            level = _int(item.get("level"), f"thresholds.{index}.level", errors, minimum=1, maximum=9, required=True)
            name = str(item.get("name") or "").strip()
            if len(name) > 100:
                errors.append(FieldError(f"thresholds.{index}.name", _("最多 100 个字。"), "too_long"))
            if percent is not None and percent in seen:
                errors.append(FieldError(f"thresholds.{index}.min_margin_percent",
                                         _("最低毛利率 %(value)s%% 重复。") % {"value": percent}, "duplicate"))
            if percent is not None:
                seen.add(percent)
            thresholds.append({"name": name[:100], "min_margin_percent": percent, "level": level})
    _raise(errors, _("毛利管控策略填写有误。"))
    before = snapshot(policy, list(cleaned))
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.version += 1
    policy.save()
    changes = diff(before, snapshot(policy, list(cleaned)))
    if thresholds is not None:
        old = [[str(t.min_margin_percent), t.level] for t in policy.thresholds.all()]
        MarginThreshold.objects.filter(policy=policy).delete()
        MarginThreshold.objects.bulk_create([MarginThreshold(policy=policy, **item) for item in thresholds])
        new = [[str(t["min_margin_percent"]), t["level"]] for t in sorted(thresholds, key=lambda t: -t[
            "min_margin_percent"])]
        if old != new:
            changes["thresholds"] = [old, new]
    audit_record(object_type="margin_policy", object_id=policy.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=_("毛利管控策略"), changes=changes)
    rules_version_bump()
    return policy

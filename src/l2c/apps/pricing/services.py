"""Pricing writes (ADR 0006): price books with scope, entries, tiers and attribute adjustments. Promotions,
coupons and the margin policy are in `promotion_services` (re-exported here), quota reservations in
`reservations`.

Every write is one transaction that validates (all field problems at once, each with its field and a
stable code), writes, records an audit event and bumps the catalogue's rules version
(`catalog.services.rules_version_bump`): compiled engine catalogues are cached per rules version.
Books and promotions carry `version` (the API's ETag); updates are compare-and-set on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import diff, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog.models import Attribute, AttributeValue, Category, Product, ProductType, Sku
from l2c.apps.catalog.services import rules_version_bump
from l2c.apps.customers.rfm import clean_currency
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, ValidationFailed

from .cleaning import (
    audit,
    check_version,
    clean_code,
    clean_date,
    clean_decimal,
    clean_int,
    clean_list,
    clean_scope,
    clean_text,
    codes_exist,
    decimal_or_none,
    raise_errors,
    rule_message,
)
from .models import AttributeAdjustment, BookStatus, PriceBook, PriceBookEntry, PriceMethod, PriceTier, TierMode
from .promotion_services import (
    COUPON_ALPHABET,
    MAX_COUPONS_GENERATED,
    InvalidTransition,
    coupon_create,
    coupon_deactivate,
    coupons_generate,
    margin_policy_save,
    promotion_activate,
    promotion_create,
    promotion_delete,
    promotion_end,
    promotion_pause,
    promotion_update,
    validate_promotion_params,
)

__all__ = [
    "COUPON_ALPHABET", "MAX_COUPONS_GENERATED", "MAX_TIERS", "BaseBookConflict", "InvalidTransition",
    "attribute_adjustment_create", "attribute_adjustment_delete", "attribute_adjustment_update", "clean_entry",
    "clean_scope", "clean_tiers", "coupon_create", "coupon_deactivate", "coupons_generate", "decimal_or_none",
    "entry_write", "margin_policy_save", "price_book_activate", "price_book_archive", "price_book_copy",
    "price_book_create", "price_book_delete", "price_book_update", "price_entry_delete", "price_entry_upsert",
    "price_tiers_replace", "promotion_activate", "promotion_create", "promotion_delete", "promotion_end",
    "promotion_pause", "promotion_update", "rule_message", "validate_promotion_params",
]

BOOK_AUDITED = ["code", "name", "currency", "is_base", "priority", "valid_from", "valid_to", "status",
                "description", "scope_accounts", "scope_groups", "scope_departments", "scope_regions"]
MAX_TIERS = 20


class BaseBookConflict(Conflict):
    """Another active base book of the same currency exists: at most one per currency."""

    code = "base_book_exists"
    title = "Another active base price book exists"


# --- price books ---------------------------------------------------------------------------------------
def _clean_book(data: Mapping[str, Any], *, book: PriceBook | None, errors: list[FieldError]) -> dict[str, Any]:
    partial = book is not None
    cleaned: dict[str, Any] = {}
    if not partial or "code" in data:
        cleaned["code"] = clean_code(data, errors)
        if cleaned["code"] and PriceBook.objects.filter(code=cleaned["code"]).exclude(
                pk=book.pk if book else None).exists():
            errors.append(FieldError("code", _("代码“%(code)s”已被另一个价目表使用。") % {"code": cleaned["code"]},
                                     "duplicate"))
    if not partial or "name" in data:
        cleaned["name"] = clean_text(data, "name", 200, errors, required=True)
    if not partial or "currency" in data:
        try:
            cleaned["currency"] = clean_currency(data.get("currency") or "CNY")
        except ValueError as error:
            errors.append(FieldError("currency", str(error), "invalid"))
    if not partial or "is_base" in data:
        cleaned["is_base"] = bool(data.get("is_base"))
    if not partial or "priority" in data:
        cleaned["priority"] = clean_int(data.get("priority") or 0, "priority", errors, minimum=-1_000_000,
                                   maximum=1_000_000) or 0
    for name in ("valid_from", "valid_to"):
        if not partial or name in data:
            cleaned[name] = clean_date(data.get(name), name, errors)
    if not partial or "description" in data:
        cleaned["description"] = clean_text(data, "description", 5000, errors)
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
    raise_errors(errors, _("价目表填写有误。"))
    book = PriceBook(**cleaned, status=status, created_by=actor)
    _require_unique_base(book)
    _save_book(book, [])
    audit("price_book", book, AuditEvent.Kind.CREATE, actor, {key: [None, value] for key, value in
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
    check_version(book.version, expected_version, _("价目表"))
    errors: list[FieldError] = []
    cleaned = _clean_book(data, book=book, errors=errors)
    raise_errors(errors, _("价目表填写有误。"))
    before = snapshot(book, BOOK_AUDITED)
    for name, value in cleaned.items():
        setattr(book, name, value)
    _require_unique_base(book)
    changes = diff(before, snapshot(book, BOOK_AUDITED))
    if changes:
        book.version += 1
        _save_book(book, [*cleaned, "version"])
        audit("price_book", book, AuditEvent.Kind.UPDATE, actor, changes)
        rules_version_bump()
    return book


def _book_status(actor: User, book_id: int, status: str, expected_version: int | None) -> PriceBook:
    book = _book_for(actor, book_id)
    check_version(book.version, expected_version, _("价目表"))
    if book.status == status:
        return book
    before = book.status
    book.status = status
    _require_unique_base(book)
    book.version += 1
    _save_book(book, ["status", "version"])
    audit("price_book", book, AuditEvent.Kind.STATUS, actor, {"status": [before, status]})
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
    check_version(book.version, expected_version, _("价目表"))
    audit("price_book", book, AuditEvent.Kind.DELETE, actor, {"code": [book.code, None]})
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
    raise_errors(errors, _("价目表填写有误。"))
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
    audit("price_book", book, AuditEvent.Kind.CREATE, actor, {"copied_from": [None, source.code],
                                                               "entries": [None, len(entries)]},
           summary=_("复制自价目表 %(code)s") % {"code": source.code})
    rules_version_bump()
    return book


# --- entries and tiers -----------------------------------------------------------------------------------
def _clean_percent_of(raw: Any, errors: list[FieldError]) -> list[str]:
    items = [str(item).strip() for item in clean_list(raw, "percent_of", errors)]
    types = set(ProductType.values)
    categories = [item for item in items if not item.startswith("type:")]
    for item in items:
        if item.startswith("type:") and item.removeprefix("type:") not in types:
            errors.append(FieldError("percent_of", _("产品类型“%(value)s”无效，可选：%(types)s。")
                                     % {"value": item, "types": "、".join(f"type:{t}" for t in ProductType.values)},
                                     "invalid"))
    if categories:
        codes_exist(Category, categories, "percent_of", errors, _("分类"))
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
        minimum = clean_decimal(item, "min_quantity", errors, field=f"tiers.{index}.min_quantity", required=True,
                           minimum=Decimal(0))
        price = clean_decimal(item, "unit_price", errors, field=f"tiers.{index}.unit_price", required=True,
                         minimum=Decimal(0))
        fee = clean_decimal(item, "flat_fee", errors, field=f"tiers.{index}.flat_fee", minimum=Decimal(0))
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
    cleaned["unit_price"] = clean_decimal(data, "unit_price", errors, minimum=Decimal(0),
                                     required=method in (PriceMethod.FIXED, PriceMethod.BLOCK)
                                     and tier_mode == TierMode.NONE) or Decimal(0)
    cleaned["floor_price"] = clean_decimal(data, "floor_price", errors, minimum=Decimal(0))
    cleaned["block_size"] = clean_decimal(data, "block_size", errors, positive=True,
                                          required=method == PriceMethod.BLOCK)
    cleaned["markup_percent"] = clean_decimal(data, "markup_percent", errors, minimum=Decimal("-99.9999"),
                                         required=method == PriceMethod.COST_PLUS)
    cleaned["percent"] = clean_decimal(data, "percent", errors, positive=True, maximum=Decimal(1000),
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
    raise_errors(errors, _("价目表条目填写有误。"))
    sku = _sku(sku_code)
    _engine_check_entry(sku.code, cleaned)
    entry, created = entry_write(book, sku, cleaned)
    _touch_book(book)
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
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
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor, {f"entry:{sku_code}": ["deleted", None]})
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
    raise_errors(errors, _("阶梯价格填写有误。"))
    _engine_check_entry(entry.sku.code, cleaned)
    entry, _created = entry_write(book, entry.sku, cleaned)
    _touch_book(book)
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
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
    amount = clean_decimal(data, "amount", errors)
    percent = clean_decimal(data, "percent", errors, minimum=Decimal("-99.9999"), maximum=Decimal(1000))
    if (amount is None) == (percent is None) and not any(error.field in ("amount", "percent") for error in errors):
        errors.append(FieldError("amount", _("加价金额与加价百分比必须且只能填一个。"), "one_of"))
    products = [str(item) for item in clean_list(data.get("products"), "products", errors)]
    categories = [str(item) for item in clean_list(data.get("categories"), "categories", errors)]
    if products:
        codes_exist(Product, products, "products", errors, _("产品"))
    if categories:
        codes_exist(Category, categories, "categories", errors, _("分类"))
    position = clean_int(data.get("position") or 0, "position", errors, minimum=0, maximum=1_000_000) or 0
    return {"attribute": attribute_code, "value": value_code, "amount": amount, "percent": percent,
            "products": sorted(set(products)), "categories": sorted(set(categories)), "position": position}


@transaction.atomic
def attribute_adjustment_create(*, actor: User, book_id: int, data: Mapping[str, Any]) -> AttributeAdjustment:
    """+amount or +% on the book price for an attribute value (amount XOR percent)."""
    book = _book_for(actor, book_id)
    errors: list[FieldError] = []
    cleaned = _clean_adjustment(data, errors)
    raise_errors(errors, _("属性加价填写有误。"))
    adjustment = AttributeAdjustment.objects.create(book=book, **cleaned)
    _touch_book(book)
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{adjustment.attribute}={adjustment.value}": [None, str(adjustment.amount
                                                                              if adjustment.amount is not None
                                                                              else f"{adjustment.percent}%")]})
    rules_version_bump()
    return adjustment


def _adjustment_for(actor: User, book_id: int, adjustment_id: int) -> tuple[PriceBook, AttributeAdjustment]:
    book = _book_for(actor, book_id)
    adjustment = AttributeAdjustment.objects.filter(pk=adjustment_id, book=book).first()
    if adjustment is None:
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
    raise_errors(errors, _("属性加价填写有误。"))
    before = snapshot(adjustment, list(cleaned))
    for name, value in cleaned.items():
        setattr(adjustment, name, value)
    adjustment.save()
    _touch_book(book)
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{key}": value for key, value in diff(before, snapshot(adjustment, list(cleaned))).items()})
    rules_version_bump()
    return adjustment


@transaction.atomic
def attribute_adjustment_delete(*, actor: User, book_id: int, adjustment_id: int) -> None:
    book, adjustment = _adjustment_for(actor, book_id, adjustment_id)
    audit("price_book", book, AuditEvent.Kind.UPDATE, actor,
           {f"adjustment:{adjustment.attribute}={adjustment.value}": ["deleted", None]})
    adjustment.delete()
    _touch_book(book)
    rules_version_bump()

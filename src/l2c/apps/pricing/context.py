"""One price preview (ADR 0006 "The engine", app side): the input checked field by field, the
customer context, the live coupon and quota counters, and the engine run.

Queries per preview, whatever the number of lines: the rules version (1; the compile itself is a
constant `compiler.LOAD_QUERIES` more when the version moved), the caller's grants (1, cached on the
user for the request), the account and its tags (2, only with an account), the seller's department
path (1, only when the user has a department), coupons with the account's uses (1, only when codes
are given) and the counters of promotions with quotas (1, only when an active promotion has a quota).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.customers import selectors as customer_selectors
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, User
from l2c.engines.pricing import engine
from l2c.engines.pricing.compile import RuleError
from l2c.engines.pricing.types import (
    Coupon as CouponFacts,
)
from l2c.engines.pricing.types import (
    CustomerContext,
    LineInput,
    PricingRequest,
    PricingResult,
    Quota,
)
from l2c.kernel.errors import FieldError, ValidationFailed
from l2c.kernel.money import CURRENCY_EXPONENTS

from . import compiler, selectors
from .models import PriceBook

MAX_LINES = 10_000
MAX_COUPONS = 20
MAX_QUANTITY = Decimal(1_000_000_000)
QUANTITY_PLACES = 4  # as many as a unit price has: 0.00001 GB would price below a cent per line


def _too_precise(number: Decimal) -> bool:
    """More than QUANTITY_PLACES places that carry a digit (1.50000 is fine), counted on the digits
    as written, so no arithmetic runs: an absurd exponent (1E-999999999) is too precise, and caught
    before the engine turns it into an integer ratio with a billion digits."""
    _sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int) or exponent >= -QUANTITY_PLACES or not any(digits):
        return False
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return -exponent - trailing_zeros > QUANTITY_PLACES


# --- input -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewInput:
    """A checked preview body. `as_of` is aware; `price_book` is the forced book's code; the lines are
    the engine's, keyed by their 1-based position."""

    currency: str
    as_of: dt.datetime
    lines: tuple[LineInput, ...]
    account_id: int | None = None
    price_book_id: int | None = None
    price_book: str | None = None
    coupon_codes: tuple[str, ...] = ()
    promotion: str | None = None  # simulation: the promotion to explain


def _number(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or a numeric string; None for anything else (bools too)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, (str, Decimal)):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _as_of(value: Any) -> dt.datetime | None:
    """An aware datetime from an ISO date-time (a naive one is local time) or a date (that day in
    local time: now when it is today, else its start). None when unreadable."""
    now = timezone.now()
    if value is None or value == "":
        return now
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = None
        day = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            day = dt.date.fromisoformat(text)
            moment = None
        except ValueError:
            try:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    else:
        return None
    if moment is not None:
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def parse_input(data: Mapping[str, Any], *, rules: compiler.CompiledRules) -> PreviewInput:
    """Check a preview body (API JSON or the page's form, as a dict); every wrong field is named
    (`lines[3].quantity`) in one `ValidationFailed`. Unknown SKUs are not an error here: the engine
    reports them as violations in the answer."""
    errors: list[FieldError] = []
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency.strip():
        errors.append(FieldError("currency", _("请选择币种。"), "required"))
        currency = ""
    else:
        currency = currency.strip().upper()
        if currency not in CURRENCY_EXPONENTS:
            errors.append(FieldError("currency", _("未知的币种：%(currency)s。") % {"currency": currency},
                                     "unknown_currency"))
    as_of = _as_of(data.get("as_of"))
    if as_of is None:
        errors.append(FieldError("as_of", _("日期时间格式无效，请使用 YYYY-MM-DD 或 ISO 8601。"), "invalid"))
    account_id = data.get("account_id")
    if account_id in ("", None):
        account_id = None
    elif isinstance(account_id, bool) or not str(account_id).strip().isdigit():
        errors.append(FieldError("account_id", _("客户 ID 无效。"), "invalid"))
        account_id = None
    else:
        account_id = int(str(account_id).strip())
    book_id = data.get("price_book_id")
    book_code: str | None = None
    if book_id in ("", None):
        book_id = None
    elif isinstance(book_id, bool) or not str(book_id).strip().isdigit():
        errors.append(FieldError("price_book_id", _("价目表 ID 无效。"), "invalid"))
        book_id = None
    else:
        book_id = int(str(book_id).strip())
        book_code = rules.facts.book_by_id.get(book_id)
        if book_code is None:
            status = PriceBook.objects.filter(pk=book_id).values_list("status", flat=True).first()
            if status is None:
                errors.append(FieldError("price_book_id", _("没有 ID 为 %(id)s 的价目表。") % {"id": book_id},
                                         "unknown_price_book"))
            else:
                errors.append(FieldError("price_book_id", _("价目表 %(id)s 未生效，不能用于试算。") % {"id": book_id},
                                         "inactive_price_book"))
    lines = _lines(data.get("lines"), errors)
    _check_attributes(lines, rules, errors)
    codes: list[str] = []
    raw_codes = data.get("coupon_codes")
    if raw_codes not in (None, ""):
        if isinstance(raw_codes, str):
            raw_codes = [part for part in raw_codes.replace(",", " ").replace("，", " ").split()]
        if not isinstance(raw_codes, (list, tuple)):
            errors.append(FieldError("coupon_codes", _("券码必须是字符串列表。"), "invalid"))
        elif len(raw_codes) > MAX_COUPONS:
            errors.append(FieldError("coupon_codes", _("一次最多使用 %(count)s 个券码。") % {"count": MAX_COUPONS},
                                     "too_many"))
        else:
            for index, code in enumerate(raw_codes):
                if not isinstance(code, str) or len(code.strip()) > 40:
                    errors.append(FieldError(f"coupon_codes[{index}]", _("券码无效。"), "invalid"))
                elif code.strip() and code.strip().upper() not in codes:
                    codes.append(code.strip().upper())
    promotion = data.get("promotion")
    if promotion in ("", None):
        promotion = None
    elif not isinstance(promotion, str):
        errors.append(FieldError("promotion", _("促销代码无效。"), "invalid"))
        promotion = None
    else:
        promotion = promotion.strip()
    if errors:
        raise ValidationFailed("; ".join(f"{error.field}: {error.message}" for error in errors[:5]), errors=errors)
    assert as_of is not None
    return PreviewInput(currency=currency, as_of=as_of, lines=tuple(lines), account_id=account_id,
                        price_book_id=book_id, price_book=book_code, coupon_codes=tuple(codes), promotion=promotion)


def _lines(raw: Any, errors: list[FieldError]) -> list[LineInput]:
    if raw is None or (isinstance(raw, (list, tuple)) and not raw):
        errors.append(FieldError("lines", _("请至少填写一行。"), "required"))
        return []
    if not isinstance(raw, (list, tuple)):
        errors.append(FieldError("lines", _("明细行必须是列表。"), "invalid"))
        return []
    if len(raw) > MAX_LINES:
        errors.append(FieldError("lines", _("一次最多试算 %(count)s 行，收到 %(given)s 行。")
                                 % {"count": f"{MAX_LINES:,}", "given": f"{len(raw):,}"}, "too_many"))
        return []
    lines: list[LineInput] = []
    for index, item in enumerate(raw):
        name = f"lines[{index}]"
        if type(item) is not dict and not isinstance(item, Mapping):  # a JSON object is a dict: no ABC check
            item = item.dict() if hasattr(item, "dict") else None
            if not isinstance(item, Mapping):
                errors.append(FieldError(name, _("每一行必须是对象。"), "invalid"))
                continue
        sku = item.get("sku")
        if sku is not None and not isinstance(sku, str):
            errors.append(FieldError(f"{name}.sku", _("SKU 编码必须是文本。"), "invalid"))
            sku = ""
        elif not isinstance(sku, str) or not sku.strip():
            errors.append(FieldError(f"{name}.sku", _("请填写 SKU 编码。"), "required"))
            sku = ""
        quantity = _number(item.get("quantity"))
        if quantity is None:
            errors.append(FieldError(f"{name}.quantity", _("数量必须是数字。"), "invalid_number"))
        elif quantity <= 0:
            errors.append(FieldError(f"{name}.quantity", _("数量必须大于 0。"), "positive"))
        elif quantity > MAX_QUANTITY:
            errors.append(FieldError(f"{name}.quantity", _("数量过大。"), "too_large"))
        elif _too_precise(quantity):
            errors.append(FieldError(f"{name}.quantity",
                                     _("数量最多 %(places)s 位小数。") % {"places": QUANTITY_PLACES}, "too_precise"))
            quantity = None
        attributes = item.get("attributes")
        if attributes is None or attributes == "":
            attributes = {}
        elif (type(attributes) is not dict and not isinstance(attributes, Mapping)) or not all(
                isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()):
            errors.append(FieldError(f"{name}.attributes", _("属性必须是“属性代码: 属性值代码”的对象。"), "invalid"))
            attributes = {}
        discount_raw = item.get("manual_discount_percent")
        discount: Decimal | None = None
        if discount_raw not in (None, ""):
            discount = _number(discount_raw)
            if discount is None:
                errors.append(FieldError(f"{name}.manual_discount_percent", _("折扣必须是数字。"), "invalid_number"))
            elif not 0 <= discount <= 100:
                errors.append(FieldError(f"{name}.manual_discount_percent", _("折扣必须在 0 到 100 之间。"),
                                         "percent_range"))
                discount = None
            elif _too_precise(discount):
                errors.append(FieldError(f"{name}.manual_discount_percent", _("最多 %(places)s 位小数。")
                                         % {"places": QUANTITY_PLACES}, "too_precise"))
                discount = None
        # A configured line (the configurator) carries its rolled-up cost: the SKU's own cost plus the
        # included (non-priced) components, so the margin is the configuration's, not the bare SKU's.
        unit_cost_raw = item.get("unit_cost")
        unit_cost: Decimal | None = None
        if unit_cost_raw not in (None, ""):
            unit_cost = _number(unit_cost_raw)
            if unit_cost is None or unit_cost < 0 or unit_cost > MAX_QUANTITY * 1000:
                errors.append(FieldError(f"{name}.unit_cost", _("单位成本必须是不小于 0 的数字。"), "invalid_number"))
                unit_cost = None
            elif _too_precise(unit_cost):
                errors.append(FieldError(f"{name}.unit_cost", _("最多 %(places)s 位小数。")
                                         % {"places": QUANTITY_PLACES}, "too_precise"))
                unit_cost = None
        if quantity is not None and quantity > 0:
            lines.append(LineInput(str(index + 1), sku.strip(), quantity,
                                   {key.strip(): value.strip() for key, value in attributes.items() if value.strip()}
                                   if attributes else {}, discount, unit_cost=unit_cost))
    return lines


def _check_attributes(lines: list[LineInput], rules: compiler.CompiledRules, errors: list[FieldError]) -> None:
    """A line's attribute values must name a defined attribute, take one of its values, and agree
    with what the SKU itself fixes (HDD-8T is capacity 8T: asking it for 4T would price a surcharge
    the goods do not have — the 4T SKU is the answer). Attributes that are no axis of the SKU's
    product are allowed: a configuration chooses them (the voltage of a server) and attribute
    adjustments price them. Lines of unknown SKUs are left to the engine's violations."""
    skus = rules.catalog.skus
    defined = rules.facts.attribute_values
    for line in lines:
        if not line.attributes:
            continue
        facts = skus.get(line.sku)
        if facts is None:
            continue
        for code, value in line.attributes.items():
            name = f"lines[{int(line.key) - 1}].attributes.{code}"
            values = defined.get(code)
            if values is None:
                errors.append(FieldError(name, _("没有代码为 %(code)s 的属性。") % {"code": code}, "unknown_attribute"))
            elif value not in values:
                errors.append(FieldError(name, _("%(value)s 不是属性 %(code)s 的可选值（可选：%(choices)s）。")
                                         % {"value": value, "code": code, "choices": "、".join(values) or "—"},
                                         "unknown_value"))
            elif facts.attributes.get(code) not in (None, "", value):
                message = _("SKU %(sku)s 的 %(code)s 固定为 %(own)s；要 %(value)s 请选对应的 SKU。") % {
                    "sku": line.sku, "code": code, "own": facts.attributes[code], "value": value}
                errors.append(FieldError(name, message, "conflicts_with_sku"))


# --- customer context ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSummary:
    id: int
    name: str
    level: str
    tags: tuple[str, ...]
    region: str


def seller_departments(user: User) -> frozenset[int]:
    """The user's department and every department above it (the selling channel): one query."""
    department_id = getattr(user, "department_id", None)
    if not department_id:
        return frozenset()
    path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first() or ""
    ids = {int(part) for part in path.strip("/").split("/") if part.isdigit()}
    ids.add(int(department_id))
    return frozenset(ids)


def customer_context(*, user: User, account_id: int | None) -> tuple[CustomerContext, AccountSummary | None]:
    """The engine's customer context: the account (visible to the user — else `NotFound`, a 404 like
    everywhere), its groups ("level:<level>", "tag:<name>"), region ("province/city" when the city is
    known) and the seller's channel (department and ancestors)."""
    departments = seller_departments(user)
    if account_id is None:
        return CustomerContext(department_ids=departments), None
    account = customer_selectors.account_detail(user=user, account_id=account_id)
    tags = tuple(sorted(tag.name for tag in account.tags.all()))
    groups = {f"tag:{name}" for name in tags}
    if account.level:
        groups.add(f"level:{account.level}")
    province = (account.province or "").strip()
    city = (account.city or "").strip()
    region = f"{province}/{city}" if province and city else province
    summary = AccountSummary(account.pk, account.name, account.level or "", tags, region)
    return CustomerContext(account_id=account.pk, groups=frozenset(groups), region=region,
                           department_ids=departments), summary


# --- live counters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counters:
    coupons: tuple[CouponFacts, ...] = ()
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    inactive_coupons: frozenset[str] = frozenset()  # typed codes of disabled coupons (left out)


def live_counters(*, rules: compiler.CompiledRules, coupon_codes: Sequence[str], account_id: int | None) -> Counters:
    """Coupons found for the typed codes (upper-case; codes are stored upper-case) with their remaining
    uses and the account's remaining uses (reservations reserved or consumed), and the remaining uses
    and budget of every compiled promotion that has a quota: at most two queries."""
    coupons: list[CouponFacts] = []
    inactive: set[str] = set()
    for code, row in (selectors.coupons_by_codes(coupon_codes, account_id) if coupon_codes else {}).items():
        if not row["is_active"]:
            inactive.add(code)
        else:
            coupons.append(CouponFacts(code, row["promotion"], row["remaining_uses"], row["customer_remaining"]))
    limited = [code for code, info in rules.facts.promotion_info.items() if info.limited]
    if rules.simulated_info is not None and rules.simulated_info.limited:
        limited.append(rules.simulated_info.code)
    quotas = {code: Quota(remaining_uses=row["remaining_uses"], remaining_budget=row["remaining_budget"])
              for code, row in selectors.promotion_quotas(limited).items()}
    return Counters(tuple(sorted(coupons, key=lambda item: item.code)), quotas, frozenset(inactive))


# --- the preview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """One priced cart with everything needed to explain it."""

    rules: compiler.CompiledRules
    input: PreviewInput
    request: PricingRequest
    result: PricingResult
    account: AccountSummary | None
    counters: Counters


def preview_price(*, user: User, data: Mapping[str, Any], simulate: bool = False) -> Preview:
    """Check `data`, build the request and price it. `simulate`: compile `data["promotion"]` in as active
    (whatever its status) for this one call. Raises `ValidationFailed` (422), `NotFound` (404: an
    account the user may not see) and `PermissionDenied` (403)."""
    access.require(user, "promotion" if simulate else "price_book", "view")
    rules = compiler.compiled_rules()
    checked = parse_input(data, rules=rules)
    if simulate:
        if not checked.promotion:
            raise ValidationFailed(_("请选择要模拟的促销。"),
                                   errors=[FieldError("promotion", _("请选择要模拟的促销。"), "required")])
        try:
            simulated = compiler.simulated_rules(rules, checked.promotion)
        except RuleError as error:
            raise ValidationFailed(_("促销 %(code)s 的规则无效，无法模拟。") % {"code": checked.promotion}, errors=[
                FieldError(f"promotion.{error.field}", _("规则无效（%(code)s）。") % {"code": error.code},
                           error.code)]) from None
        if simulated is None:
            raise ValidationFailed(_("没有代码为 %(code)s 的促销。") % {"code": checked.promotion},
                                   errors=[FieldError("promotion", _("没有这个促销。"), "unknown_promotion")])
        rules = simulated
    context, account = customer_context(user=user, account_id=checked.account_id)
    counters = live_counters(rules=rules, coupon_codes=checked.coupon_codes, account_id=context.account_id)
    request = PricingRequest(
        currency=checked.currency, as_of=timezone.localtime(checked.as_of),
        lines=checked.lines,
        customer=context, price_book=checked.price_book, coupon_codes=checked.coupon_codes,
        coupons=counters.coupons, quotas=counters.quotas)
    result = engine.price(rules.catalog, request)
    return Preview(rules=rules, input=checked, request=request, result=result, account=account, counters=counters)

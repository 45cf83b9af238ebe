"""The pricing engine's message keys and reason codes as text in the user's language, and the answer
of a preview (API and pages) built from a `context.Preview`.

The engine never translates: each `Step` carries a message key and params, each rejection, approval
and violation a code and params. Every key the engine can emit has a text here (a test reads the
engine's source to hold that). Amounts in the answer are decimal strings in currency units ("1234.50").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from l2c.engines.pricing.render import (
    line_dicts,
    money_text,
    percent_text,
    quantity_text,
    unit_text,
)
from l2c.engines.pricing.types import (
    AppliedPromotion,
    Approval,
    BookConsidered,
    LineResult,
    RejectedPromotion,
    Step,
    Violation,
)
from l2c.kernel.gcpause import gc_paused
from l2c.kernel.money import currency_exponent

from .context import Preview
from .models import PromotionKind

# --- numbers ---------------------------------------------------------------------------------------


def money(minor: int, currency: str) -> str:
    """Minor units as a decimal string in currency units: 123450 → "1234.50" (CNY)."""
    return money_text(minor, currency_exponent(currency))


def unit(value: Decimal | None, currency: str) -> str | None:
    """A unit price: the currency's places at least, more only when they carry digits (4 at most)."""
    return unit_text(value, currency_exponent(currency))


def plain(value: Any) -> str:
    """A number param ("10.0000", 15, Decimal) without trailing zeros: "10", "12.5"."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.normalize():f}"
    return text


quantity = quantity_text
percent = percent_text


# --- steps -----------------------------------------------------------------------------------------

PRODUCT_TYPE_LABELS = {
    "goods": gettext_lazy("实物商品"), "service": gettext_lazy("服务"), "subscription": gettext_lazy("订阅"),
    "usage": gettext_lazy("按量计费"), "project": gettext_lazy("项目"),
}

STEP_KIND_LABELS = {
    "list_price": gettext_lazy("目录价"), "price_book": gettext_lazy("价目表"), "tier": gettext_lazy("阶梯价"),
    "block": gettext_lazy("按块计价"), "cost_plus": gettext_lazy("成本加成"),
    "percent_of_total": gettext_lazy("按总额百分比"), "attribute": gettext_lazy("属性调价"),
    "promotion": gettext_lazy("促销"), "order_promotion": gettext_lazy("整单促销"),
    "manual_discount": gettext_lazy("手工折扣"),
}

# Message key → text; params as the engine gives them, plus "name"/"kind_label" and the promotion's
# own params for promotion steps (see `step_text`).
STEP_TEXTS: dict[str, Any] = {
    "pricing.step.list_price": gettext_lazy("目录价 %(price)s × %(quantity)s（价目表 %(book)s）"),
    "pricing.step.price_book": gettext_lazy("适用价目表“%(name)s”（%(book)s）的价格"),
    "pricing.step.tier.volume": gettext_lazy("总量阶梯：数量达到 %(min_quantity)s，全部按单价 %(unit_price)s"),
    "pricing.step.tier.graduated": gettext_lazy("分段阶梯：进入 %(tiers_entered)s 个阶梯，各段按各自单价计价"),
    "pricing.step.block": gettext_lazy("按块计价：每块 %(block_size)s 件 %(block_price)s，共 %(blocks)s 块"),
    "pricing.step.cost_plus": gettext_lazy("成本加成：成本 × (1 + %(markup_percent)s%%)"),
    "pricing.step.percent_of_total": gettext_lazy("按总额百分比：%(bases)s 金额的 %(percent)s%%"),
    "pricing.step.attribute.amount": gettext_lazy("属性 %(attribute)s = %(value)s：每件 %(amount)s"),
    "pricing.step.attribute.percent": gettext_lazy("属性 %(attribute)s = %(value)s：%(percent)s%%"),
    "pricing.step.manual_discount": gettext_lazy("手工折扣 %(percent)s%%"),
    "pricing.step.promotion.percent_off": gettext_lazy("促销“%(name)s”：单品优惠 %(percent)s%%"),
    "pricing.step.promotion.amount_off": gettext_lazy("促销“%(name)s”：每件立减 %(amount)s"),
    "pricing.step.promotion.fixed_price": gettext_lazy("促销“%(name)s”：促销价 %(price)s"),
    "pricing.step.promotion.flash_price": gettext_lazy("促销“%(name)s”：限时秒杀价 %(price)s"),
    "pricing.step.promotion.group_price": gettext_lazy("促销“%(name)s”：会员/客户组价 %(detail)s"),
    "pricing.step.promotion.quantity_discount": gettext_lazy(
        "促销“%(name)s”：数量满 %(min_quantity)s 优惠 %(percent)s%%"),
    "pricing.step.promotion.buy_n_get_m": gettext_lazy("促销“%(name)s”：买 %(n)s 送 %(m)s"),
    "pricing.step.promotion.nth_item": gettext_lazy("促销“%(name)s”：每第 %(n)s 件优惠 %(percent)s%%"),
    "pricing.step.promotion.gift": gettext_lazy("促销“%(name)s”：赠品 %(gift_sku)s × %(gift_quantity)s"),
    "pricing.step.promotion.free_accessory": gettext_lazy("促销“%(name)s”：免费赠送 %(accessory_sku)s"),
    "pricing.step.promotion.bundle": gettext_lazy("促销“%(name)s”：组合价 %(price)s（按金额分摊到各行）"),
    "pricing.step.promotion.spend_save": gettext_lazy("促销“%(name)s”：满 %(threshold)s 减 %(amount)s（按金额分摊）"),
    "pricing.step.promotion.spend_percent": gettext_lazy(
        "促销“%(name)s”：满 %(threshold)s 优惠 %(percent)s%%（按金额分摊）"),
    "pricing.step.promotion.tiered_spend": gettext_lazy("促销“%(name)s”：阶梯满减 %(tiers)s（按金额分摊）"),
    "pricing.step.promotion.coupon": gettext_lazy("优惠券“%(name)s”：%(detail)s（按金额分摊）"),
}
NUMBER_PARAMS = frozenset({"percent", "amount", "price", "min_quantity", "n", "m", "threshold", "quantity_per_unit",
                           "gift_quantity"})
GIFT_LINE_TEXT = gettext_lazy("赠品（促销“%(name)s”），按零价计入，成本计入毛利")
CAPPED_TEXT = gettext_lazy("（受促销预算限制）")
FALLBACK_STEP_TEXT = gettext_lazy("%(kind)s（%(rule)s）")


class _Translations:
    """gettext / ngettext / lazy texts resolved once per answer (a lookup in the active language's
    catalogue costs microseconds; an answer on a 1,000-line cart asks for the same few thousands of times)."""

    def __init__(self) -> None:
        self.found: dict[Any, str] = {}
        self.books: dict[str, str | None] | None = None  # line key → price book, for floor-price texts

    def gettext(self, message: str) -> str:
        text = self.found.get(message)
        if text is None:
            text = self.found[message] = _(message)
        return text

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        key = (singular, plural, count)
        text = self.found.get(key)
        if text is None:
            text = self.found[key] = ngettext(singular, plural, count)
        return text

    def lazy(self, text: Any) -> str:
        key = ("lazy", id(text))
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = str(text)
        return found


class _Params(dict[str, Any]):
    """Format params: a missing name shows as "?" instead of failing the whole answer."""

    def __missing__(self, key: str) -> str:
        return "?"


def _format(template: Any, params: Mapping[str, Any], translations: _Translations | None = None) -> str:
    return (translations.lazy(template) if translations is not None else str(template)) % _Params(params)


def _promotion_params(preview: Preview, code: str) -> dict[str, Any]:
    compiled = preview.rules.catalog.promotion_by_code.get(code)
    if compiled is None:
        return {"name": code}
    rule = compiled.promotion
    params: dict[str, Any] = {key: plain(value) if key in NUMBER_PARAMS and not isinstance(value, bool) else value
                              for key, value in rule.params.items()}
    params["name"] = rule.name or code
    params["kind_label"] = _kind_label(rule.kind)
    if rule.kind == "group_price" or rule.kind == "coupon":
        if rule.params.get("price") not in (None, ""):
            params["detail"] = _("单价 %(price)s") % {"price": plain(rule.params["price"])}
        elif rule.params.get("amount") not in (None, ""):
            params["detail"] = _("立减 %(amount)s") % {"amount": plain(rule.params["amount"])}
        else:
            params["detail"] = _("优惠 %(percent)s%%") % {"percent": plain(rule.params.get("percent", ""))}
        if rule.kind == "coupon" and rule.params.get("threshold") not in (None, "", 0, "0"):
            params["detail"] = _("满 %(threshold)s %(detail)s") % {"threshold": plain(rule.params["threshold"]),
                                                                  "detail": params["detail"]}
    if rule.kind == "spend_save" and rule.params.get("repeat"):
        params["amount"] = _("%(amount)s，每满重复") % {"amount": plain(rule.params.get("amount", ""))}
    if rule.kind == "tiered_spend":
        tiers = rule.params.get("tiers") or []
        params["tiers"] = " / ".join(
            _("满 %(threshold)s 减 %(amount)s") % {"threshold": plain(tier.get("threshold")),
                                                  "amount": plain(tier.get("amount"))}
            for tier in tiers if isinstance(tier, Mapping))
    if rule.kind == "bundle":
        items = rule.params.get("items") or []
        contents = " + ".join(f"{item.get('sku')} × {plain(item.get('quantity', 1))}"
                              for item in items if isinstance(item, Mapping))
        params["price"] = f"{plain(rule.params.get('price', ''))}（{contents}）"
    return params


def _kind_label(kind: str) -> str:
    try:
        return str(PromotionKind(kind).label)
    except ValueError:
        return kind


def step_text(step: Step, line: LineResult, preview: Preview, capped: frozenset[str] = frozenset()) -> str:
    """One waterfall step as a sentence."""
    currency = preview.result.currency
    key = step.message
    params: dict[str, Any] = dict(step.params)
    if key == "pricing.step.list_price":
        params.update(price=unit(line.list_price, currency), quantity=quantity(line.quantity), book=step.rule or "—")
    elif key == "pricing.step.price_book":
        info = preview.rules.facts.book_info.get(step.rule)
        params.setdefault("name", info.name if info else step.rule)
        params.setdefault("book", step.rule)
    elif key in ("pricing.step.tier.volume", "pricing.step.tier.graduated"):
        for name in ("min_quantity", "unit_price", "flat_fee"):
            if name in params:
                params[name] = plain(params[name])
        text = _format(STEP_TEXTS[key], params)
        if key == "pricing.step.tier.volume" and params.get("flat_fee") not in (None, "0"):
            text += _("，另加固定费用 %(fee)s") % {"fee": params["flat_fee"]}
        return text
    elif key == "pricing.step.block":
        params.update(block_size=plain(params.get("block_size", "")), block_price=plain(params.get("block_price", "")))
    elif key == "pricing.step.cost_plus":
        params["markup_percent"] = plain(params.get("markup_percent", ""))
    elif key == "pricing.step.percent_of_total":
        bases = []
        for base in params.get("percent_of") or ():
            base = str(base)
            if base.startswith("type:"):
                bases.append(str(PRODUCT_TYPE_LABELS.get(base[5:], base[5:])))
            else:
                bases.append(_("分类 %(code)s") % {"code": base})
        params.update(bases="、".join(bases) or "—", percent=plain(params.get("percent", "")))
    elif key == "pricing.step.attribute":
        if params.get("amount") is not None:
            key = "pricing.step.attribute.amount"
            params["amount"] = _signed(params["amount"])
        else:
            key = "pricing.step.attribute.percent"
            params["percent"] = _signed(params.get("percent", ""))
    elif key == "pricing.step.manual_discount":
        params["percent"] = plain(params.get("percent", ""))
    elif key.startswith("pricing.step.promotion."):
        if line.is_gift and step.kind == "promotion" and key == "pricing.step.promotion.gift" and not params:
            return _format(GIFT_LINE_TEXT, {"name": _promotion_params(preview, step.rule)["name"]})
        promotion = _promotion_params(preview, step.rule)
        promotion.update({name: value for name, value in params.items() if name not in ("kind", "name")})
        if "gift_quantity" in promotion:
            promotion["gift_quantity"] = plain(promotion["gift_quantity"])
        params = promotion
        text = _format(STEP_TEXTS.get(key, FALLBACK_STEP_TEXT), {**params, "kind": step.kind, "rule": step.rule})
        return text + (str(CAPPED_TEXT) if step.rule in capped else "")
    template = STEP_TEXTS.get(key)
    if template is None:
        return _format(FALLBACK_STEP_TEXT, {"kind": STEP_KIND_LABELS.get(step.kind, step.kind), "rule": step.rule})
    return _format(template, params)




class StepTexts:
    """`step_text` for a whole answer: every template is translated once and every distinct step
    (message, rule, params) is formatted once — a 1,000-line cart has ~10,000 steps but a few dozen
    distinct ones besides the list prices."""

    def __init__(self, preview: Preview, capped: frozenset[str]) -> None:
        self.preview = preview
        self.capped = capped
        self.currency = preview.result.currency
        self.list_template = str(STEP_TEXTS["pricing.step.list_price"])
        self.texts: dict[tuple[Any, ...], str] = {}
        self.by_identity: dict[tuple[Any, ...], tuple[Mapping[str, Any], str]] = {}

    def text(self, step: Step, line: LineResult) -> str:
        if step.message == "pricing.step.list_price":
            return self.list_template % {"price": unit(line.list_price, self.currency),
                                         "quantity": quantity(line.quantity), "book": step.rule or "—"}
        params = step.params
        # Shared params objects (a promotion's or a tier's) are recognised by identity, others by content.
        fast = (step.message, step.rule, line.is_gift, id(params))
        found = self.by_identity.get(fast)
        if found is not None and found[0] is params:
            return found[1]
        key = (step.message, step.rule, line.is_gift,
               tuple(sorted((name, repr(value)) for name, value in params.items())) if params else ())
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = step_text(step, line, self.preview, self.capped)
        self.by_identity[fast] = (params, text)
        return text


def _signed(value: Any) -> str:
    text = plain(value)
    return text if text.startswith("-") else "+" + text


# --- promotions, approvals, violations, books -------------------------------------------------------

REJECTION_TEXTS: dict[str, Any] = {
    "not_eligible": gettext_lazy("购物车中没有适用这个促销的商品。"),
    "cost_currency": gettext_lazy(
        "赠品 %(sku)s 的成本以 %(cost_currency)s 记，不能在 %(currency)s 报价中赠送（无法核算毛利）。"),
    "customer": gettext_lazy("客户不在促销的适用范围内（%(dimension)s）。"),
    "outside_validity": gettext_lazy("不在促销的有效期内（%(valid_from)s 至 %(valid_to)s）。"),
    "coupon_required": gettext_lazy("需要输入这个促销的优惠券码。"),
    "coupon_invalid": gettext_lazy("券码 %(code)s 对应的促销未生效。"),
    "coupon_used_up": gettext_lazy("券码 %(code)s 已用完。"),
    "coupon_customer_limit": gettext_lazy("券码 %(code)s 已达到该客户的使用上限。"),
    "quota_used_up": gettext_lazy("促销的使用次数已用完。"),
    "budget_used_up": gettext_lazy("促销的优惠预算已用完。"),
    "below_threshold": gettext_lazy("未达到促销门槛。"),
    "stacking_group": gettext_lazy("同一叠加组的促销“%(by)s”已经生效，不能叠加。"),
    "exclusive": gettext_lazy("与互斥促销“%(by)s”冲突，不能同时使用。"),
    "no_saving": gettext_lazy("按当前价格不会更优惠。"),
}
BELOW_QUANTITY_TEXT = gettext_lazy("未达到促销门槛：数量至少 %(min_quantity)s。")
BELOW_AMOUNT_TEXT = gettext_lazy("未达到促销门槛：需满 %(threshold)s，当前可参与金额 %(amount)s。")
MISSING_SKU_TEXT = gettext_lazy("促销的赠品/配件 %(sku)s 不在售或没有价格。")
DIMENSION_LABELS = {"account": gettext_lazy("客户"), "group": gettext_lazy("客户组"),
                    "department": gettext_lazy("渠道/部门"), "region": gettext_lazy("区域")}

VIOLATION_TEXTS: dict[str, Any] = {
    "unknown_sku": gettext_lazy("SKU %(sku)s 不存在。"),
    "sku_unsellable": gettext_lazy("SKU %(sku)s 当前不可销售（%(status)s）。"),
    "no_price": gettext_lazy("SKU %(sku)s 在适用的价目表中都没有价格。"),
    "invalid_quantity": gettext_lazy("数量 %(quantity)s 无效。"),
    "invalid_discount": gettext_lazy("手工折扣 %(percent)s%% 无效（应在 0 到 100 之间）。"),
    "unknown_price_book": gettext_lazy("指定的价目表 %(price_book)s 未生效，已按其他价目表定价。"),
    "price_book_not_applicable": gettext_lazy(
        "指定的价目表 %(price_book)s 不适用于本次报价（%(reason)s），已按自动选择的价目表定价。"),
    "unknown_coupon": gettext_lazy("券码 %(code)s 不存在。"),
    "inactive_coupon": gettext_lazy("券码 %(code)s 已停用。"),
    "coupon_invalid": gettext_lazy("券码 %(code)s 对应的促销未生效。"),
    "below_cost": gettext_lazy("价格倒挂：不含税金额 %(net_amount)s 低于成本 %(cost_amount)s，禁止报价。"),
    "below_floor": gettext_lazy("单价 %(unit_price)s 低于价目表 %(book)s 的底价 %(floor_price)s，禁止报价。"),
    "cost_currency": gettext_lazy("SKU %(sku)s 的成本以 %(cost_currency)s 记，无法核算 %(currency)s 报价的毛利；"
                                  "请用 %(cost_currency)s 报价，或在该行给出以 %(currency)s 计的单位成本。"),
}
APPROVAL_TEXTS: dict[str, Any] = {
    "below_cost": gettext_lazy("价格倒挂：不含税金额 %(net_amount)s 低于成本 %(cost_amount)s。"),
    "below_floor": gettext_lazy("单价 %(unit_price)s 低于价目表 %(book)s 的底价 %(floor_price)s。"),
    "margin": gettext_lazy("毛利率 %(margin_percent)s%% 低于 %(threshold)s%%%(rule)s。"),
}
BOOK_REASON_TEXTS: dict[str, Any] = {
    "applicable": gettext_lazy("适用"),
    "forced": gettext_lazy("已指定使用"),
    "not_forced": gettext_lazy("已指定其他价目表"),
    "other_currency": gettext_lazy("币种不同"),
    "not_yet_valid": gettext_lazy("尚未生效"),
    "expired": gettext_lazy("已过期"),
    "scope_account": gettext_lazy("不在可售范围：客户不符"),
    "scope_group": gettext_lazy("不在可售范围：客户组不符"),
    "scope_department": gettext_lazy("不在可售范围：渠道/部门不符"),
    "scope_region": gettext_lazy("不在可售范围：区域不符"),
    "inactive": gettext_lazy("未生效"),
}


def rejection_text(rejected: RejectedPromotion, currency: str) -> str:
    params: dict[str, Any] = dict(rejected.params)
    if rejected.reason == "below_threshold":
        if "threshold" in params:
            return _format(BELOW_AMOUNT_TEXT, {"threshold": money(int(params["threshold"]), currency),
                                               "amount": money(int(params.get("amount", 0)), currency)})
        if "min_quantity" in params:
            return _format(BELOW_QUANTITY_TEXT, {"min_quantity": plain(params["min_quantity"])})
    if rejected.reason == "not_eligible" and params.get("missing_sku"):
        return _format(MISSING_SKU_TEXT, {"sku": params["missing_sku"]})
    if rejected.reason == "customer":
        params["dimension"] = str(DIMENSION_LABELS.get(str(params.get("dimension")), params.get("dimension")))
    if rejected.reason == "outside_validity":
        params = {"valid_from": _day(params.get("valid_from")), "valid_to": _day(params.get("valid_to"))}
    template = REJECTION_TEXTS.get(rejected.reason)
    return _format(template, params) if template is not None else rejected.reason


def _day(value: Any) -> str:
    if not value:
        return "—"
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    moment = parse_datetime(str(value))
    if moment is None:
        return str(value)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _line_label(key: str | None, preview: Preview, skus: Mapping[str, str],
                translations: _Translations | None = None) -> str:
    gettext = translations.gettext if translations is not None else _
    if key is None:
        return gettext("整单")
    sku = skus.get(key, "")
    if key.isdigit():
        return gettext("第 %(line)s 行（%(sku)s）") % {"line": key, "sku": sku}
    return gettext("赠品行（%(sku)s）") % {"sku": sku}


def _amount_params(params: Mapping[str, Any], currency: str, line: str | None = None,
                   books: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    values = dict(params)
    if line is not None and books is not None and "book" not in values:
        values["book"] = books.get(line) or "—"
    for name in ("net_amount", "cost_amount"):
        if isinstance(values.get(name), int):
            values[name] = money(values[name], currency)
    for name in ("unit_price", "floor_price"):
        if values.get(name) not in (None, ""):
            try:
                values[name] = unit(Decimal(str(values[name])), currency)
            except ArithmeticError:
                values[name] = str(values[name])
    for name in ("margin_percent", "threshold"):
        if values.get(name) not in (None, ""):
            values[name] = plain(values[name])
    return values


def violation_text(violation: Violation, preview: Preview, skus: Mapping[str, str],
                   translations: _Translations | None = None) -> str:
    currency = preview.result.currency
    params = _amount_params(violation.params, currency, violation.line if violation.code == "below_floor" else None,
                            _line_books(preview, translations))
    code = violation.code
    if code == "unknown_sku" and params.get("sku") in preview.rules.facts.unsellable:
        code = "sku_unsellable"
        params["status"] = _status_label(preview.rules.facts.unsellable[params["sku"]])
    if code == "unknown_coupon" and str(params.get("code", "")).upper() in preview.counters.inactive_coupons:
        code = "inactive_coupon"
    if code == "price_book_not_applicable":
        reason = BOOK_REASON_TEXTS.get(str(params.get("reason")), params.get("reason"))
        params["reason"] = translations.lazy(reason) if translations is not None else str(reason)
    text = _format(VIOLATION_TEXTS.get(code, code), params, translations)
    if violation.line is not None:
        gettext = translations.gettext if translations is not None else _
        return gettext("%(where)s：%(text)s") % {"where": _line_label(violation.line, preview, skus, translations),
                                                "text": text}
    return text


def _line_books(preview: Preview, translations: _Translations | None) -> Mapping[str, str | None]:
    """Line key → the book that priced it (kept with the answer's translations when there are some)."""
    if translations is not None and translations.books is not None:
        return translations.books
    books = {line.key: line.price_book for line in preview.result.lines}
    if translations is not None:
        translations.books = books
    return books


def _status_label(status: str) -> str:
    return {"draft": _("草稿"), "retired": _("停售"), "active": _("在售")}.get(status, status)


def approval_text(approval: Approval, preview: Preview, skus: Mapping[str, str],
                  translations: _Translations | None = None) -> str:
    translations = translations or _Translations()
    floor_line = approval.line if approval.code == "below_floor" else None
    params = _amount_params(approval.params, preview.result.currency, floor_line, _line_books(preview, translations))
    if approval.code == "margin":
        params["rule"] = translations.gettext("（%(name)s）") % {"name": params["name"]} if params.get("name") else ""
        if params.get("margin_percent") in (None, "None"):
            params["margin_percent"] = "—"
    text = _format(APPROVAL_TEXTS.get(approval.code, approval.code), params, translations)
    level = translations.ngettext("需要 %(level)s 级审批", "需要 %(level)s 级审批", approval.level) % {
        "level": approval.level}
    return translations.gettext("%(where)s：%(text)s%(level)s。") % {
        "where": _line_label(approval.line, preview, skus, translations), "text": text, "level": level}


def book_reason_text(book: BookConsidered) -> str:
    return str(BOOK_REASON_TEXTS.get(book.reason, book.reason))


# --- the answer ------------------------------------------------------------------------------------


def answer(preview: Preview) -> dict[str, Any]:
    """The preview answer of ADR 0006 / issue 6 (amounts as decimal strings), with the additions:
    line key / name / is_gift / parent / price_book / promotions, step message + params, the books
    considered and why, promotions with status applied|rejected and a text, and texts everywhere.

    Built with the cyclic collector paused: a 1,000-line answer is ~60,000 acyclic dicts, lists and
    strings, and the collections they would trigger rescan the whole process (−20 % of the time, and
    no full collection of ~250 ms in the middle of a request)."""
    with gc_paused():
        return _answer(preview)


def _answer(preview: Preview) -> dict[str, Any]:
    result = preview.result
    currency = result.currency
    exponent = currency_exponent(currency)
    skus = {line.key: line.sku for line in result.lines}
    facts = preview.rules.catalog.skus
    capped = frozenset(item.code for item in result.applied if item.capped)
    used_books = {line.price_book for line in result.lines if line.price_book and not line.is_gift}
    texts = StepTexts(preview, capped)
    translations = _Translations()
    lines = line_dicts(result.lines, exponent, facts, texts.list_template, texts.by_identity, texts.text)
    totals = result.totals
    promotions = [_applied(item, preview) for item in result.applied]
    promotions += [_rejected(item, preview) for item in result.rejected]
    body: dict[str, Any] = {
        "currency": currency,
        "as_of": preview.request.as_of.isoformat(),
        "rules_version": preview.rules.version,
        "account": None if preview.account is None else {
            "id": preview.account.id, "name": preview.account.name, "level": preview.account.level,
            "tags": list(preview.account.tags), "region": preview.account.region},
        "lines": lines,
        "totals": {
            "list_amount": money(totals.list_amount, currency), "net_amount": money(totals.net_amount, currency),
            "tax_amount": money(totals.tax_amount, currency), "total_amount": money(totals.total_amount, currency),
            "cost_amount": money(totals.cost_amount, currency), "margin_percent": percent(totals.margin_percent),
            "discount_amount": money(totals.discount_amount, currency),
            "surcharge_amount": money(totals.surcharge_amount, currency),
        },
        "promotions": promotions,
        "approvals": [{"level": item.level, "code": item.code, "line": item.line, "sku": skus.get(item.line or ""),
                       "description": approval_text(item, preview, skus, translations),
                       "params": _money_params(item.params, currency, MINOR_UNIT_PARAMS)} for item in result.approvals],
        "violations": [{"code": item.code, "line": item.line, "sku": skus.get(item.line or "") or
                        (item.params.get("sku") if isinstance(item.params.get("sku"), str) else None),
                        "blocking": item.blocking, "description": violation_text(item, preview, skus, translations),
                        "params": _money_params(item.params, currency, MINOR_UNIT_PARAMS)}
                       for item in result.violations],
        "price_books": [{"code": book.code, "name": _book_name(preview, book.code), "priority": book.priority,
                         "applicable": book.applicable, "reason": book.reason, "description": book_reason_text(book),
                         "used": book.code in used_books} for book in result.books],
        "skipped_rules": [{"kind": rule.kind, "code": rule.code, "field": rule.field, "error": rule.error}
                          for rule in preview.rules.facts.skipped],
    }
    return body


def label_steps(body: dict[str, Any]) -> dict[str, Any]:
    """Add each step's kind in words (`kind_label`) for the pages; the API leaves it to the client."""
    labels: dict[str, str] = {}
    for line in body["lines"]:
        for step in line["steps"]:
            label = labels.get(step["kind"])
            if label is None:
                label = labels[step["kind"]] = str(STEP_KIND_LABELS.get(step["kind"], step["kind"]))
            step["kind_label"] = label
    return body


def _book_name(preview: Preview, code: str) -> str:
    info = preview.rules.facts.book_info.get(code)
    return info.name if info is not None else code


def _promotion_head(code: str, kind: str, preview: Preview) -> dict[str, Any]:
    info = preview.rules.promotion(code)
    return {"code": code, "name": info.name if info else code, "kind": kind, "kind_label": _kind_label(kind)}


def _applied(item: AppliedPromotion, preview: Preview) -> dict[str, Any]:
    currency = preview.result.currency
    head = _promotion_head(item.code, item.kind, preview)
    description = _("已生效，优惠 %(amount)s") % {"amount": money(item.discount, currency)}
    if item.coupon:
        description += _("（券码 %(code)s）") % {"code": item.coupon}
    if item.capped:
        description += str(CAPPED_TEXT)
    return {**head, "status": "applied", "discount": money(item.discount, currency), "lines": list(item.lines),
            "coupon": item.coupon, "capped": item.capped, "reason": None, "params": {}, "description": description}


def _rejected(item: RejectedPromotion, preview: Preview) -> dict[str, Any]:
    head = _promotion_head(item.code, item.kind, preview)
    return {**head, "status": "rejected", "discount": money(0, preview.result.currency), "lines": [],
            "coupon": None, "capped": False, "reason": item.reason,
            "params": _money_params(item.params, preview.result.currency, THRESHOLD_MINOR_UNIT_PARAMS)
            if item.reason == "below_threshold" else _jsonable(item.params),
            "description": rejection_text(item, preview.result.currency)}


def focus(preview: Preview, body: Mapping[str, Any]) -> dict[str, Any]:
    """The simulation's section on one promotion: applied (discount, lines with their share) or the
    reason it was rejected."""
    code = preview.rules.simulated or ""
    info = preview.rules.promotion(code)
    entry = next((item for item in body["promotions"] if item["code"] == code), None)
    currency = preview.result.currency
    lines = []
    if entry is not None and entry["status"] == "applied":
        for line in preview.result.lines:
            share = sum(step.amount for step in line.steps if step.rule == code)
            if line.key in entry["lines"] or share:
                lines.append({"key": line.key, "sku": line.sku, "is_gift": line.is_gift,
                              "discount": money(-share, currency)})
    return {
        "code": code, "name": info.name if info else code, "kind": info.kind if info else "",
        "stored_status": info.status if info else "",
        "applied": entry is not None and entry["status"] == "applied",
        "discount": entry["discount"] if entry else money(0, currency),
        "lines": lines,
        "reason": entry["reason"] if entry else None,
        "description": entry["description"] if entry else _("这个促销没有参与计算。"),
    }


# The engine's params carry amounts in minor units (int fen); the answer gives every amount as a
# decimal string, like the lines and totals.
MINOR_UNIT_PARAMS = frozenset({"net_amount", "cost_amount"})
THRESHOLD_MINOR_UNIT_PARAMS = frozenset({"threshold", "amount"})


def _money_params(params: Mapping[str, Any], currency: str, names: frozenset[str]) -> dict[str, Any]:
    out = _jsonable(params)
    for name in names:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = money(value, currency)
    return out


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Decimal):
            out[key] = plain(value)
        elif isinstance(value, (frozenset, set, tuple)):
            out[key] = sorted(str(item) for item in value)
        elif isinstance(value, Mapping):
            out[key] = _jsonable(value)
        else:
            out[key] = value
    return out

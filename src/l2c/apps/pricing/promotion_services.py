"""Promotion, coupon and margin-policy writes (ADR 0006); re-exported by `services`. Same rules as
there: one transaction, all field problems at once, audit event, rules version bump; promotions are
compare-and-set on `version`; counters move only through `reservations`."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, diff, jsonable, snapshot
from l2c.apps.activity.models import AuditEvent
from l2c.apps.catalog.models import Category, Product, Sku
from l2c.apps.catalog.services import rules_version_bump
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied

from .cleaning import (
    audit,
    check_version,
    clean_code,
    clean_datetime,
    clean_decimal,
    clean_int,
    clean_list,
    clean_scope,
    clean_text,
    codes_exist,
    raise_errors,
    rule_message,
)
from .models import Coupon, GuardAction, MarginPolicy, MarginThreshold, Promotion, PromotionKind, PromotionStatus
from .selectors import margin_policy_get

PROMOTION_AUDITED = ["code", "name", "kind", "status", "description", "valid_from", "valid_to", "params",
                     "eligible_accounts", "eligible_groups", "eligible_regions", "eligible_departments",
                     "eligible_skus", "eligible_products", "eligible_categories", "stacking_group", "exclusive",
                     "priority", "requires_coupon", "max_uses", "max_discount"]
COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and typed
MAX_COUPONS_GENERATED = 10_000


class InvalidTransition(Conflict):
    """The status change is not possible from the record's current status."""

    code = "invalid_status"
    title = "Invalid status change"


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
        cleaned["code"] = clean_code(data, errors)
        if cleaned["code"] and Promotion.objects.filter(code=cleaned["code"]).exclude(
                pk=promotion.pk if promotion else None).exists():
            errors.append(FieldError("code", _("代码“%(code)s”已被另一个促销使用。") % {"code": cleaned["code"]},
                                     "duplicate"))
    if not partial or "name" in data:
        cleaned["name"] = clean_text(data, "name", 200, errors, required=True)
    if not partial or "description" in data:
        cleaned["description"] = clean_text(data, "description", 5000, errors)
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
            cleaned[name] = clean_datetime(data.get(name), name, errors)
    eligibility = {key: value for key, value in data.items() if key.startswith("eligible_")}
    if not partial:
        eligibility = {f"eligible_{name}": data.get(f"eligible_{name}") for name in
                       ("accounts", "groups", "departments", "regions", "skus", "products", "categories")}
    cleaned.update(clean_scope(eligibility, "eligible_", errors))
    for name, model, label in (("eligible_skus", Sku, _("SKU")), ("eligible_products", Product, _("产品")),
                               ("eligible_categories", Category, _("分类"))):
        if name in eligibility:
            codes = sorted({str(item) for item in clean_list(eligibility.get(name), name, errors)})
            if codes:
                codes_exist(model, codes, name, errors, label)
            cleaned[name] = codes
    if not partial or "stacking_group" in data:
        cleaned["stacking_group"] = clean_text(data, "stacking_group", 50, errors)
    for name in ("exclusive", "requires_coupon"):
        if not partial or name in data:
            cleaned[name] = bool(data.get(name))
    if not partial or "priority" in data:
        cleaned["priority"] = clean_int(data.get("priority") or 0, "priority", errors, minimum=-1_000_000,
                                   maximum=1_000_000) or 0
    if not partial or "max_uses" in data:
        cleaned["max_uses"] = clean_int(data.get("max_uses"), "max_uses", errors, minimum=1, maximum=2_000_000_000)
    if not partial or "max_discount" in data:
        cleaned["max_discount"] = clean_int(data.get("max_discount"), "max_discount", errors, minimum=1,
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
    raise_errors(errors, _("促销填写有误。"))
    promotion = Promotion.objects.create(**cleaned, status=PromotionStatus.DRAFT, created_by=actor)
    audit("promotion", promotion, AuditEvent.Kind.CREATE, actor,
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
    check_version(promotion.version, expected_version, _("促销"))
    errors: list[FieldError] = []
    cleaned = _clean_promotion(data, promotion=promotion, errors=errors)
    raise_errors(errors, _("促销填写有误。"))
    before = snapshot(promotion, PROMOTION_AUDITED)
    changes = diff(before, {**before, **jsonable(cleaned)})
    if changes:
        # Counters are never written here: they move only through compare-and-set reservations.
        Promotion.objects.filter(pk=promotion.pk).update(**cleaned, version=F("version") + 1)
        promotion.refresh_from_db()
        audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, changes)
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
        raise_errors(errors, _("促销参数有误，不能启用。"))
    before = promotion.status
    Promotion.objects.filter(pk=promotion.pk).update(status=target, version=F("version") + 1)
    promotion.refresh_from_db()
    audit("promotion", promotion, AuditEvent.Kind.STATUS, actor, {"status": [before, target]})
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
    check_version(promotion.version, expected_version, _("促销"))
    if promotion.used_count or promotion.reserved_count or promotion.reservations.exists():
        raise Conflict(_("促销“%(name)s”已被报价使用或预占，不能删除；请改为结束。") % {"name": promotion.name},
                       errors=[FieldError("id", _("已被使用，不能删除。"), "in_use")])
    audit("promotion", promotion, AuditEvent.Kind.DELETE, actor, {"code": [promotion.code, None]})
    promotion.delete()
    rules_version_bump()


# --- coupons ---------------------------------------------------------------------------------------------
def _coupon_limits(max_uses: Any, per_customer_limit: Any, errors: list[FieldError]) -> tuple[int | None, int | None]:
    return (clean_int(max_uses, "max_uses", errors, minimum=1, maximum=2_000_000_000),
            clean_int(per_customer_limit, "per_customer_limit", errors, minimum=1, maximum=2_000_000_000))


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
    raise_errors(errors, _("优惠券填写有误。"))
    coupon = Coupon.objects.create(promotion=promotion, code=text, max_uses=uses, per_customer_limit=per_customer)
    audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {"coupon": [None, text]})
    rules_version_bump()
    return coupon


@transaction.atomic
def coupons_generate(*, actor: User, promotion_id: int, count: int, prefix: str = "", max_uses: int | None = 1,
                     per_customer_limit: int | None = None, length: int = 10) -> list[Coupon]:
    """`count` new random coupon codes (`prefix` + `length` characters from an unambiguous alphabet,
    drawn with `secrets`), unique among all coupons."""
    promotion = _promotion_for(actor, promotion_id)
    errors: list[FieldError] = []
    number = clean_int(count, "count", errors, minimum=1, maximum=MAX_COUPONS_GENERATED, required=True)
    size = clean_int(length, "length", errors, minimum=6, maximum=24) or 10
    prefix_text = str(prefix or "").strip().upper()
    if prefix_text and not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]{0,15}", prefix_text):
        errors.append(FieldError("prefix", _("前缀为最多 16 位字母、数字、-、_。"), "invalid"))
    uses, per_customer = _coupon_limits(max_uses, per_customer_limit, errors)
    raise_errors(errors, _("优惠券生成参数有误。"))
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
    audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {"coupons_generated": [None, number]},
           summary=_("生成 %(count)s 张优惠券") % {"count": number})
    rules_version_bump()
    return coupons


@transaction.atomic
def coupon_deactivate(*, actor: User, coupon_id: int) -> Coupon:
    coupon = Coupon.objects.filter(pk=coupon_id).first()
    if coupon is None:
        raise NotFound(_("没有 ID 为 %(id)s 的优惠券。") % {"id": coupon_id})
    promotion = _promotion_for(actor, coupon.promotion_id)
    if coupon.is_active:
        Coupon.objects.filter(pk=coupon.pk).update(is_active=False)
        coupon.is_active = False
        audit("promotion", promotion, AuditEvent.Kind.UPDATE, actor, {f"coupon:{coupon.code}": ["active", "inactive"]})
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
    check_version(policy.version, expected_version, _("毛利管控策略"))
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    for name in ("below_cost", "below_floor"):
        value = data.get(name, getattr(policy, name))
        if value not in GuardAction.values:
            errors.append(FieldError(name, _("只能是 block（禁止）或 approval（需审批）。"), "invalid_choice"))
        cleaned[name] = value
        level = clean_int(data.get(f"{name}_level", getattr(policy, f"{name}_level")), f"{name}_level", errors,
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
            percent = clean_decimal(item, "min_margin_percent", errors, field=f"thresholds.{index}.min_margin_percent",
                               required=True, minimum=Decimal(-100), maximum=Decimal(100), places=2)
            level = clean_int(item.get("level"), f"thresholds.{index}.level", errors, minimum=1, maximum=9,
                              required=True)
            name = str(item.get("name") or "").strip()
            if len(name) > 100:
                errors.append(FieldError(f"thresholds.{index}.name", _("最多 100 个字。"), "too_long"))
            if percent is not None and percent in seen:
                errors.append(FieldError(f"thresholds.{index}.min_margin_percent",
                                         _("最低毛利率 %(value)s%% 重复。") % {"value": percent}, "duplicate"))
            if percent is not None:
                seen.add(percent)
            thresholds.append({"name": name[:100], "min_margin_percent": percent, "level": level})
    raise_errors(errors, _("毛利管控策略填写有误。"))
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

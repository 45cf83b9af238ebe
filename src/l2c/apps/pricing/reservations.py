"""Promotion quota reservations (ADR 0006, "PromotionReservation").

A quote (its `reference`) reserves one use and its discount of every promotion it applies, and one
use of the coupon that unlocked it. Reserving is all or nothing and race-safe: each counter moves by
a compare-and-set UPDATE whose WHERE clause is the quota itself
(`reserved_count + used_count < max_uses`, `discount_reserved + discount_used + discount ≤ max_discount`,
the coupon's uses likewise), so two quotes can never both take the last use. The per-customer coupon
limit is counted after the coupon's UPDATE: that UPDATE holds the coupon row until commit
(PostgreSQL row lock; SQLite serialises writers), so the count sees every committed reservation of
the account.

Accepting the quote consumes its reservations (reserved → consumed, counters move from reserved to
used), rejecting or expiring it releases them. Both are idempotent. None of this bumps the rules
version: the engine reads these counters live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers.models import Account
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, ValidationFailed

from .models import Coupon, Promotion, PromotionReservation, PromotionStatus, ReservationStatus

MAX_REFERENCE = 80


class QuotaExhausted(Conflict):
    """The promotion has no use left (max_uses reached, counting reservations)."""

    code = "quota_exhausted"
    title = "Promotion quota exhausted"


class BudgetExhausted(QuotaExhausted):
    """The promotion's discount budget cannot hold this discount."""

    code = "budget_exhausted"
    title = "Promotion budget exhausted"


class CouponUsedUp(Conflict):
    code = "coupon_used_up"
    title = "Coupon used up"


class CouponCustomerLimit(Conflict):
    code = "coupon_customer_limit"
    title = "Coupon limit per customer reached"


class CouponInvalid(Conflict):
    code = "coupon_invalid"
    title = "Coupon invalid"


class PromotionNotActive(Conflict):
    code = "promotion_not_active"
    title = "Promotion not active"


class ReferenceConsumed(Conflict):
    code = "already_consumed"
    title = "Reservations already consumed"


@dataclass(frozen=True)
class Applied:
    """One promotion a quote applies: its code, the coupon code that unlocked it (or None) and the
    discount it gives, in minor units (fen)."""

    promotion: str
    coupon: str | None
    discount: int


def _clean(reference: str, applied: Sequence[Applied | tuple[str, str | None, int]]) -> tuple[str, list[Applied]]:
    errors: list[FieldError] = []
    text = str(reference or "").strip()
    if not text or len(text) > MAX_REFERENCE:
        errors.append(FieldError("reference", _("业务单据号必填，最多 %(limit)s 个字符。") % {"limit": MAX_REFERENCE},
                                 "invalid"))
    items: list[Applied] = []
    seen: set[str] = set()
    for index, raw in enumerate(applied):
        item = raw if isinstance(raw, Applied) else Applied(*raw)
        code = str(item.promotion or "").strip()
        coupon = str(item.coupon).strip().upper() if item.coupon else None
        if not code:
            errors.append(FieldError(f"applied.{index}.promotion", _("必填。"), "required"))
        elif code in seen:
            errors.append(FieldError(f"applied.{index}.promotion", _("促销“%(code)s”重复。") % {"code": code},
                                     "duplicate"))
        seen.add(code)
        if isinstance(item.discount, bool) or not isinstance(item.discount, int) or item.discount < 0:
            errors.append(FieldError(f"applied.{index}.discount", _("优惠金额必须是不小于 0 的整数（分）。"),
                                     "invalid"))
        items.append(Applied(code, coupon, item.discount))
    if errors:
        raise ValidationFailed(_("预占请求有误。"), errors=errors)
    # A fixed order of row updates: two quotes reserving the same promotions never deadlock.
    return text, sorted(items, key=lambda item: item.promotion)


def _release_rows(rows: Sequence[PromotionReservation]) -> None:
    """Give back the counters of reserved rows (the caller changes or deletes the rows)."""
    for row in rows:
        Promotion.objects.filter(pk=row.promotion_id).update(
            reserved_count=F("reserved_count") - 1, discount_reserved=F("discount_reserved") - row.discount)
        if row.coupon_id:
            Coupon.objects.filter(pk=row.coupon_id).update(reserved_count=F("reserved_count") - 1)


def _reserve_one(promotion: Promotion, item: Applied, account_id: int | None) -> Coupon | None:
    uses_ok = Q(max_uses__isnull=True) | Q(max_uses__gt=F("reserved_count") + F("used_count"))
    budget_ok = Q(max_discount__isnull=True) | Q(max_discount__gte=F("discount_reserved") + F("discount_used")
                                                  + item.discount)
    taken = Promotion.objects.filter(uses_ok, budget_ok, pk=promotion.pk, status=PromotionStatus.ACTIVE).update(
        reserved_count=F("reserved_count") + 1, discount_reserved=F("discount_reserved") + item.discount)
    if not taken:
        current = Promotion.objects.get(pk=promotion.pk)
        if current.status != PromotionStatus.ACTIVE:
            raise PromotionNotActive(_("促销“%(name)s”（%(code)s）当前不是进行中状态。")
                                     % {"name": current.name, "code": current.code})
        if current.max_uses is not None and current.reserved_count + current.used_count >= current.max_uses:
            raise QuotaExhausted(_("促销“%(name)s”（%(code)s）的使用次数已用完（共 %(max)s 次）。")
                                 % {"name": current.name, "code": current.code, "max": current.max_uses},
                                 errors=[FieldError("promotion", current.code, "quota_exhausted")])
        remaining = (current.max_discount or 0) - current.discount_reserved - current.discount_used
        raise BudgetExhausted(_("促销“%(name)s”（%(code)s）的优惠预算不足：剩余 %(remaining)s 分，需要 %(needed)s 分。")
                              % {"name": current.name, "code": current.code, "remaining": max(0, remaining),
                                 "needed": item.discount},
                              errors=[FieldError("promotion", current.code, "budget_exhausted")])
    if item.coupon is None:
        return None
    coupon = Coupon.objects.filter(code=item.coupon, promotion=promotion).first()
    if coupon is None or not coupon.is_active:
        raise CouponInvalid(_("优惠券 %(coupon)s 不属于促销“%(name)s”或已停用。")
                            % {"coupon": item.coupon, "name": promotion.name},
                            errors=[FieldError("coupon", item.coupon, "coupon_invalid")])
    coupon_ok = Q(max_uses__isnull=True) | Q(max_uses__gt=F("reserved_count") + F("used_count"))
    if not Coupon.objects.filter(coupon_ok, pk=coupon.pk, is_active=True).update(
            reserved_count=F("reserved_count") + 1):
        raise CouponUsedUp(_("促销“%(name)s”的优惠券 %(coupon)s 已用完。") % {"name": promotion.name,
                                                                         "coupon": coupon.code},
                           errors=[FieldError("coupon", coupon.code, "coupon_used_up")])
    if coupon.per_customer_limit is not None and account_id is not None:
        # Counted after the UPDATE above, which holds the coupon row until commit.
        used = PromotionReservation.objects.filter(
            coupon=coupon, account_id=account_id,
            status__in=[ReservationStatus.RESERVED, ReservationStatus.CONSUMED]).count()
        if used >= coupon.per_customer_limit:
            raise CouponCustomerLimit(_("促销“%(name)s”的优惠券 %(coupon)s 每个客户限用 %(limit)s 次，该客户已用完。")
                                      % {"name": promotion.name, "coupon": coupon.code,
                                         "limit": coupon.per_customer_limit},
                                      errors=[FieldError("coupon", coupon.code, "coupon_customer_limit")])
    return coupon


@transaction.atomic
def promotion_reserve(*, reference: str, account_id: int | None, currency: str,
                      applied: Sequence[Applied | tuple[str, str | None, int]],
                      actor: User | None = None) -> list[PromotionReservation]:
    """Reserve one use (and the discount, fen) of each applied promotion and coupon for the quote
    `reference` — all or nothing. Re-reserving the same reference replaces its earlier reservations
    (their counters are given back first); a reference already consumed is refused."""
    text, items = _clean(reference, applied)
    if account_id is not None and not Account.objects.filter(pk=account_id).exists():
        raise ValidationFailed(_("客户不存在。"), errors=[FieldError("account_id", _("没有 ID 为 %(id)s 的客户。")
                                                                 % {"id": account_id}, "not_found")])
    existing = list(PromotionReservation.objects.filter(reference=text))
    if any(row.status == ReservationStatus.CONSUMED for row in existing):
        raise ReferenceConsumed(_("单据 %(reference)s 的促销已经使用（已成交），不能重新预占。") % {"reference": text})
    _release_rows([row for row in existing if row.status == ReservationStatus.RESERVED])
    PromotionReservation.objects.filter(pk__in=[row.pk for row in existing]).delete()
    promotions = {promotion.code: promotion for promotion in
                  Promotion.objects.filter(code__in=[item.promotion for item in items])}
    missing = [item.promotion for item in items if item.promotion not in promotions]
    if missing:
        raise ValidationFailed(_("促销不存在：%(codes)s") % {"codes": "、".join(missing)},
                               errors=[FieldError("applied", code, "not_found") for code in missing])
    rows: list[PromotionReservation] = []
    for item in items:
        promotion = promotions[item.promotion]
        coupon = _reserve_one(promotion, item, account_id)
        rows.append(PromotionReservation.objects.create(
            promotion=promotion, coupon=coupon, account_id=account_id, reference=text, discount=item.discount,
            currency=str(currency or "CNY").upper()[:3], status=ReservationStatus.RESERVED))
    audit_bulk(actor_id=actor.pk if actor else None, events=[
        {"object_type": "promotion", "object_id": row.promotion_id, "action": AuditEvent.Kind.OTHER,
         "object_repr": str(promotions[row.promotion.code]),
         "summary": _("报价 %(reference)s 预占") % {"reference": text},
         "changes": {"reserved": [None, {"reference": text, "discount": row.discount,
                                         "coupon": row.coupon.code if row.coupon else None}]}} for row in rows])
    return rows


def _settle(reference: str, target: str, actor: User | None) -> int:
    text = str(reference or "").strip()
    rows = list(PromotionReservation.objects.filter(reference=text, status=ReservationStatus.RESERVED)
                .order_by("promotion__code"))
    now = timezone.now()
    settled: list[PromotionReservation] = []
    for row in rows:
        # The status move is itself a compare-and-set: a second consume/release finds nothing to move.
        if not PromotionReservation.objects.filter(pk=row.pk, status=ReservationStatus.RESERVED).update(
                status=target, settled_at=now):
            continue
        if target == ReservationStatus.CONSUMED:
            Promotion.objects.filter(pk=row.promotion_id).update(
                reserved_count=F("reserved_count") - 1, used_count=F("used_count") + 1,
                discount_reserved=F("discount_reserved") - row.discount,
                discount_used=F("discount_used") + row.discount)
            if row.coupon_id:
                Coupon.objects.filter(pk=row.coupon_id).update(reserved_count=F("reserved_count") - 1,
                                                               used_count=F("used_count") + 1)
        else:
            _release_rows([row])
        settled.append(row)
    if settled:
        audit_bulk(actor_id=actor.pk if actor else None, events=[
            {"object_type": "promotion", "object_id": row.promotion_id, "action": AuditEvent.Kind.OTHER,
             "summary": (_("报价 %(reference)s 使用") if target == ReservationStatus.CONSUMED
                         else _("报价 %(reference)s 释放")) % {"reference": text},
             "changes": {"reservation": [ReservationStatus.RESERVED, target]}} for row in settled])
    return len(settled)


@transaction.atomic
def promotion_consume(*, reference: str, actor: User | None = None) -> int:
    """The quote was accepted: its reserved uses become used (idempotent; returns how many moved)."""
    return _settle(reference, ReservationStatus.CONSUMED, actor)


@transaction.atomic
def promotion_release(*, reference: str, actor: User | None = None) -> int:
    """The quote was rejected, expired or re-priced away: free its reserved uses (idempotent)."""
    return _settle(reference, ReservationStatus.RELEASED, actor)

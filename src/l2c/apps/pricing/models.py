"""Pricing models (ADR 0006): price books with entries, tiers and attribute adjustments; promotions,
coupons and quota reservations; the margin policy.

Engines see these rows as frozen facts (`l2c.apps.pricing.compiler`), keyed by code. Scope and
eligibility lists are JSON arrays (account ids, "level:<level>" / "tag:<name>" groups, department
ids, "province" or "province/city" regions; SKU / product / category codes) — small, read whole at
compile time, never filtered in SQL. Every change bumps the catalogue's rules version in the same
transaction (`catalog.services.rules_version_bump`).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BookStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("生效")
    ARCHIVED = "archived", _("已归档")


class PriceBook(models.Model):
    NAMED_IN_TIMELINE = True

    code = models.SlugField(_("价目表代码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    is_base = models.BooleanField(_("基础价目表"), default=False)
    priority = models.IntegerField(_("优先级"), default=0)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=BookStatus.choices, default=BookStatus.DRAFT)
    description = models.TextField(_("说明"), blank=True)
    scope_accounts = models.JSONField(_("适用客户"), default=list, blank=True)
    scope_groups = models.JSONField(_("适用客户组"), default=list, blank=True)
    scope_departments = models.JSONField(_("适用渠道/部门"), default=list, blank=True)
    scope_regions = models.JSONField(_("适用区域"), default=list, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("价目表")
        verbose_name_plural = _("价目表")
        ordering = ["-priority", "code"]
        constraints = [
            models.UniqueConstraint(fields=["currency"], condition=models.Q(is_base=True, status="active"),
                                    name="one_active_base_book_per_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PriceMethod(models.TextChoices):
    FIXED = "fixed", _("固定单价")
    BLOCK = "block", _("按块计价")
    COST_PLUS = "cost_plus", _("成本加成")
    PERCENT_OF_TOTAL = "percent_of_total", _("按总额百分比")


class TierMode(models.TextChoices):
    NONE = "none", _("无阶梯")
    VOLUME = "volume", _("总量阶梯")
    GRADUATED = "graduated", _("分段阶梯")


class PriceBookEntry(models.Model):
    """The price of one SKU in one book (tax-inclusive). `percent_of` lists category codes and/or
    "type:<product type>" the percent-of-total base is taken from."""

    book = models.ForeignKey(PriceBook, verbose_name=_("价目表"), on_delete=models.CASCADE, related_name="entries")
    sku = models.ForeignKey("catalog.Sku", verbose_name=_("SKU"), on_delete=models.CASCADE, related_name="+")
    method = models.CharField(_("计价方式"), max_length=20, choices=PriceMethod.choices, default=PriceMethod.FIXED)
    unit_price = models.DecimalField(_("单价"), max_digits=18, decimal_places=4, default=Decimal(0))
    block_size = models.DecimalField(_("每块数量"), max_digits=12, decimal_places=4, null=True, blank=True)
    markup_percent = models.DecimalField(_("加成 %"), max_digits=9, decimal_places=4, null=True, blank=True)
    percent = models.DecimalField(_("百分比 %"), max_digits=9, decimal_places=4, null=True, blank=True)
    percent_of = models.JSONField(_("百分比基数"), default=list, blank=True)
    tier_mode = models.CharField(_("阶梯方式"), max_length=10, choices=TierMode.choices, default=TierMode.NONE)
    floor_price = models.DecimalField(_("底价"), max_digits=18, decimal_places=4, null=True, blank=True)

    class Meta:
        verbose_name = _("价目表条目")
        verbose_name_plural = _("价目表条目")
        ordering = ["book_id", "sku_id"]
        constraints = [
            models.UniqueConstraint(fields=["book", "sku"], name="price_entry_unique"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="price_entry_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.book_id}:{self.sku_id}"


class PriceTier(models.Model):
    entry = models.ForeignKey(PriceBookEntry, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.DecimalField(_("起始数量"), max_digits=12, decimal_places=4)
    unit_price = models.DecimalField(_("单价"), max_digits=18, decimal_places=4)
    flat_fee = models.DecimalField(_("固定费用"), max_digits=18, decimal_places=4, default=Decimal(0))

    class Meta:
        ordering = ["entry_id", "min_quantity"]
        constraints = [models.UniqueConstraint(fields=["entry", "min_quantity"], name="price_tier_unique")]

    def __str__(self) -> str:
        return f"≥{self.min_quantity} @ {self.unit_price}"


class AttributeAdjustment(models.Model):
    """+amount or +% on the book price of lines with an attribute value (e.g. red +10 %)."""

    book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="adjustments")
    attribute = models.CharField(_("属性代码"), max_length=50)
    value = models.CharField(_("属性值代码"), max_length=50)
    amount = models.DecimalField(_("加价金额"), max_digits=18, decimal_places=4, null=True, blank=True)
    percent = models.DecimalField(_("加价 %"), max_digits=9, decimal_places=4, null=True, blank=True)
    products = models.JSONField(_("限定产品"), default=list, blank=True)
    categories = models.JSONField(_("限定分类"), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["book_id", "position", "attribute", "value"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(amount__isnull=False, percent__isnull=True)
                           | models.Q(amount__isnull=True, percent__isnull=False)),
                name="adjustment_amount_xor_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}={self.value}"


class PromotionKind(models.TextChoices):
    PERCENT_OFF = "percent_off", _("单品折扣")
    AMOUNT_OFF = "amount_off", _("单品立减")
    FIXED_PRICE = "fixed_price", _("促销价")
    FLASH_PRICE = "flash_price", _("限时秒杀价")
    GROUP_PRICE = "group_price", _("会员/客户组价")
    QUANTITY_DISCOUNT = "quantity_discount", _("数量门槛折扣")
    BUY_N_GET_M = "buy_n_get_m", _("买N送M")
    NTH_ITEM = "nth_item", _("第N件优惠")
    GIFT = "gift", _("买赠")
    FREE_ACCESSORY = "free_accessory", _("赠送配件/服务")
    BUNDLE = "bundle", _("组合优惠")
    SPEND_SAVE = "spend_save", _("满减")
    SPEND_PERCENT = "spend_percent", _("满折")
    TIERED_SPEND = "tiered_spend", _("阶梯满减")
    COUPON = "coupon", _("优惠券")


class PromotionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("进行中")
    PAUSED = "paused", _("已暂停")
    ENDED = "ended", _("已结束")


class Promotion(models.Model):
    """A promotion; `params` are validated by `engines.pricing` on save. Counters: `used_count` /
    `discount_used` grow when a quote is accepted (consume), `reserved_*` while quotes hold them."""

    NAMED_IN_TIMELINE = True

    code = models.SlugField(_("促销代码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    kind = models.CharField(_("促销类型"), max_length=30, choices=PromotionKind.choices)
    status = models.CharField(_("状态"), max_length=10, choices=PromotionStatus.choices, default=PromotionStatus.DRAFT)
    description = models.TextField(_("说明"), blank=True)
    valid_from = models.DateTimeField(_("开始时间"), null=True, blank=True)
    valid_to = models.DateTimeField(_("结束时间"), null=True, blank=True)
    params = models.JSONField(_("参数"), default=dict)
    eligible_accounts = models.JSONField(_("适用客户"), default=list, blank=True)
    eligible_groups = models.JSONField(_("适用客户组"), default=list, blank=True)
    eligible_regions = models.JSONField(_("适用区域"), default=list, blank=True)
    eligible_departments = models.JSONField(_("适用渠道/部门"), default=list, blank=True)
    eligible_skus = models.JSONField(_("适用 SKU"), default=list, blank=True)
    eligible_products = models.JSONField(_("适用产品"), default=list, blank=True)
    eligible_categories = models.JSONField(_("适用分类"), default=list, blank=True)
    stacking_group = models.CharField(_("叠加组"), max_length=50, blank=True)
    exclusive = models.BooleanField(_("互斥（不与其他促销叠加）"), default=False)
    priority = models.IntegerField(_("优先级"), default=0)
    requires_coupon = models.BooleanField(_("需要优惠券"), default=False)
    max_uses = models.PositiveIntegerField(_("最多使用次数"), null=True, blank=True)
    max_discount = models.BigIntegerField(_("优惠预算（分）"), null=True, blank=True)
    used_count = models.PositiveIntegerField(default=0, editable=False)
    reserved_count = models.PositiveIntegerField(default=0, editable=False)
    discount_used = models.BigIntegerField(default=0, editable=False)
    discount_reserved = models.BigIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("促销")
        verbose_name_plural = _("促销")
        ordering = ["-priority", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True) | models.Q(used_count__lte=models.F("max_uses")),
                name="promotion_uses_within_max"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Coupon(models.Model):
    """A coupon code of a promotion; codes are stored upper-case and matched case-insensitively."""

    promotion = models.ForeignKey(Promotion, verbose_name=_("促销"), on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(_("券码"), max_length=40, unique=True)
    max_uses = models.PositiveIntegerField(_("最多使用次数"), null=True, blank=True, default=1)
    per_customer_limit = models.PositiveIntegerField(_("每客户限用"), null=True, blank=True)
    used_count = models.PositiveIntegerField(default=0, editable=False)
    reserved_count = models.PositiveIntegerField(default=0, editable=False)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("优惠券")
        verbose_name_plural = _("优惠券")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", _("已预占")
    CONSUMED = "consumed", _("已使用")
    RELEASED = "released", _("已释放")


class PromotionReservation(models.Model):
    """A quote's hold on a promotion's quota (one use and its discount), and on a coupon use."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="reservations")
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.CASCADE, related_name="reservations")
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    reference = models.CharField(_("业务单据"), max_length=80)
    discount = models.BigIntegerField(_("优惠金额（分）"), default=0)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(_("状态"), max_length=10, choices=ReservationStatus.choices,
                              default=ReservationStatus.RESERVED)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["reference", "status"], name="reservation_reference"),
                   models.Index(fields=["coupon", "account", "status"], name="reservation_coupon_account")]
        constraints = [models.UniqueConstraint(fields=["reference", "promotion"], name="reservation_unique")]

    def __str__(self) -> str:
        return f"{self.reference}:{self.promotion_id} ({self.status})"


class GuardAction(models.TextChoices):
    BLOCK = "block", _("禁止")
    APPROVAL = "approval", _("需审批")


class MarginPolicy(models.Model):
    """One row (pk=1): what a price below cost (价格倒挂) or under the floor does, at which level."""

    below_cost = models.CharField(_("低于成本"), max_length=10, choices=GuardAction.choices,
                                  default=GuardAction.APPROVAL)
    below_cost_level = models.PositiveSmallIntegerField(_("低于成本审批级别"), default=2)
    below_floor = models.CharField(_("低于底价"), max_length=10, choices=GuardAction.choices,
                                   default=GuardAction.APPROVAL)
    below_floor_level = models.PositiveSmallIntegerField(_("低于底价审批级别"), default=1)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("毛利管控策略")
        verbose_name_plural = _("毛利管控策略")

    def __str__(self) -> str:
        return "margin policy"


class MarginThreshold(models.Model):
    """A quote or line margin below `min_margin_percent` needs approval at `level`."""

    policy = models.ForeignKey(MarginPolicy, on_delete=models.CASCADE, related_name="thresholds")
    name = models.CharField(_("名称"), max_length=100, blank=True)
    min_margin_percent = models.DecimalField(_("最低毛利率 %"), max_digits=7, decimal_places=2)
    level = models.PositiveSmallIntegerField(_("审批级别"))

    class Meta:
        ordering = ["-min_margin_percent"]
        constraints = [models.UniqueConstraint(fields=["policy", "min_margin_percent"], name="margin_threshold_unique")]

    def __str__(self) -> str:
        return f"< {self.min_margin_percent}% → L{self.level}"

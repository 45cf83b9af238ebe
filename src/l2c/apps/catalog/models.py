"""Catalogue models (ADR 0006): categories, attributes and values, products, SKUs, BOM, rules.

Engines see catalogue facts by **code** (SKU code, attribute and value codes, category codes), never by
id, so renaming labels or re-creating rules in another order changes no price and no validation.
Every change to these tables bumps the rules version (`l2c.apps.catalog.services.rules_version_bump`)
in the same transaction, which invalidates the compiled pricing and configurator catalogues.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A product category; a tree of any depth (cycles are refused by the service)."""

    NAMED_IN_TIMELINE = True

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey("self", verbose_name=_("上级分类"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("产品分类")
        verbose_name_plural = _("产品分类")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Attribute(models.Model):
    """An attribute axis of SKUs (型号, 颜色, 容量, 电压 …)."""

    NAMED_IN_TIMELINE = True

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("属性")
        verbose_name_plural = _("属性")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class AttributeValue(models.Model):
    attribute = models.ForeignKey(Attribute, verbose_name=_("属性"), on_delete=models.CASCADE,
                                  related_name="values")
    code = models.SlugField(_("代码"), max_length=50)
    label = models.CharField(_("显示名"), max_length=100)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("属性值")
        verbose_name_plural = _("属性值")
        ordering = ["attribute_id", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["attribute", "code"], name="attribute_value_unique")]

    def __str__(self) -> str:
        return self.label


class ProductType(models.TextChoices):
    """What is sold; the billing modules later rely on it."""

    GOODS = "goods", _("实物商品")
    SERVICE = "service", _("服务")
    SUBSCRIPTION = "subscription", _("订阅")
    USAGE = "usage", _("按量计费")
    PROJECT = "project", _("项目")


class CatalogStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("在售")
    RETIRED = "retired", _("停售")


TAX_RATE_CHOICES = [
    (Decimal("0.13"), "13%"), (Decimal("0.09"), "9%"), (Decimal("0.06"), "6%"), (Decimal("0.03"), "3%"),
    (Decimal("0.00"), "0%"),
]


class Product(models.Model):
    NAMED_IN_TIMELINE = True
    # audit change keys that are no field (bom._changed, skus.sku_delete)
    TIMELINE_LABELS = {"bom_items": _("BOM 组件"), "bom_groups": _("BOM 选项组"), "skus": _("SKU")}

    code = models.SlugField(_("产品编码"), max_length=60, unique=True)
    name = models.CharField(_("产品名称"), max_length=200)
    category = models.ForeignKey(Category, verbose_name=_("分类"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="products")
    type = models.CharField(_("产品类型"), max_length=20, choices=ProductType.choices, default=ProductType.GOODS)
    unit = models.CharField(_("单位"), max_length=20, default="台")
    tax_rate = models.DecimalField(_("税率"), max_digits=4, decimal_places=2, choices=TAX_RATE_CHOICES,
                                   default=Decimal("0.13"))
    status = models.CharField(_("状态"), max_length=10, choices=CatalogStatus.choices, default=CatalogStatus.ACTIVE)
    description = models.TextField(_("说明"), blank=True)
    attributes = models.ManyToManyField(Attribute, verbose_name=_("规格属性"), through="ProductAttribute",
                                        blank=True, related_name="products")
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        ordering = ["code"]
        indexes = [models.Index(fields=["category", "code"], name="product_category_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProductAttribute(models.Model):
    """An attribute axis a product's SKUs vary on, in display order."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="product_attributes")
    attribute = models.ForeignKey(Attribute, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["product_id", "position", "attribute_id"]
        constraints = [models.UniqueConstraint(fields=["product", "attribute"], name="product_attribute_unique")]

    def __str__(self) -> str:
        return f"{self.product_id}:{self.attribute_id}"


class Sku(models.Model):
    """A concrete, sellable variant of a product. `attribute_values` maps attribute code → value code;
    `attribute_key` is its canonical form ("colour=red;voltage=220"), unique per product, so one
    combination is one SKU. `cost_price` is tax-exclusive, per unit, in `cost_currency`."""

    NAMED_IN_TIMELINE = True

    product = models.ForeignKey(Product, verbose_name=_("产品"), on_delete=models.CASCADE, related_name="skus")
    code = models.SlugField(_("SKU 编码"), max_length=80, unique=True)
    name = models.CharField(_("规格名称"), max_length=200)
    attribute_values = models.JSONField(_("属性值"), default=dict, blank=True)
    attribute_key = models.CharField(max_length=400, blank=True, editable=False)
    cost_price = models.DecimalField(_("成本价（不含税）"), max_digits=18, decimal_places=4, default=Decimal(0))
    cost_currency = models.CharField(_("成本币种"), max_length=3, default="CNY")
    status = models.CharField(_("状态"), max_length=10, choices=CatalogStatus.choices, default=CatalogStatus.ACTIVE)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKU")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["product", "attribute_key"], condition=~models.Q(attribute_key=""),
                                    name="sku_combination_unique"),
            models.CheckConstraint(condition=models.Q(cost_price__gte=0), name="sku_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ChoiceMode(models.TextChoices):
    SINGLE = "single", _("单选")
    MULTIPLE = "multiple", _("多选")


class BomOptionGroup(models.Model):
    """A group of optional components of a product's BOM: choose one (single) or several (multiple)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="option_groups")
    code = models.SlugField(_("代码"), max_length=50)
    name = models.CharField(_("名称"), max_length=100)
    choice = models.CharField(_("选择方式"), max_length=10, choices=ChoiceMode.choices, default=ChoiceMode.SINGLE)
    required = models.BooleanField(_("必选"), default=False)
    min_choices = models.PositiveSmallIntegerField(_("最少选择"), default=0)
    max_choices = models.PositiveSmallIntegerField(_("最多选择"), null=True, blank=True)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("选项组")
        verbose_name_plural = _("选项组")
        ordering = ["product_id", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="bom_group_unique")]

    def __str__(self) -> str:
        return self.name


class BomItem(models.Model):
    """One component of a product's structure, per unit of the parent. `priced`: the component becomes
    its own priced quote line (True) or is included in the parent's price and only adds cost (False).
    A component SKU's product may have its own BOM (nesting of any depth); cycles are refused."""

    parent = models.ForeignKey(Product, verbose_name=_("父产品"), on_delete=models.CASCADE, related_name="bom_items")
    component = models.ForeignKey(Sku, verbose_name=_("组件 SKU"), on_delete=models.PROTECT,
                                  related_name="used_in")
    quantity = models.DecimalField(_("用量"), max_digits=12, decimal_places=4, default=Decimal(1))
    required = models.BooleanField(_("必选"), default=True)
    priced = models.BooleanField(_("单独计价"), default=False)
    min_quantity = models.DecimalField(_("最小数量"), max_digits=12, decimal_places=4, null=True, blank=True)
    max_quantity = models.DecimalField(_("最大数量"), max_digits=12, decimal_places=4, null=True, blank=True)
    option_group = models.ForeignKey(BomOptionGroup, verbose_name=_("选项组"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="items")
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("BOM 组件")
        verbose_name_plural = _("BOM 组件")
        ordering = ["parent_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "component"], name="bom_component_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="bom_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.component_id} × {self.quantity}"


class RuleKind(models.TextChoices):
    REQUIRES = "requires", _("依赖")
    EXCLUDES = "excludes", _("互斥")
    AUTO_ADD = "auto_add", _("自动添加")
    ATTRIBUTE_CONSTRAINT = "attribute_constraint", _("属性约束")
    QUANTITY_LIMIT = "quantity_limit", _("数量限制")


class ConfigRule(models.Model):
    """A configuration rule; `definition` is validated by `engines.configurator.rules.parse_rule` on
    save. `product` is the configured product the rule belongs to (null: every configuration)."""

    NAMED_IN_TIMELINE = True

    code = models.SlugField(_("规则代码"), max_length=60, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    product = models.ForeignKey(Product, verbose_name=_("适用产品"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="config_rules")
    kind = models.CharField(_("规则类型"), max_length=30, choices=RuleKind.choices)
    definition = models.JSONField(_("规则定义"), default=dict)
    message = models.CharField(_("提示信息"), max_length=300, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveIntegerField(_("顺序"), default=0)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("配置规则")
        verbose_name_plural = _("配置规则")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RulesVersion(models.Model):
    """One row (pk=1): a counter bumped in the same transaction as any catalogue or pricing change.
    Compiled engine catalogues are cached per process under this number."""

    number = models.BigIntegerField(default=1)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rules v{self.number}"

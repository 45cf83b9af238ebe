"""Customer transactions and their RFM scores (ADR 0003; definitions in engines.rfm)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TransactionSource(models.TextChoices):
    IMPORT = "import", _("导入")
    MANUAL = "manual", _("手工录入")
    API = "api", _("接口")
    INVOICE = "invoice", _("发票")
    PAYMENT = "payment", _("回款")


class CustomerTransaction(models.Model):
    """One historical order or payment of an account: the input of RFM. Amounts are integer minor
    units (fen) plus a currency, so both databases add them up identically. A non-empty reference is
    unique per account and source, which makes re-imports idempotent."""

    account = models.ForeignKey("customers.Account", verbose_name=_("客户"), on_delete=models.PROTECT,
                                related_name="transactions")
    occurred_on = models.DateField(_("交易日期"))
    amount_minor = models.BigIntegerField(_("金额（分）"))
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    reference = models.CharField(_("单据号"), max_length=100, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=TransactionSource.choices,
                              default=TransactionSource.MANUAL)
    note = models.CharField(_("备注"), max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("交易记录")
        verbose_name_plural = _("交易记录")
        indexes = [models.Index(fields=["account", "occurred_on"], name="transaction_account_date")]
        constraints = [
            models.UniqueConstraint(fields=["account", "source", "reference"], name="transaction_reference",
                                    condition=~models.Q(reference="")),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.occurred_on} {self.amount_minor} {self.currency}"


class RfmSettings(models.Model):
    """The one row (pk=1) of RFM settings: the window (None = all history up to as-of), the number of
    score bins (5 = quintiles) and the currency whose amounts count towards monetary."""

    window_days = models.PositiveIntegerField(_("统计窗口（天）"), null=True, blank=True)
    bins = models.PositiveSmallIntegerField(_("分档数"), default=5)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("RFM 设置")
        verbose_name_plural = _("RFM 设置")
        constraints = [models.CheckConstraint(condition=models.Q(bins__gte=2, bins__lte=10), name="rfm_bins_range")]

    def __str__(self) -> str:
        return f"RFM window={self.window_days} bins={self.bins}"


class RfmSegmentName(models.Model):
    """An admin's name for one of the engine's segment codes (engines.rfm.SEGMENTS); when no row
    exists the built-in translated name is shown."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=50)

    class Meta:
        verbose_name = _("RFM 分群名称")
        verbose_name_plural = _("RFM 分群名称")

    def __str__(self) -> str:
        return self.name


class AccountRfm(models.Model):
    """The latest RFM result of one account, rewritten set-based by the nightly or on-demand run."""

    account = models.OneToOneField("customers.Account", on_delete=models.CASCADE, primary_key=True,
                                   related_name="rfm")
    as_of = models.DateField(_("计算基准日"))
    recency_days = models.PositiveIntegerField(_("最近一次交易距今（天）"))
    frequency = models.PositiveIntegerField(_("交易次数"))
    monetary_minor = models.BigIntegerField(_("交易金额（分）"))
    currency = models.CharField(max_length=3, default="CNY")
    recency_score = models.PositiveSmallIntegerField(_("R 分"))
    frequency_score = models.PositiveSmallIntegerField(_("F 分"))
    monetary_score = models.PositiveSmallIntegerField(_("M 分"))
    segment = models.CharField(_("RFM 分群"), max_length=40)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("客户 RFM")
        verbose_name_plural = _("客户 RFM")
        indexes = [models.Index(fields=["segment", "account"], name="account_rfm_segment")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.segment}"

"""Risk events about accounts (风险预警, ADR 0003) and the rules that give them a severity."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RiskKind(models.TextChoices):
    LAWSUIT = "lawsuit", _("诉讼")
    ENFORCEMENT = "enforcement", _("被执行")
    DISHONEST_DEBTOR = "dishonest_debtor", _("失信被执行人")
    OVERDUE_PAYMENT = "overdue_payment", _("逾期付款")
    ABNORMAL_OPERATION = "abnormal_operation", _("经营异常")
    REGISTRATION_CHANGE = "registration_change", _("工商变更")
    OTHER = "other", _("其他")


class RiskCategory(models.TextChoices):
    JUDICIAL = "judicial", _("司法风险")
    FINANCIAL = "financial", _("财务风险")
    REGISTRATION = "registration", _("工商风险")
    OTHER = "other", _("其他风险")


# Each kind belongs to one category (shown as the badge's group).
RISK_KIND_CATEGORY = {
    RiskKind.LAWSUIT: RiskCategory.JUDICIAL,
    RiskKind.ENFORCEMENT: RiskCategory.JUDICIAL,
    RiskKind.DISHONEST_DEBTOR: RiskCategory.JUDICIAL,
    RiskKind.OVERDUE_PAYMENT: RiskCategory.FINANCIAL,
    RiskKind.ABNORMAL_OPERATION: RiskCategory.FINANCIAL,
    RiskKind.REGISTRATION_CHANGE: RiskCategory.REGISTRATION,
    RiskKind.OTHER: RiskCategory.OTHER,
}


class RiskSeverity(models.TextChoices):
    LOW = "low", _("低")
    MEDIUM = "medium", _("中")
    HIGH = "high", _("高")
    CRITICAL = "critical", _("严重")


# Order of severities: Account.risk_level is the highest open one.
RISK_SEVERITY_RANK = {RiskSeverity.LOW: 1, RiskSeverity.MEDIUM: 2, RiskSeverity.HIGH: 3, RiskSeverity.CRITICAL: 4}


class RiskRule(models.Model):
    """Maps an event kind to a severity and says whether the owner and their manager are alerted."""

    kind = models.CharField(_("事件类型"), max_length=30, choices=RiskKind.choices, unique=True)
    severity = models.CharField(_("严重程度"), max_length=10, choices=RiskSeverity.choices)
    notify = models.BooleanField(_("通知负责人及其上级"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("风险规则")
        verbose_name_plural = _("风险规则")
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.severity}"


class RiskEventStatus(models.TextChoices):
    OPEN = "open", _("未处理")
    RESOLVED = "resolved", _("已解除")


class RiskEvent(models.Model):
    """One risk signal about an account, from a data provider or an import. `(source, event_id)` is
    unique, so ingesting the same event again changes nothing."""

    account = models.ForeignKey("customers.Account", verbose_name=_("客户"), on_delete=models.CASCADE,
                                related_name="risk_events")
    source = models.CharField(_("数据来源"), max_length=50)
    event_id = models.CharField(_("事件编号"), max_length=100)
    kind = models.CharField(_("事件类型"), max_length=30, choices=RiskKind.choices)
    severity = models.CharField(_("严重程度"), max_length=10, choices=RiskSeverity.choices)
    title = models.CharField(_("标题"), max_length=200)
    detail = models.TextField(_("详情"), blank=True)
    occurred_on = models.DateField(_("发生日期"), null=True, blank=True)
    amount_minor = models.BigIntegerField(_("涉及金额（分）"), null=True, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    url = models.URLField(_("链接"), max_length=500, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=RiskEventStatus.choices,
                              default=RiskEventStatus.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("风险事件")
        verbose_name_plural = _("风险事件")
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="risk_event_source_id")]
        indexes = [models.Index(fields=["account", "status", "-occurred_on"], name="risk_event_account")]

    def __str__(self) -> str:
        return self.title

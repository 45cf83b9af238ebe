"""The decision chain (决策链): contacts' roles, attitude and influence on one deal, and who reports
to whom."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChainRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("决策者")
    TECHNICAL_EVALUATOR = "technical_evaluator", _("技术评估者")
    BUSINESS_EVALUATOR = "business_evaluator", _("商务评估者")
    USER = "user", _("使用者")
    INFLUENCER = "influencer", _("影响者")
    GATEKEEPER = "gatekeeper", _("把关者")
    CHAMPION = "champion", _("支持者（内线）")
    COACH = "coach", _("教练")


class Attitude(models.TextChoices):
    SUPPORTER = "supporter", _("支持")
    NEUTRAL = "neutral", _("中立")
    OPPONENT = "opponent", _("反对")


class Influence(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class OpportunityContact(models.Model):
    """A contact's place in a deal's decision chain. `reports_to` is another entry of the same deal
    (the service rejects cycles and entries of other deals)."""

    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE, related_name="chain")
    contact = models.ForeignKey("customers.Contact", verbose_name=_("联系人"), on_delete=models.CASCADE,
                                related_name="opportunity_roles")
    role = models.CharField(_("角色"), max_length=30, choices=ChainRole.choices)
    attitude = models.CharField(_("态度"), max_length=10, choices=Attitude.choices, default=Attitude.NEUTRAL)
    influence = models.CharField(_("影响力"), max_length=10, choices=Influence.choices, default=Influence.MEDIUM)
    reports_to = models.ForeignKey("self", verbose_name=_("汇报给"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="reports")
    note = models.CharField(_("备注"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("决策链成员")
        verbose_name_plural = _("决策链成员")
        constraints = [models.UniqueConstraint(fields=["opportunity", "contact"], name="opp_chain_contact_unique")]
        indexes = [models.Index(fields=["contact"], name="opp_chain_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id}:{self.role}"

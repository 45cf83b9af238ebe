"""Deal health (商机健康度): the rep's answers per dimension, the weights, the index history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Dimension(models.TextChoices):
    NEED = "need", _("需求")
    BUDGET = "budget", _("预算")
    DECISION_CHAIN = "decision_chain", _("决策链")
    COMPETITION = "competition", _("竞争")
    VALUE = "value", _("价值")
    RELATIONSHIP = "relationship", _("关系")
    TIMING = "timing", _("时间")
    SOLUTION_FIT = "solution_fit", _("方案匹配")
    COMMERCIAL_TERMS = "commercial_terms", _("商务条款")


class AnswerLevel(models.IntegerChoices):
    UNKNOWN = 0, _("未知")
    WEAK = 1, _("弱")
    PARTIAL = 2, _("部分")
    GOOD = 3, _("良好")
    STRONG = 4, _("强")


class HealthAnswer(models.Model):
    """The rep's current answer on one dimension of a deal, with the evidence; earlier answers live
    in the audit trail."""

    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE,
                                    related_name="health_answers")
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    level = models.PositiveSmallIntegerField(choices=AnswerLevel.choices)
    evidence = models.CharField(_("依据"), max_length=500, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "dimension"], name="opp_health_answer_unique"),
            models.CheckConstraint(condition=models.Q(level__lte=4), name="opp_health_level_0_4"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension}={self.level}"


class HealthConfig(models.Model):
    """The health model's settings, one row (pk 1): weight 0–100 per dimension (0 leaves it out of
    the index; `weights` maps dimension codes to weights, missing ones weigh 0) and the days without
    activity that raise the no-activity flag. Admins edit it through the service (audited)."""

    weights = models.JSONField(default=dict)
    no_activity_days = models.PositiveSmallIntegerField(default=14)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return "health settings"


class HealthSnapshot(models.Model):
    """The index of a deal when it changed: the history chart of the deal page."""

    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE,
                                    related_name="health_history")
    index = models.PositiveSmallIntegerField()
    dimensions = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    taken_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["opportunity", "taken_at"], name="opp_health_history")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}:{self.index}"

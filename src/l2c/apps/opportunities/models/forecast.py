"""Forecast (销售预测): the trained win-probability model, weekly pipeline snapshots for the backtest,
and the forecast submissions of reps and managers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ForecastModel(models.Model):
    """A trained win-probability model: scaler, coefficients and calibration as JSON, the features
    it reads, and its quality against the stage-probability baseline on held-out deals. At most one
    is active; it is activated only when its Brier score beats the baseline's."""

    trained_at = models.DateTimeField()
    parameters = models.JSONField(default=dict)
    features = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    sample_size = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_forecast_model")]

    def __str__(self) -> str:
        return f"forecast model {self.trained_at:%Y-%m-%d %H:%M}"


class PipelineSnapshot(models.Model):
    """An open deal as it stood on `taken_on` (weekly job): the backtest compares the snapshot at the
    start of a period with what closed in it."""

    taken_on = models.DateField()
    opportunity = models.ForeignKey("opportunities.Opportunity", on_delete=models.CASCADE, related_name="+")
    owner_id_at = models.IntegerField()
    department_id_at = models.IntegerField(null=True)
    stage = models.ForeignKey("opportunities.Stage", on_delete=models.PROTECT, related_name="+")
    forecast_category = models.CharField(max_length=20)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    close_date = models.DateField(null=True)
    stage_probability = models.PositiveSmallIntegerField()  # per-mille
    model_probability = models.PositiveSmallIntegerField(null=True)  # per-mille

    class Meta:
        constraints = [models.UniqueConstraint(fields=["taken_on", "opportunity"], name="pipeline_snapshot_unique")]
        indexes = [models.Index(fields=["taken_on", "close_date"], name="pipeline_snapshot_close")]

    def __str__(self) -> str:
        return f"{self.taken_on}:{self.opportunity_id}"


class PeriodKind(models.TextChoices):
    MONTH = "month", _("月")
    QUARTER = "quarter", _("季度")


class ForecastSubmission(models.Model):
    """A forecast call for one period (月/季) by a rep for themselves (`department` null) or by a
    manager for a department's subtree. Append-only: the newest per (period, user/department) is
    current; the earlier ones are its history."""

    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="forecast_submissions")
    department = models.ForeignKey("identity.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="forecast_submissions")
    currency = models.CharField(max_length=3, default="CNY")
    commit_amount = models.BigIntegerField(_("承诺金额（分）"))
    best_case_amount = models.BigIntegerField(_("乐观金额（分）"))
    pipeline_amount = models.BigIntegerField(_("管道金额（分）"))
    system_amounts = models.JSONField(default=dict)  # the system's figures when submitted, for comparison
    note = models.CharField(_("说明"), max_length=1000, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["period_kind", "period_start", "-submitted_at"],
                                name="forecast_submission_period")]
        constraints = [
            models.CheckConstraint(condition=models.Q(user__isnull=False) | models.Q(department__isnull=False),
                                   name="forecast_submission_has_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.period_kind} {self.period_start}"

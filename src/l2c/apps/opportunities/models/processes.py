"""Sales processes (销售流程), their stages (阶段) and stage tasks (阶段任务), and the competitor
catalogue (竞争对手). ADR 0005."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StageKind(models.TextChoices):
    OPEN = "open", _("进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("管道")
    BEST_CASE = "best_case", _("乐观")
    COMMIT = "commit", _("承诺")
    CLOSED = "closed", _("已成交")
    OMITTED = "omitted", _("不计入")


class SalesProcess(models.Model):
    """A sales process: an ordered list of open stages, then one won and one lost stage. Exactly one
    process is the default (new deals without a process use it)."""

    NAMED_IN_TIMELINE = True  # configuration, not a business record: timelines show its name

    name = models.CharField(_("名称"), max_length=100, unique=True)
    code = models.SlugField(_("代码"), max_length=50, unique=True)
    description = models.TextField(_("说明"), blank=True)
    is_default = models.BooleanField(_("默认流程"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("销售流程")
        verbose_name_plural = _("销售流程")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="one_default_sales_process"),
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """A stage of a process. `probability` (0–100) is the baseline win probability of a deal in it;
    `norm_days` the usual time in it (a deal longer there is stalled); `entry_fields` /
    `exit_fields` field keys (see opportunities.gates.FIELD_CATALOGUE) a deal must hold to enter /
    to leave it. Won and lost stages close the deal."""

    NAMED_IN_TIMELINE = True  # configuration, not a business record: timelines show its name

    process = models.ForeignKey(SalesProcess, verbose_name=_("销售流程"), on_delete=models.CASCADE,
                                related_name="stages")
    name = models.CharField(_("名称"), max_length=60)
    position = models.PositiveSmallIntegerField(_("顺序"))
    kind = models.CharField(_("类型"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(_("赢率 %"), default=10)
    forecast_category = models.CharField(_("预测类别"), max_length=20, choices=ForecastCategory.choices,
                                         default=ForecastCategory.PIPELINE)
    norm_days = models.PositiveSmallIntegerField(_("标准停留天数"), null=True, blank=True)
    entry_fields = models.JSONField(_("进入必填字段"), default=list, blank=True)
    exit_fields = models.JSONField(_("离开必填字段"), default=list, blank=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("阶段")
        verbose_name_plural = _("阶段")
        ordering = ["process_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["process", "position"], name="stage_position_unique"),
            models.UniqueConstraint(fields=["process", "name"], name="stage_name_unique"),
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="stage_probability_0_100"),
        ]

    def __str__(self) -> str:
        return self.name


class StageTask(models.Model):
    """A checklist item of a stage; a required one must be done before a deal leaves the stage."""

    stage = models.ForeignKey(Stage, verbose_name=_("阶段"), on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("任务"), max_length=200)
    required = models.BooleanField(_("必做"), default=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("阶段任务")
        verbose_name_plural = _("阶段任务")
        ordering = ["stage_id", "position", "id"]

    def __str__(self) -> str:
        return self.title


class Competitor(models.Model):
    """A competitor (竞争对手) named on deals and as the winner of lost ones."""

    NAMED_IN_TIMELINE = True  # configuration, not a business record: timelines show its name

    name = models.CharField(_("名称"), max_length=100, unique=True)
    website = models.CharField(_("网站"), max_length=200, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("竞争对手")
        verbose_name_plural = _("竞争对手")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

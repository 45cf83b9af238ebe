"""Lead pools (线索池) and assignment rules (线索分配, ADR 0004)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadPool(models.Model):
    """A shared queue of unowned leads. Members (users, departments) browse and claim; a claimed
    lead untouched for `reclaim_after_days` returns to the pool; `daily_claim_quota` and
    `max_held_per_rep` bound claims; a previous owner waits `reclaim_cooldown_days` before claiming
    the same lead again. An empty number switches its rule off."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    description = models.CharField(_("说明"), max_length=500, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    member_users = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("成员用户"), blank=True,
                                          related_name="lead_pools")
    member_departments = models.ManyToManyField("identity.Department", verbose_name=_("成员部门"), blank=True,
                                                related_name="lead_pools")
    include_subdepartments = models.BooleanField(_("包含下级部门"), default=True)
    reclaim_after_days = models.PositiveSmallIntegerField(_("未跟进回收天数"), null=True, blank=True)
    max_held_per_rep = models.PositiveIntegerField(_("每人持有上限"), null=True, blank=True)
    daily_claim_quota = models.PositiveSmallIntegerField(_("每日领取上限"), null=True, blank=True)
    reclaim_cooldown_days = models.PositiveSmallIntegerField(_("原负责人重新领取冷却期（天）"), default=0)
    reminder_days = models.PositiveSmallIntegerField(_("回收前提醒（天）"), default=1)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("线索池")
        verbose_name_plural = _("线索池")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LeadClaimCounter(models.Model):
    """Claims of one user from one pool on one day (Asia/Shanghai date). The claim service raises
    it with `UPDATE … SET claimed = claimed + 1 WHERE claimed < quota` in the claim's transaction,
    so concurrent claims never exceed the quota."""

    pool = models.ForeignKey(LeadPool, on_delete=models.CASCADE, related_name="claim_counters")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    claimed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "user", "day"], name="lead_claim_counter_once")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.pool_id} {self.day}: {self.claimed}"


class LeadPoolExit(models.Model):
    """When a user last lost a lead to its pool (release or reclaim): the cool-down reads it."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="pool_exits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pool = models.ForeignKey(LeadPool, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=30)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["lead", "user", "-at"], name="lead_pool_exit_recent")]

    def __str__(self) -> str:
        return f"{self.lead_id} ← {self.user_id} ({self.reason})"


class AssignmentAction(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("轮流分配")
    LEAST_LOADED = "least_loaded", _("分给待跟进最少者")
    USER = "user", _("指定人员")
    POOL = "pool", _("放入线索池")


class AssignmentRule(models.Model):
    """An ordered routing rule (分配规则). `conditions` is a list of {"field", "op", "value"} over
    lead fields (including `custom.<key>` and `score_band`), all of which must hold; the first
    active matching rule by `position` assigns the lead. Round robin keeps its place in `cursor`
    (advanced with a compare-and-set UPDATE)."""

    name = models.CharField(_("名称"), max_length=100)
    position = models.PositiveIntegerField(_("顺序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    conditions = models.JSONField(_("条件"), default=list, blank=True)
    action = models.CharField(_("分配方式"), max_length=20, choices=AssignmentAction.choices)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("候选人员"), blank=True,
                                   related_name="+")
    target_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("指定人员"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    target_pool = models.ForeignKey(LeadPool, verbose_name=_("目标线索池"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    cursor = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("分配规则")
        verbose_name_plural = _("分配规则")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

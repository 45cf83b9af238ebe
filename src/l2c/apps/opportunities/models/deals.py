"""Opportunities (商机, ADR 0005): the deal, its team, its stage history and its task check-marks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")


class OpportunitySource(models.TextChoices):
    MANUAL = "manual", _("手工创建")
    LEAD = "lead", _("线索转化")
    CAMPAIGN = "campaign", _("市场活动")
    TENDER = "tender", _("招投标")
    IMPORT = "import", _("导入")


class LostReason(models.TextChoices):
    PRICE = "price", _("价格")
    PRODUCT_FIT = "product_fit", _("产品不满足需求")
    RELATIONSHIP = "relationship", _("客户关系")
    TIMING = "timing", _("时机/预算推迟")
    NO_DECISION = "no_decision", _("客户不采购")
    COMPETITOR = "competitor", _("竞争对手更强")
    OTHER = "other", _("其他")


class TeamRole(models.TextChoices):
    SALES = "sales", _("销售")
    PRESALES = "presales", _("售前")
    MANAGER = "manager", _("经理")
    SERVICE = "service", _("服务")
    OTHER = "other", _("其他")


class TeamAccess(models.TextChoices):
    READ = "read", _("只读")
    EDIT = "edit", _("可编辑")


class Opportunity(models.Model):
    """A qualified pursuit (商机) of one account. `status` mirrors the kind of `stage` (open, won,
    lost) so lists and the forecast filter without a join. `amount` is in fen of `currency`.
    `win_probability` is per-mille from the forecast model (`probability_source` "model") or the
    stage's probability ("stage"). `health_index` 0–100 (null until first computed)."""

    name = models.CharField(_("商机名称"), max_length=200)
    account = models.ForeignKey("customers.Account", verbose_name=_("客户"), on_delete=models.PROTECT,
                                related_name="opportunities")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("负责人"), on_delete=models.PROTECT,
                              related_name="owned_opportunities")
    department = models.ForeignKey("identity.Department", verbose_name=_("所属部门"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="opportunities")
    amount = models.BigIntegerField(_("金额（分）"), default=0)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    close_date = models.DateField(_("预计成交日期"), null=True, blank=True)
    process = models.ForeignKey("opportunities.SalesProcess", verbose_name=_("销售流程"), on_delete=models.PROTECT,
                                related_name="opportunities")
    stage = models.ForeignKey("opportunities.Stage", verbose_name=_("阶段"), on_delete=models.PROTECT,
                              related_name="opportunities")
    status = models.CharField(_("状态"), max_length=10, choices=OpportunityStatus.choices,
                              default=OpportunityStatus.OPEN)
    stage_entered_at = models.DateTimeField(_("进入阶段时间"))
    source = models.CharField(_("来源"), max_length=20, choices=OpportunitySource.choices,
                              default=OpportunitySource.MANUAL)
    lead = models.ForeignKey("leads.Lead", verbose_name=_("来源线索"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="opportunities")
    campaign = models.ForeignKey("marketing.Campaign", verbose_name=_("市场活动"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="opportunities")
    tender_notice = models.ForeignKey("tenders.TenderNotice", verbose_name=_("招投标公告"), null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="opportunities")
    competitors = models.ManyToManyField("opportunities.Competitor", verbose_name=_("竞争对手"), blank=True,
                                         related_name="opportunities")
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    description = models.TextField(_("备注"), blank=True)
    lost_reason = models.CharField(_("输单原因"), max_length=20, choices=LostReason.choices, blank=True)
    lost_note = models.CharField(_("输单说明"), max_length=500, blank=True)
    lost_to = models.ForeignKey("opportunities.Competitor", verbose_name=_("赢单的竞争对手"), null=True,
                                blank=True, on_delete=models.PROTECT, related_name="won_against")
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    win_probability = models.PositiveSmallIntegerField(_("赢率（‰）"), null=True, blank=True)
    probability_source = models.CharField(max_length=10, blank=True, editable=False)
    health_index = models.PositiveSmallIntegerField(_("健康度"), null=True, blank=True)
    health_flags = models.JSONField(default=list, blank=True, editable=False)
    health_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_followed_up_at = models.DateTimeField(_("最后跟进时间"), null=True, blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("商机")
        verbose_name_plural = _("商机")
        indexes = [
            # The kanban column: one stage, newest update first, keyset by (updated_at, id).
            models.Index(fields=["stage", "-updated_at", "-id"], name="opp_stage_updated"),
            models.Index(fields=["owner", "status", "close_date"], name="opp_owner_status_close"),
            models.Index(fields=["department", "-updated_at", "-id"], name="opp_dept_updated"),
            models.Index(fields=["-updated_at", "-id"], name="opp_updated"),
            models.Index(fields=["status", "close_date"], name="opp_status_close"),
            models.Index(fields=["account", "status"], name="opp_account_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="opp_amount_not_negative"),
            models.CheckConstraint(condition=models.Q(win_probability__lte=1000), name="opp_probability_permille"),
            models.CheckConstraint(condition=~models.Q(status="lost") | ~models.Q(lost_reason=""),
                                   name="opp_lost_has_reason"),
        ]

    def __str__(self) -> str:
        return self.name


class OpportunityTeamMember(models.Model):
    """A colleague on the deal team (商机团队); membership grants view (and edit with `edit` access)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("成员"), on_delete=models.CASCADE,
                             related_name="opportunity_teams")
    role = models.CharField(_("角色"), max_length=20, choices=TeamRole.choices, default=TeamRole.SALES)
    access = models.CharField(_("权限"), max_length=10, choices=TeamAccess.choices, default=TeamAccess.READ)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("商机团队成员")
        verbose_name_plural = _("商机团队成员")
        constraints = [models.UniqueConstraint(fields=["opportunity", "user"], name="opp_team_unique")]
        indexes = [models.Index(fields=["user", "opportunity"], name="opp_team_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


class OpportunityTask(models.Model):
    """A stage task checked off on a deal (unchecking deletes the row)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="tasks_done")
    task = models.ForeignKey("opportunities.StageTask", on_delete=models.CASCADE, related_name="+")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    done_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["opportunity", "task"], name="opp_task_unique")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}:{self.task_id}"


class StageHistory(models.Model):
    """A deal's stay in a stage: entered, exited (null while current), who moved it, and whether a
    manager overrode the gate (with the reason and what was missing)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.ForeignKey("opportunities.Stage", on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    override_reason = models.CharField(max_length=500, blank=True)
    skipped = models.JSONField(default=list, blank=True)  # the missing items an override let through

    class Meta:
        indexes = [
            models.Index(fields=["opportunity", "entered_at"], name="opp_history_deal"),
            models.Index(fields=["stage", "entered_at"], name="opp_history_stage"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["opportunity"], condition=models.Q(exited_at__isnull=True),
                                    name="opp_history_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}@{self.stage_id}"

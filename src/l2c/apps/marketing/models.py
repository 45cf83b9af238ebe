"""Campaigns (市场活动, ADR 0004): the campaign tree, cost items, members and won-revenue
attribution. Amounts are integer fen (分) with a currency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    CONFERENCE = "conference", _("会议")
    EXHIBITION = "exhibition", _("展会")
    SEMINAR = "seminar", _("研讨会")
    WEBINAR = "webinar", _("网络研讨会")
    EMAIL = "email", _("邮件营销")
    ADVERTISING = "advertising", _("广告")
    CONTENT = "content", _("内容营销")
    OTHER = "other", _("其他")


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", _("计划中")
    INVITING = "inviting", _("邀约中")
    REGISTRATION_OPEN = "registration_open", _("报名中")
    IN_PROGRESS = "in_progress", _("进行中")
    COMPLETED = "completed", _("已完成")
    CLOSED = "closed", _("已关闭")


class Campaign(models.Model):
    """A marketing event or programme. `parent` builds a tree of any depth; `path` is the
    materialised path of ids ("/3/17/") so a subtree is one `path LIKE '/3/%'` query, and every
    figure rolls up over it. `department` is the owner's department (visibility)."""

    name = models.CharField(_("活动名称"), max_length=200)
    kind = models.CharField(_("活动类型"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.OTHER)
    is_online = models.BooleanField(_("线上活动"), default=False)
    status = models.CharField(_("状态"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.PLANNED)
    parent = models.ForeignKey("self", verbose_name=_("上级活动"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    path = models.CharField(max_length=255, blank=True, editable=False, db_index=True)
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    location = models.CharField(_("地点"), max_length=200, blank=True)
    description = models.TextField(_("说明"), blank=True)
    budget_amount = models.BigIntegerField(_("预算（分）"), default=0)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("负责人"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="owned_campaigns")
    department = models.ForeignKey("identity.Department", verbose_name=_("所属部门"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="campaigns")
    # Public registration page (/r/<public_token>/): which optional fields it asks and requires.
    registration_enabled = models.BooleanField(_("开放在线报名"), default=False)
    registration_fields = models.JSONField(_("报名字段"), default=list, blank=True)
    registration_capacity = models.PositiveIntegerField(_("报名人数上限"), null=True, blank=True)
    public_token = models.CharField(max_length=40, unique=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("市场活动")
        verbose_name_plural = _("市场活动")
        indexes = [models.Index(fields=["-starts_on", "-id"], name="campaign_starts")]
        constraints = [
            models.CheckConstraint(condition=models.Q(budget_amount__gte=0), name="campaign_budget_not_negative"),
            models.CheckConstraint(
                condition=models.Q(starts_on__isnull=True) | models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="campaign_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignCost(models.Model):
    """A cost item of a campaign (费用): planned and actual amounts. ROI uses the actual amount when
    one is recorded, else the planned one."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="costs")
    category = models.CharField(_("费用类别"), max_length=50)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    planned_amount = models.BigIntegerField(_("计划金额（分）"), default=0)
    actual_amount = models.BigIntegerField(_("实际金额（分）"), null=True, blank=True)
    incurred_on = models.DateField(_("发生日期"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("活动费用")
        verbose_name_plural = _("活动费用")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_amount__gte=0)
                & (models.Q(actual_amount__isnull=True) | models.Q(actual_amount__gte=0)),
                name="campaign_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.category}"


class MemberStatus(models.TextChoices):
    INVITED = "invited", _("已邀约")
    REGISTERED = "registered", _("已报名")
    CHECKED_IN = "checked_in", _("已签到")
    NO_SHOW = "no_show", _("未到场")


class MemberSource(models.TextChoices):
    INVITE = "invite", _("邀约")
    IMPORT = "import", _("导入")
    REGISTRATION = "registration", _("在线报名")
    STAFF = "staff", _("现场登记")


class CampaignMember(models.Model):
    """A lead or a contact in a campaign (exactly one of the two), with a timestamp per status.
    `checkin_token` is the secret of the member's check-in link and QR code."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="campaign_memberships")
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="campaign_memberships")
    status = models.CharField(_("状态"), max_length=20, choices=MemberStatus.choices, default=MemberStatus.INVITED)
    source = models.CharField(_("来源"), max_length=20, choices=MemberSource.choices, default=MemberSource.INVITE)
    invited_at = models.DateTimeField(_("邀约时间"), null=True, blank=True)
    registered_at = models.DateTimeField(_("报名时间"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    no_show_at = models.DateTimeField(_("标记未到场时间"), null=True, blank=True)
    checkin_token = models.CharField(max_length=40, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("活动成员")
        verbose_name_plural = _("活动成员")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(lead__isnull=False) & models.Q(contact__isnull=True))
                | (models.Q(lead__isnull=True) & models.Q(contact__isnull=False)),
                name="campaign_member_lead_xor_contact",
            ),
            models.UniqueConstraint(fields=["campaign", "lead"], name="campaign_member_lead",
                                    condition=models.Q(lead__isnull=False)),
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_member_contact",
                                    condition=models.Q(contact__isnull=False)),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="campaign_member_status")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.lead_id or self.contact_id} ({self.status})"


class AttributionModel(models.TextChoices):
    FIRST_TOUCH = "first_touch", _("首次触达")
    LAST_TOUCH = "last_touch", _("末次触达")
    LINEAR = "linear", _("线性平均")


class CampaignAttribution(models.Model):
    """Won revenue credited to a campaign under one attribution model. One won source (e.g. a
    customer transaction, later a won deal) gives rows for every model; amounts per model sum to
    the won amount. Idempotent by (source, source_id)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attributions")
    model = models.CharField(_("归因模型"), max_length=20, choices=AttributionModel.choices)
    source = models.CharField(_("成交来源"), max_length=30)
    source_id = models.BigIntegerField(_("成交记录"))
    account = models.ForeignKey("customers.Account", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    amount = models.BigIntegerField(_("归因金额（分）"))
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    won_at = models.DateTimeField(_("成交时间"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("活动收入归因")
        verbose_name_plural = _("活动收入归因")
        constraints = [models.UniqueConstraint(fields=["source", "source_id", "model", "campaign"],
                                               name="campaign_attribution_once")]
        indexes = [models.Index(fields=["campaign", "model"], name="campaign_attribution_model"),
                   models.Index(fields=["source", "source_id"], name="campaign_attribution_source")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.model} {self.amount}"


class RateLimitCounter(models.Model):
    """Requests counted per key (e.g. "reg-ip:<address>") in a fixed time window, in the database so
    every web process shares the count (the public registration page's rate limits). Rows of past
    windows are deleted as new ones come in."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("访问频率计数")
        verbose_name_plural = _("访问频率计数")
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="rate_limit_counter_window")]
        indexes = [models.Index(fields=["window_start"], name="rate_limit_counter_start")]

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%Y-%m-%d %H:%M} {self.hits}"

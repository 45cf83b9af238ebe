"""Leads (线索, ADR 0004): an unqualified prospect, owned by a rep or lying in a lead pool."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadStatus(models.TextChoices):
    NEW = "new", _("新线索")
    CONTACTED = "contacted", _("已联系")
    QUALIFIED = "qualified", _("已确认")
    CONVERTED = "converted", _("已转化")
    DISQUALIFIED = "disqualified", _("无效")


class LeadSource(models.TextChoices):
    WEBSITE = "website", _("官网")
    CAMPAIGN = "campaign", _("市场活动")
    TENDER = "tender", _("招投标")
    REFERRAL = "referral", _("客户介绍")
    COLD_CALL = "cold_call", _("电话拓展")
    PARTNER = "partner", _("合作伙伴")
    ADVERTISING = "advertising", _("广告")
    IMPORT = "import", _("导入")
    OTHER = "other", _("其他")


class ScoreBand(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


class Lead(models.Model):
    """A prospect: a person and/or a company not yet qualified (线索). Either `owner` is set, or the
    lead lies unowned in `pool` (a lead pool); a rep's claim sets the owner compare-and-set.
    Scores are 0–100: `behaviour_score`, `attribute_score`, `predicted_score` (null until a model
    beats the baseline) and their weighted `score`, banded A–D; `score_explanation` holds the top
    contributions of each part. A converted lead keeps links to its account and contact."""

    name = models.CharField(_("姓名"), max_length=100, blank=True)
    company = models.CharField(_("公司"), max_length=200, blank=True)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    mobile = models.CharField(_("手机"), max_length=30, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    email = models.CharField(_("邮箱"), max_length=254, blank=True)
    wechat = models.CharField(_("微信"), max_length=100, blank=True)
    province = models.CharField(_("省份"), max_length=30, blank=True)
    city = models.CharField(_("城市"), max_length=30, blank=True)
    industry = models.CharField(_("行业"), max_length=1, blank=True)  # customers.Industry codes
    size = models.CharField(_("规模"), max_length=20, blank=True)  # customers.CompanySize codes
    source = models.CharField(_("来源"), max_length=20, choices=LeadSource.choices, blank=True)
    campaign = models.ForeignKey("marketing.Campaign", verbose_name=_("市场活动"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="leads")
    tender_notice = models.ForeignKey("tenders.TenderNotice", verbose_name=_("招投标公告"), null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="leads")
    status = models.CharField(_("状态"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualified_reason = models.CharField(_("无效原因"), max_length=200, blank=True)
    description = models.TextField(_("备注"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("负责人"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="owned_leads")
    department = models.ForeignKey("identity.Department", verbose_name=_("所属部门"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="leads")
    pool = models.ForeignKey("leads.LeadPool", verbose_name=_("线索池"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="leads")
    held_since = models.DateTimeField(_("领取/分配时间"), null=True, blank=True)
    pool_entered_at = models.DateTimeField(_("进入线索池时间"), null=True, blank=True)
    reclaim_due_at = models.DateTimeField(_("回收时间"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("最后跟进时间"), null=True, blank=True)
    # Scores (线索评分).
    behaviour_score = models.PositiveSmallIntegerField(_("行为积分"), default=0)
    attribute_score = models.PositiveSmallIntegerField(_("属性评分"), default=0)
    predicted_score = models.PositiveSmallIntegerField(_("智能评分"), null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("综合评分"), default=0)
    score_band = models.CharField(_("评分等级"), max_length=1, choices=ScoreBand.choices, default=ScoreBand.D)
    score_explanation = models.JSONField(default=dict, blank=True, editable=False)
    scored_at = models.DateTimeField(_("评分时间"), null=True, blank=True)
    # Conversion (转化).
    converted_account = models.ForeignKey("customers.Account", verbose_name=_("转化客户"), null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="converted_leads")
    converted_contact = models.ForeignKey("customers.Contact", verbose_name=_("转化联系人"), null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="converted_leads")
    converted_at = models.DateTimeField(_("转化时间"), null=True, blank=True)
    converted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    search_text = models.CharField(max_length=1000, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        indexes = [
            models.Index(fields=["owner", "-updated_at", "-id"], name="lead_owner_updated"),
            models.Index(fields=["department", "-updated_at", "-id"], name="lead_dept_updated"),
            models.Index(fields=["-updated_at", "-id"], name="lead_updated"),
            models.Index(fields=["-created_at", "-id"], name="lead_created"),
            models.Index(fields=["status", "-updated_at", "-id"], name="lead_status_updated"),
            models.Index(fields=["score_band", "-score", "-id"], name="lead_band_score"),
            models.Index(fields=["pool", "-pool_entered_at", "-id"], name="lead_pool_browse"),
            models.Index(fields=["reclaim_due_at"], name="lead_reclaim_due",
                         condition=models.Q(reclaim_due_at__isnull=False)),
            models.Index(fields=["campaign"], name="lead_campaign"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=100) & models.Q(behaviour_score__lte=100)
                                   & models.Q(attribute_score__lte=100), name="lead_scores_0_100"),
            models.CheckConstraint(
                condition=~models.Q(status="disqualified") | ~models.Q(disqualified_reason=""),
                name="lead_disqualified_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.company or f"#{self.pk}"

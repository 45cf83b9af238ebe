"""Accounts (客户), their contacts (联系人), account teams and tags."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Industry(models.TextChoices):
    """Top level (门类) of the national industry classification GB/T 4754-2017."""

    A = "A", _("农、林、牧、渔业")
    B = "B", _("采矿业")
    C = "C", _("制造业")
    D = "D", _("电力、热力、燃气及水生产和供应业")
    E = "E", _("建筑业")
    F = "F", _("批发和零售业")
    G = "G", _("交通运输、仓储和邮政业")
    H = "H", _("住宿和餐饮业")
    I = "I", _("信息传输、软件和信息技术服务业")  # noqa: E741
    J = "J", _("金融业")
    K = "K", _("房地产业")
    L = "L", _("租赁和商务服务业")
    M = "M", _("科学研究和技术服务业")
    N = "N", _("水利、环境和公共设施管理业")
    O = "O", _("居民服务、修理和其他服务业")  # noqa: E741
    P = "P", _("教育")
    Q = "Q", _("卫生和社会工作")
    R = "R", _("文化、体育和娱乐业")
    S = "S", _("公共管理、社会保障和社会组织")
    T = "T", _("国际组织")


class CompanySize(models.TextChoices):
    MICRO = "micro", _("20 人以下")
    SMALL = "small", _("20–99 人")
    MEDIUM = "medium", _("100–499 人")
    LARGE = "large", _("500–999 人")
    ENTERPRISE = "enterprise", _("1000 人以上")


class AccountSource(models.TextChoices):
    REFERRAL = "referral", _("客户介绍")
    WEBSITE = "website", _("官网")
    EXHIBITION = "exhibition", _("展会")
    TENDER = "tender", _("招投标")
    COLD_CALL = "cold_call", _("电话拓展")
    PARTNER = "partner", _("合作伙伴")
    ADVERTISING = "advertising", _("广告")
    OTHER = "other", _("其他")


class AccountLevel(models.TextChoices):
    KEY = "key", _("重点客户")
    IMPORTANT = "important", _("重要客户")
    NORMAL = "normal", _("普通客户")


class AccountStatus(models.TextChoices):
    POTENTIAL = "potential", _("潜在")
    ACTIVE = "active", _("成交")
    DORMANT = "dormant", _("休眠")
    LOST = "lost", _("流失")


class BusinessStatus(models.TextChoices):
    """Business-registration status (登记状态)."""

    OPERATING = "operating", _("存续（在营、开业、在册）")
    REVOKED = "revoked", _("吊销")
    CANCELLED = "cancelled", _("注销")
    MOVED_OUT = "moved_out", _("迁出")
    SUSPENDED = "suspended", _("停业")


class Tag(models.Model):
    """A free label on accounts, shared by everybody."""

    name = models.CharField(_("标签"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A company we sell to (客户). `department` is the owner's department at assignment time and
    drives department-scoped visibility; `search_text` holds the name, short name and their pinyin
    and initials in lower case for search."""

    name = models.CharField(_("客户名称"), max_length=200)
    short_name = models.CharField(_("简称"), max_length=100, blank=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    industry = models.CharField(_("行业"), max_length=1, choices=Industry.choices, blank=True)
    size = models.CharField(_("规模"), max_length=20, choices=CompanySize.choices, blank=True)
    province = models.CharField(_("省份"), max_length=30, blank=True)
    city = models.CharField(_("城市"), max_length=30, blank=True)
    district = models.CharField(_("区县"), max_length=30, blank=True)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    website = models.CharField(_("网站"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=AccountSource.choices, blank=True)
    level = models.CharField(_("客户级别"), max_length=20, choices=AccountLevel.choices, blank=True)
    status = models.CharField(
        _("客户状态"), max_length=20, choices=AccountStatus.choices, default=AccountStatus.POTENTIAL
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), blank=True, related_name="accounts")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("负责人"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="owned_accounts",
    )
    department = models.ForeignKey(
        "identity.Department", verbose_name=_("所属部门"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="accounts",
    )
    legal_representative = models.CharField(_("法定代表人"), max_length=50, blank=True)
    registered_capital = models.DecimalField(
        _("注册资本（万元）"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    founded_on = models.DateField(_("成立日期"), null=True, blank=True)
    business_status = models.CharField(
        _("登记状态"), max_length=20, choices=BusinessStatus.choices, blank=True
    )
    last_followed_up_at = models.DateTimeField(_("最后跟进时间"), null=True, blank=True)
    # Public pool (公海, ADR 0003). `pool` is the pool the account belongs to: with no owner it lies
    # in that pool; with an owner the pool's rules govern how long the owner may hold it.
    # All nullable, so adding them never rebuilds the table on SQLite (which would drop FTS triggers).
    pool = models.ForeignKey(
        "customers.Pool", verbose_name=_("公海"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="accounts",
    )
    held_since = models.DateTimeField(_("领取/分配时间"), null=True, blank=True)
    pool_entered_at = models.DateTimeField(_("进入公海时间"), null=True, blank=True)
    reclaim_due_at = models.DateTimeField(_("回收时间"), null=True, blank=True)
    reclaim_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_won_at = models.DateTimeField(_("最近成交时间"), null=True, blank=True)
    # Highest severity among open risk events (RiskSeverity), null when none: the risk badge.
    risk_level = models.CharField(_("风险等级"), max_length=10, null=True, blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    search_text = models.CharField(max_length=1000, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        indexes = [
            models.Index(fields=["owner", "-updated_at", "-id"], name="account_owner_updated"),
            models.Index(fields=["department", "-updated_at", "-id"], name="account_dept_updated"),
            models.Index(fields=["-updated_at", "-id"], name="account_updated"),
            models.Index(fields=["-created_at", "-id"], name="account_created"),
            models.Index(fields=["name", "id"], name="account_name"),
            models.Index(fields=["province", "city"], name="account_region"),
            models.Index(fields=["industry", "-updated_at", "-id"], name="account_industry_updated"),
            # An industry filter sorted by name or by creation: without these, SQLite reads every
            # row of the industry through the index above and sorts them (~1 s at 1 M accounts).
            models.Index(fields=["industry", "name", "id"], name="account_industry_name"),
            models.Index(fields=["industry", "-created_at", "-id"], name="account_industry_created"),
            models.Index(fields=["pool", "-pool_entered_at", "-id"], name="account_pool_browse"),
            models.Index(fields=["reclaim_due_at"], name="account_reclaim_due",
                         condition=models.Q(reclaim_due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.name


class AccountTeamMember(models.Model):
    """A colleague who works the account with its owner; gains visibility (and edit if granted)."""

    class Access(models.TextChoices):
        READ = "read", _("只读")
        EDIT = "edit", _("可编辑")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_teams")
    role = models.CharField(_("团队角色"), max_length=50, blank=True)
    access = models.CharField(_("权限"), max_length=10, choices=Access.choices, default=Access.READ)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("客户团队成员")
        verbose_name_plural = _("客户团队成员")
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="uniq_account_team_member")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"


class Contact(models.Model):
    """A person at an account (联系人). Visibility follows the account."""

    name = models.CharField(_("姓名"), max_length=100)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    department = models.CharField(_("部门"), max_length=100, blank=True)
    mobile = models.CharField(_("手机"), max_length=30, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    email = models.CharField(_("邮箱"), max_length=254, blank=True)
    wechat = models.CharField(_("微信"), max_length=100, blank=True)
    account = models.ForeignKey(
        Account, verbose_name=pgettext_lazy("field", "客户"), on_delete=models.PROTECT, related_name="contacts"
    )
    is_primary = models.BooleanField(_("主要联系人"), default=False)
    reports_to = models.ForeignKey(
        "self", verbose_name=_("汇报对象"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="reports",
    )
    last_followed_up_at = models.DateTimeField(_("最后跟进时间"), null=True, blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    search_text = models.CharField(max_length=600, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        indexes = [
            models.Index(fields=["account", "-is_primary", "name"], name="contact_account"),
            models.Index(fields=["-updated_at", "-id"], name="contact_updated"),
            models.Index(fields=["name", "id"], name="contact_name"),
        ]

    def __str__(self) -> str:
        return self.name

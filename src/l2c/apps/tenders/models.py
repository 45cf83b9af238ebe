"""Tender intelligence (招投标, ADR 0004): notices from ingest batches, per-user subscriptions and
the matches pushed to subscribers. Amounts are integer fen (分)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    TENDER = "tender", _("招标公告")
    AWARD = "award", _("中标公告")
    CHANGE = "change", _("变更公告")


class TenderBatch(models.Model):
    """One ingest call (API batch or file import): all of its notices were stored together, or none."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(_("来源方式"), max_length=10, default="api")  # api | import
    received_count = models.PositiveIntegerField(_("收到条数"), default=0)
    created_count = models.PositiveIntegerField(_("新增条数"), default=0)
    unchanged_count = models.PositiveIntegerField(_("重复条数"), default=0)
    matched_at = models.DateTimeField(_("匹配完成时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("接收时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("招投标批次")
        verbose_name_plural = _("招投标批次")

    def __str__(self) -> str:
        return f"#{self.pk} ({self.created_count}/{self.received_count})"


class TenderNotice(models.Model):
    """A public procurement notice. Unique by (source, source_notice_id): re-sending it changes
    nothing. `matched_at` is null until the matcher has run over it — matching is incremental."""

    source = models.CharField(_("信息来源"), max_length=50)
    source_notice_id = models.CharField(_("来源公告编号"), max_length=100)
    kind = models.CharField(_("公告类型"), max_length=10, choices=NoticeKind.choices, default=NoticeKind.TENDER)
    title = models.CharField(_("标题"), max_length=300)
    buyer_name = models.CharField(_("采购单位"), max_length=200, blank=True)
    province = models.CharField(_("省份"), max_length=30, blank=True)
    city = models.CharField(_("城市"), max_length=30, blank=True)
    budget_amount = models.BigIntegerField(_("预算金额（分）"), null=True, blank=True)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    published_on = models.DateField(_("发布日期"), null=True, blank=True)
    deadline_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    categories = models.JSONField(_("品目"), default=list, blank=True)
    content = models.TextField(_("正文"), blank=True)
    url = models.CharField(_("原文链接"), max_length=500, blank=True)
    batch = models.ForeignKey(TenderBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices")
    matched_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("入库时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("招投标公告")
        verbose_name_plural = _("招投标公告")
        constraints = [models.UniqueConstraint(fields=["source", "source_notice_id"], name="tender_notice_source_id")]
        indexes = [
            models.Index(fields=["-published_on", "-id"], name="tender_notice_published"),
            models.Index(fields=["id"], name="tender_notice_unmatched", condition=models.Q(matched_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.title


class TenderSubscription(models.Model):
    """A user's standing search (订阅): keywords (any or all), excluded words, regions, budget range
    and notice kinds. Empty lists and null bounds do not filter."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tender_subscriptions")
    name = models.CharField(_("名称"), max_length=100)
    keywords = models.JSONField(_("关键词"), default=list)
    match_all = models.BooleanField(_("须包含全部关键词"), default=False)
    excluded_words = models.JSONField(_("排除词"), default=list, blank=True)
    regions = models.JSONField(_("地区"), default=list, blank=True)  # "省" or "省/市"
    budget_min = models.BigIntegerField(_("预算下限（分）"), null=True, blank=True)
    budget_max = models.BigIntegerField(_("预算上限（分）"), null=True, blank=True)
    kinds = models.JSONField(_("公告类型"), default=list, blank=True)
    webhook_url = models.CharField(_("Webhook 地址"), max_length=500, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("招投标订阅")
        verbose_name_plural = _("招投标订阅")

    def __str__(self) -> str:
        return self.name


class TenderMatch(models.Model):
    """A notice matched to a subscription, stored once: a notice is never pushed twice.

    It is also the outbox of its pushes. `notified_at`: when the in-app notification counting it
    was written (in the same transaction). `webhook_sent_at`: when its webhook step was done — the
    POST succeeded, or the subscription had no webhook then; null while it waits. A failed POST
    counts in `webhook_attempts` and is retried from `webhook_next_at` on, up to a cap; a claimed
    POST in flight also holds `webhook_next_at` in the future, so another run does not send it."""

    subscription = models.ForeignKey(TenderSubscription, on_delete=models.CASCADE, related_name="matches")
    notice = models.ForeignKey(TenderNotice, on_delete=models.CASCADE, related_name="matches")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tender_matches")
    matched_keywords = models.JSONField(_("命中关键词"), default=list)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("推送时间"), auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    webhook_next_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("招投标推送")
        verbose_name_plural = _("招投标推送")
        constraints = [models.UniqueConstraint(fields=["subscription", "notice"], name="tender_match_once")]
        indexes = [
            models.Index(fields=["user", "read_at", "-id"], name="tender_match_inbox"),
            models.Index(fields=["id"], name="tender_match_unnotified", condition=models.Q(notified_at__isnull=True)),
            models.Index(fields=["subscription", "id"], name="tender_match_webhook_due",
                         condition=models.Q(webhook_sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} ← {self.notice_id}"

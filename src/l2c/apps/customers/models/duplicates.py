"""Duplicate control (查重, ADR 0003): rules, the blocking index, normalised profiles, the review
queue of the batch job and the merges that can be undone."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DuplicateObject(models.TextChoices):
    ACCOUNT = "account", _("客户")
    CONTACT = "contact", _("联系人")
    LEAD = "lead", _("线索")


class DuplicateRuleKind(models.TextChoices):
    EXACT = "exact", _("完全相同")
    FUZZY = "fuzzy", _("相似")


class DuplicateRuleField(models.TextChoices):
    CREDIT_CODE = "credit_code", _("统一社会信用代码")
    PHONE = "phone", _("电话")
    EMAIL = "email", _("邮箱")
    NAME = "name", _("名称")
    ADDRESS = "address", _("地址")


class DuplicateRuleAction(models.TextChoices):
    BLOCK = "block", _("禁止保存")
    WARN = "warn", _("提醒确认")
    REPORT = "report", _("仅记录")


class DuplicateRule(models.Model):
    """One duplicate rule of an object type (查重规则), editable by an admin; several may be active.
    Exact rules compare a normalised key, fuzzy rules a similarity 0–100 against `threshold`; the
    `action` says what a match does to the write: block it, ask the user to confirm, or only report."""

    object_type = models.CharField(_("对象"), max_length=20, choices=DuplicateObject.choices)
    key = models.SlugField(_("规则代码"), max_length=40)
    label = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("比较方式"), max_length=10, choices=DuplicateRuleKind.choices)
    field = models.CharField(_("字段"), max_length=20, choices=DuplicateRuleField.choices)
    threshold = models.PositiveSmallIntegerField(_("相似度阈值"), default=100)
    action = models.CharField(_("处理方式"), max_length=10, choices=DuplicateRuleAction.choices)
    is_active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("查重规则")
        verbose_name_plural = _("查重规则")
        ordering = ["object_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="duplicate_rule_key"),
            models.CheckConstraint(condition=models.Q(threshold__gte=1, threshold__lte=100),
                                   name="duplicate_rule_threshold"),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        """The field must be one the kind can compare and the object type has."""
        from django.core.exceptions import ValidationError

        allowed = {
            (DuplicateObject.ACCOUNT, DuplicateRuleKind.EXACT): {"credit_code", "phone", "name"},
            (DuplicateObject.ACCOUNT, DuplicateRuleKind.FUZZY): {"name", "address"},
            (DuplicateObject.CONTACT, DuplicateRuleKind.EXACT): {"phone", "email"},
            (DuplicateObject.CONTACT, DuplicateRuleKind.FUZZY): set(),
            (DuplicateObject.LEAD, DuplicateRuleKind.EXACT): {"phone", "email"},
            (DuplicateObject.LEAD, DuplicateRuleKind.FUZZY): {"name"},
        }.get((self.object_type, self.kind), set())
        if self.field not in allowed:
            raise ValidationError({"field": _("这个对象的“%(kind)s”规则不能比较这个字段。")
                                   % {"kind": self.get_kind_display()}})
        if self.kind == DuplicateRuleKind.EXACT and self.threshold != 100:
            raise ValidationError({"threshold": _("完全相同的规则阈值必须是 100。")})


class DuplicateKey(models.Model):
    """The blocking index of duplicate control: one normalised key of one record, written as
    "kind:value" (kinds in engines.dedup.KeyKind: credit code, phone, e-mail, core name, its
    one-character deletions, name grams …). Rewritten by every service that writes the record, in
    the same transaction, so a check never reads a stale key."""

    object_type = models.CharField(max_length=20)
    key = models.CharField(max_length=220)
    record_id = models.BigIntegerField()

    class Meta:
        # One index: look-ups by key, and deletes by key and record (the keys of a record are known
        # from its DuplicateProfile); a second index by record would slow every bulk insert.
        indexes = [models.Index(fields=["object_type", "key", "record_id"], name="duplicate_key_lookup")]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.key} → {self.record_id}"


class DuplicateProfile(models.Model):
    """The normalised form of one record (engines.dedup.Fingerprint) kept beside its blocking keys,
    so a check scores its candidates without normalising their names again."""

    object_type = models.CharField(max_length=20)
    record_id = models.BigIntegerField()
    name_full = models.CharField(max_length=200, blank=True)
    name_core = models.CharField(max_length=200, blank=True)
    name_brand = models.CharField(max_length=200, blank=True)
    name_pinyin = models.TextField(blank=True)
    brand_pinyin = models.TextField(blank=True)
    credit_code = models.CharField(max_length=30, blank=True)
    phones = models.CharField(max_length=200, blank=True)  # space-separated normalised numbers
    emails = models.CharField(max_length=600, blank=True)  # space-separated normalised addresses
    address = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "record_id"], name="duplicate_profile_record")]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.record_id} {self.name_core}"


class DuplicateGroupStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    MERGED = "merged", _("已合并")
    DISMISSED = "dismissed", _("不是重复")


class DuplicateGroup(models.Model):
    """A group of records the batch dedup job (or a *report* rule) found to be likely duplicates of
    each other: one entry of the review queue. `score` is the best pair score inside the group."""

    object_type = models.CharField(_("对象"), max_length=20, choices=DuplicateObject.choices)
    status = models.CharField(_("状态"), max_length=10, choices=DuplicateGroupStatus.choices,
                              default=DuplicateGroupStatus.OPEN)
    score = models.PositiveSmallIntegerField(_("相似度"))
    rule = models.CharField(_("规则"), max_length=40, blank=True)
    size = models.PositiveIntegerField(_("记录数"), default=0)
    job_run_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("疑似重复组")
        verbose_name_plural = _("疑似重复组")
        indexes = [models.Index(fields=["object_type", "status", "-score", "id"], name="duplicate_group_queue")]

    def __str__(self) -> str:
        return f"{self.object_type} group {self.pk} ({self.size})"


class DuplicateCandidate(models.Model):
    """One record of a duplicate group, with its best score against another member and the reasons."""

    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="candidates")
    record_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField(_("相似度"))
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "record_id"], name="duplicate_candidate_record")]
        indexes = [models.Index(fields=["record_id"], name="duplicate_candidate_lookup")]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.record_id}"


class RecordMerge(models.Model):
    """One merge (合并): `merged_id` was folded into `survivor_id`. Keeps what undo needs: the merged
    record's full snapshot (fields, tags, custom values), the survivor's values before the merge and
    the ids of every related row that was re-pointed, per "app_label.Model.field"."""

    object_type = models.CharField(max_length=20, choices=DuplicateObject.choices)
    survivor_id = models.BigIntegerField()
    merged_id = models.BigIntegerField()
    merged_snapshot = models.JSONField(default=dict)
    survivor_before = models.JSONField(default=dict)
    survivor_version = models.PositiveIntegerField(default=0)
    repointed = models.JSONField(default=dict)
    group = models.ForeignKey(DuplicateGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        verbose_name = _("合并记录")
        verbose_name_plural = _("合并记录")
        indexes = [
            models.Index(fields=["object_type", "merged_id"], name="record_merge_merged"),
            models.Index(fields=["object_type", "survivor_id", "-created_at"], name="record_merge_survivor"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.merged_id} → {self.survivor_id}"

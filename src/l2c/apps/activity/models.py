"""Audit events, follow-ups, notes, to-dos, notifications, job runs, custom fields, imports.

Records of any business object type are referenced by (object_type, object_id), where
object_type is the key registered with `identity.access` ("account", "contact", …).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .job_labels import job_label


class AuditEvent(models.Model):
    """One append-only audit entry: who did what to which record, with field-level old → new."""

    class Kind(models.TextChoices):
        CREATE = "create", _("新建")
        UPDATE = "update", _("修改")
        DELETE = "delete", _("删除")
        TRANSFER = "transfer", _("转移")
        STATUS = "status", _("状态变更")
        SHARE = "share", _("共享")
        MERGE = "merge", _("合并")
        IMPORT = "import", _("导入")
        OTHER = "other", _("其他")

    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=20, choices=Kind.choices)
    changes = models.JSONField(default=dict, blank=True)  # {field: [old, new]}
    summary = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    source = models.CharField(max_length=10, default="web")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"


class FollowUp(models.Model):
    """A sales interaction (跟进记录) on a record: call, visit, meeting, e-mail, WeChat."""

    class Kind(models.TextChoices):
        CALL = "call", pgettext_lazy("follow-up kind", "电话")
        VISIT = "visit", _("拜访")
        MEETING = "meeting", _("会议")
        EMAIL = "email", _("邮件")
        WECHAT = "wechat", _("微信")
        OTHER = "other", _("其他")

    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    kind = models.CharField(_("方式"), max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("时间"))
    content = models.TextField(_("内容"), max_length=5000)
    outcome = models.CharField(_("结果"), max_length=500, blank=True)
    next_step = models.CharField(_("下一步"), max_length=500, blank=True)
    next_step_at = models.DateTimeField(_("下次跟进时间"), null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("跟进记录")
        verbose_name_plural = _("跟进记录")
        indexes = [models.Index(fields=["object_type", "object_id", "-occurred_at"], name="followup_object")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class Note(models.Model):
    """Free text on a record. Stored as plain text and always rendered escaped."""

    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    body = models.TextField(_("内容"), max_length=10000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("备注")
        verbose_name_plural = _("备注")
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"], name="note_object")]

    def __str__(self) -> str:
        return self.body[:40]


class Todo(models.Model):
    """A task or reminder with a due date for one user, optionally about a record."""

    title = models.CharField(_("标题"), max_length=200)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todos")
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("待办")
        verbose_name_plural = _("待办")
        indexes = [models.Index(fields=["assignee", "done_at", "due_at"], name="todo_assignee_open")]

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-app inbox message; e-mail copies go through Django's mail backend."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.title


class JobRun(models.Model):
    """One run of a background job: status, progress, log and error, shown on the jobs page."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        SUCCEEDED = "succeeded", _("成功")
        FAILED = "failed", _("失败")

    name = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    arguments = models.JSONField(default=dict, blank=True)
    # Periodic occurrences carry a unique key so two schedulers enqueue each occurrence once.
    unique_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} {self.status}"

    @property
    def label(self) -> str:
        return job_label(self.name)

    @property
    def percent(self) -> int:
        return min(100, int(self.progress * 100 / self.total)) if self.total else (100 if self.finished_at else 0)


class CustomField(models.Model):
    """An administrator-defined extra field of one object type; values live in the record's
    `custom` JSON column under `key`."""

    class Kind(models.TextChoices):
        TEXT = "text", _("文本")
        NUMBER = "number", _("整数")
        DECIMAL = "decimal", _("小数")
        DATE = "date", _("日期")
        CHOICE = "choice", _("单选")
        MULTI_CHOICE = "multi_choice", _("多选")
        BOOLEAN = "boolean", _("是/否")

    object_type = models.CharField(_("对象类型"), max_length=50)
    key = models.SlugField(_("字段键"), max_length=50, help_text=_("小写字母、数字和下划线，如 contract_tier"))
    label = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    choices = models.JSONField(_("选项"), default=list, blank=True)
    is_required = models.BooleanField(_("必填"), default=False)
    max_length = models.PositiveIntegerField(_("最大长度"), null=True, blank=True)
    min_value = models.DecimalField(_("最小值"), max_digits=20, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(_("最大值"), max_digits=20, decimal_places=4, null=True, blank=True)
    show_in_list = models.BooleanField(_("列表显示"), default=False)
    position = models.PositiveIntegerField(_("顺序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("自定义字段")
        verbose_name_plural = _("自定义字段")
        ordering = ["object_type", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["object_type", "key"], name="uniq_custom_field_key")]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"


class ImportJob(models.Model):
    """An uploaded CSV/XLSX file on its way in: mapping, dry-run report, committed counts."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        VALIDATED = "validated", _("已校验")
        IMPORTING = "importing", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    object_type = models.CharField(max_length=50)
    file_name = models.CharField(max_length=255)
    content = models.BinaryField()
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # column header -> field key
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)  # [{"row", "field", "message"}] (first 1,000)
    error_count = models.PositiveIntegerField(default=0)
    # Rows that are imported but deserve a look, e.g. possible duplicates (first 1,000).
    warnings = models.JSONField(default=list)
    warning_count = models.PositiveIntegerField(default=0)
    job_run = models.ForeignKey(JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("导入")
        verbose_name_plural = _("导入")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.object_type} import #{self.pk}"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for repeats."""

    key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_user_key")]

    def __str__(self) -> str:
        return self.key

"""Users, departments, roles with per-object permissions and data scopes, sharing, API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    """Which records of an object type a role reaches, widest last."""

    NONE = "none", _("无")
    OWN = "own", _("本人")
    DEPARTMENT = "department", _("本部门")
    SUBTREE = "subtree", _("本部门及下级")
    ALL = "all", _("全部")


SCOPE_ORDER = {
    DataScope.NONE: 0,
    DataScope.OWN: 1,
    DataScope.DEPARTMENT: 2,
    DataScope.SUBTREE: 3,
    DataScope.ALL: 4,
}


class Action(models.TextChoices):
    """Actions a role permission grants on one object type."""

    VIEW = "view", _("查看")
    CREATE = "create", _("新建")
    EDIT = "edit", _("编辑")
    DELETE = "delete", _("删除")
    EXPORT = "export", _("导出")
    IMPORT = "import", _("导入")
    TRANSFER = "transfer", _("转移")


class Department(models.Model):
    """A node of the organisation tree. `path` is the materialised path of ids ("/1/4/") so
    "this department and below" is one indexed prefix query."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    manager = models.ForeignKey(
        "identity.User", verbose_name=_("负责人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="managed_departments",
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """A named bundle of per-object-type permissions; users may hold several (effects add up)."""

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=255, blank=True)
    is_builtin = models.BooleanField(_("内置"), default=False)

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    """What one role may do with one object type, and on which records (its data scope)."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    object_type = models.CharField(_("对象类型"), max_length=50)
    scope = models.CharField(_("数据范围"), max_length=20, choices=DataScope.choices, default=DataScope.OWN)
    can_view = models.BooleanField(_("查看"), default=True)
    can_create = models.BooleanField(_("新建"), default=False)
    can_edit = models.BooleanField(_("编辑"), default=False)
    can_delete = models.BooleanField(_("删除"), default=False)
    can_export = models.BooleanField(_("导出"), default=False)
    can_import = models.BooleanField(_("导入"), default=False)
    can_transfer = models.BooleanField(_("转移"), default=False)

    class Meta:
        verbose_name = _("角色权限")
        verbose_name_plural = _("角色权限")
        constraints = [
            models.UniqueConstraint(fields=["role", "object_type"], name="uniq_role_object_type"),
        ]

    def __str__(self) -> str:
        return f"{self.role} · {self.object_type} · {self.scope}"

    def allows(self, action: str) -> bool:
        return bool(getattr(self, f"can_{action}", False))


class L2CUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        """Log in by username or e-mail (case-insensitive e-mail)."""
        try:
            return self.get(username=username)
        except self.model.DoesNotExist:
            if not username or "@" not in username:
                raise
            return self.get(email__iexact=username)


class User(AbstractUser):
    """A person who logs in: sales staff, finance, admins. Belongs to one department."""

    display_name = models.CharField(_("姓名"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="members",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("角色"), blank=True, related_name="users")
    mobile = models.CharField(_("手机"), max_length=30, blank=True)
    language = models.CharField(_("界面语言"), max_length=10, blank=True)

    objects = L2CUserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.UniqueConstraint(
                "email", condition=~Q(email=""), name="uniq_user_email_when_set",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username


class ShareAccess(models.TextChoices):
    READ = "read", _("只读")
    EDIT = "edit", _("可编辑")


class Share(models.Model):
    """A record of any object type shared with one user or one department."""

    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    access = models.CharField(max_length=10, choices=ShareAccess.choices, default=ShareAccess.READ)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("共享")
        verbose_name_plural = _("共享")
        indexes = [
            models.Index(fields=["object_type", "user"], name="share_type_user"),
            models.Index(fields=["object_type", "department"], name="share_type_department"),
            models.Index(fields=["object_type", "object_id"], name="share_type_object"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, department__isnull=True)
                           | Q(user__isnull=True, department__isnull=False)),
                name="share_exactly_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}#{self.object_id} → {self.user or self.department} ({self.access})"


class OwnershipTransfer(models.Model):
    """History of owner changes of any record (single or bulk transfer, claim, reclaim)."""

    object_type = models.CharField(max_length=50)
    object_id = models.BigIntegerField()
    from_user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    to_user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=255, blank=True)
    # How the owner changed: transfer, claim, release, assign, reclaim, import, merge (free text so
    # higher apps can add paths without a migration here).
    via = models.CharField(max_length=20, blank=True, default="transfer")
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id", "created_at"], name="transfer_object")]

    def __str__(self) -> str:
        return f"{self.object_type}#{self.object_id}: {self.from_user_id} → {self.to_user_id}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the secret is stored; the prefix identifies it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class LoginThrottle(models.Model):
    """Failed log-in attempts per key ("user:<name>" or "ip:<addr>"); shared by all web processes."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"

"""Writes for identity: departments, users, built-in roles, API tokens, log-in throttling."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.db.prepared import PreparedQuery
from l2c.kernel.errors import FieldError, NotFound, ValidationFailed

from . import access
from .defaults import BUILTIN_ROLES
from .models import ApiToken, Department, LoginThrottle, Role, RolePermission, User

TOKEN_PREFIX = "l2c_"  # noqa: S105 - a public marker, not a secret
TOKEN_NAME_MAX_LENGTH = 100


# --- departments ----------------------------------------------------------------------------------
@transaction.atomic
def department_create(*, name: str, parent_id: int | None = None, manager_id: int | None = None) -> Department:
    name = name.strip()
    if not name:
        raise ValidationFailed(_("部门名称不能为空。"), errors=[FieldError("name", _("此项为必填项。"), "required")])
    parent = Department.objects.filter(pk=parent_id).first() if parent_id else None
    if parent_id and parent is None:
        raise ValidationFailed(_("上级部门不存在。"), errors=[
            FieldError("parent_id", _("没有 ID 为 %(id)s 的部门。") % {"id": parent_id}, "not_found")])
    department = Department.objects.create(name=name, parent=parent, manager_id=manager_id)
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    return department


@transaction.atomic
def department_move(*, department_id: int, parent_id: int | None) -> Department:
    """Re-parent a department; the paths of the whole subtree follow. Cycles are rejected."""
    department = Department.objects.select_for_update().get(pk=department_id)
    parent = Department.objects.filter(pk=parent_id).first() if parent_id else None
    if parent is not None and parent.path.startswith(department.path):
        raise ValidationFailed(
            _("部门不能移到它自己或它的下级部门之下。"), errors=[FieldError("parent_id", _("会形成循环。"), "cycle")]
        )
    old_path = department.path
    new_path = f"{parent.path if parent else '/'}{department.pk}/"
    for node in Department.objects.filter(path__startswith=old_path):
        node.path = new_path + node.path[len(old_path):]
        node.save(update_fields=["path"])
    Department.objects.filter(pk=department.pk).update(parent=parent)
    department.refresh_from_db()
    return department


def department_path_fix(*, department: Department) -> None:
    """Recompute the path of a department saved outside the services (e.g. in Django admin)."""
    parent_path = department.parent.path if department.parent_id and department.parent else "/"
    expected = f"{parent_path}{department.pk}/"
    if department.path != expected:
        department_move(department_id=department.pk, parent_id=department.parent_id)


# --- roles ----------------------------------------------------------------------------------------
def roles_ensure_builtin() -> None:
    """Create missing built-in roles and the default grants of every registered object type.

    Never overrides what an administrator changed: only missing rows are created.
    """
    roles = {}
    for code, (name, description) in BUILTIN_ROLES.items():
        role, _created = Role.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "is_builtin": True}
        )
        roles[code] = role
    existing = set(RolePermission.objects.values_list("role__code", "object_type"))
    new_rows = []
    for spec in access.object_types():
        for code, (scope, actions) in spec.default_grants.items():
            if code not in roles or (code, spec.key) in existing:
                continue
            flags = {f"can_{action}": action in actions for action in access.ALL_ACTIONS}
            new_rows.append(RolePermission(role=roles[code], object_type=spec.key, scope=scope, **flags))
    RolePermission.objects.bulk_create(new_rows)


# --- users ----------------------------------------------------------------------------------------
@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    department_id: int | None = None,
    role_codes: list[str] | tuple[str, ...] = (),
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    errors = []
    if not username.strip():
        errors.append(FieldError("username", _("此项为必填项。"), "required"))
    elif User.objects.filter(username=username).exists():
        errors.append(FieldError("username", _("用户名“%(username)s”已被占用。") % {"username": username}, "taken"))
    if email and User.objects.filter(email__iexact=email).exists():
        errors.append(FieldError("email", _("电子邮箱“%(email)s”已被占用。") % {"email": email}, "taken"))
    roles = list(Role.objects.filter(code__in=role_codes))
    missing = set(role_codes) - {role.code for role in roles}
    if missing:
        errors.append(FieldError("role_codes", _("未知的角色：%(roles)s。") % {"roles": ", ".join(sorted(missing))},
                                 "unknown_role"))
    if errors:
        raise ValidationFailed(_("无法创建用户。"), errors=errors)
    user = User(
        username=username, display_name=display_name, email=email, department_id=department_id,
        is_staff=is_staff or is_superuser, is_superuser=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.roles.set(roles)
    return user


# --- API tokens -----------------------------------------------------------------------------------
def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and never stored."""
    name = name.strip()
    if not name:
        raise ValidationFailed(_("令牌需要一个名称。"), errors=[FieldError("name", _("此项为必填项。"), "required")])
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        counts = {"limit": TOKEN_NAME_MAX_LENGTH, "count": len(name)}
        message = _("最多 %(limit)s 个字符（现有 %(count)s 个）。") % counts
        raise ValidationFailed(_("令牌名称太长。"), errors=[FieldError("name", message, "too_long")])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[: len(TOKEN_PREFIX) + 6], token_hash=_hash_token(secret),
        expires_at=expires_at,
    )
    return token, secret


def api_token_revoke(*, token_id: int, user: User) -> ApiToken:
    updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound(_("你没有 ID 为 %(id)s 的 API 令牌。") % {"id": token_id})
    if not updated and token.revoked_at is None:  # pragma: no cover - defensive
        raise NotFound(_("你没有 ID 为 %(id)s 的 API 令牌。") % {"id": token_id})
    return token


# The token check runs on every API request: one prepared query reads the token and its user.
_USER_COLUMNS = tuple(field.attname for field in User._meta.concrete_fields)
_TOKEN_AND_USER = PreparedQuery(
    lambda token_hash: ApiToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True).values_list(
        "pk", "expires_at", "last_used_at", *(f"user__{column}" for column in _USER_COLUMNS))[:1],
    token_hash=str,
)


def api_token_authenticate(*, secret: str) -> User | None:
    """The active user behind a bearer secret, or None. Revoked or expired tokens fail at once."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    rows = _TOKEN_AND_USER.rows(token_hash=_hash_token(secret))
    if not rows:
        return None
    token_id, expires_at, last_used_at, *user_values = rows[0]
    user = User.from_db(DEFAULT_DB_ALIAS, list(_USER_COLUMNS), user_values)
    if not user.is_active:
        return None
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        return None
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user


# --- log-in throttling ----------------------------------------------------------------------------
def _throttle_keys(username: str, ip: str | None) -> list[str]:
    # One key per account whether it is named by username or by e-mail (the log-in accepts both),
    # so switching between them does not earn fresh attempts.
    name = username.strip()
    if "@" in name and not User.objects.filter(username=name).exists():
        name = User.objects.filter(email__iexact=name).values_list("username", flat=True).first() or name
    keys = [f"user:{name.lower()[:150]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def login_locked_until(*, username: str, ip: str | None) -> datetime | None:
    """When the lock on this username (or this client address) ends, if locked now."""
    now = timezone.now()
    rows = LoginThrottle.objects.filter(key__in=_throttle_keys(username, ip), locked_until__gt=now)
    until = [row.locked_until for row in rows if row.locked_until]
    return max(until) if until else None


def login_record_failure(*, username: str, ip: str | None) -> None:
    """Count a failure; the Nth failure within the window locks the key. Per-IP limit is 4× wider."""
    now = timezone.now()
    window = timedelta(seconds=settings.L2C_LOGIN_LOCKOUT_SECONDS)
    for key in _throttle_keys(username, ip):
        limit = settings.L2C_LOGIN_MAX_FAILURES * (4 if key.startswith("ip:") else 1)
        row, _created = LoginThrottle.objects.get_or_create(
            key=key, defaults={"failures": 0, "window_started_at": now}
        )
        if row.window_started_at < now - window:
            LoginThrottle.objects.filter(pk=row.pk).update(failures=0, window_started_at=now, locked_until=None)
        LoginThrottle.objects.filter(pk=row.pk).update(failures=F("failures") + 1)
        row.refresh_from_db()
        if row.failures >= limit:
            LoginThrottle.objects.filter(pk=row.pk).update(locked_until=now + window)


def login_record_success(*, username: str) -> None:
    LoginThrottle.objects.filter(key__in=_throttle_keys(username, None)).delete()


def user_summary(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name or user.username,
        "department_id": user.department_id,
        "roles": sorted(user.roles.values_list("code", flat=True)),
    }

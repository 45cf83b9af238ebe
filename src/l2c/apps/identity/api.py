"""REST API for authentication, personal API tokens, the current user, users and departments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.problems import READ_ERRORS, WRITE_ERRORS, errors
from l2c.api.types import InputDatetime
from l2c.kernel.errors import DomainError, FieldError, RateLimited, ValidationFailed

from . import services
from .models import ApiToken, Department, User

router = Router(tags=["identity"])


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    title = "Invalid credentials"


public_router = Router(tags=["identity"])


class TokenRequestIn(Schema):
    username: str = Field(..., min_length=1, max_length=254)
    password: str = Field(..., min_length=1, max_length=200)
    name: str = Field("api", max_length=100)


class TokenCreateIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    expires_at: InputDatetime | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenSecretOut(TokenOut):
    token: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    department_id: int | None
    roles: list[str]


class DepartmentOut(Schema):
    id: int
    name: str
    parent_id: int | None
    manager_id: int | None


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _token_out(token: ApiToken, secret: str | None = None) -> dict[str, Any]:
    body = {field: getattr(token, field) for field in
            ("id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")}
    if secret:
        body["token"] = secret
    return body


@public_router.post("/auth/token", response={201: TokenSecretOut, **errors(401, 422, 429)}, auth=None,
                    summary="Exchange username + password for a personal API token (rate limited)")
def obtain_token(request: HttpRequest, payload: TokenRequestIn) -> Any:
    ip = client_ip(request)
    locked_until = services.login_locked_until(username=payload.username, ip=ip)
    if locked_until is not None:
        seconds = max(1, int((locked_until - dt.datetime.now(dt.UTC)).total_seconds()))
        raise RateLimited(_("失败次数太多，请稍后再试。"), retry_after_seconds=seconds)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        services.login_record_failure(username=payload.username, ip=ip)
        raise InvalidCredentials(_("用户名不存在或密码错误。"))
    services.login_record_success(username=payload.username)
    token, secret = services.api_token_create(user=user, name=payload.name)
    return Status(201, _token_out(token, secret))


@router.get("/me", response={200: UserOut, **READ_ERRORS}, summary="The calling user")
def me(request: HttpRequest) -> Any:
    return services.user_summary(request.user)


@router.get("/users", response={200: list[UserOut], **READ_ERRORS}, summary="Active users (for owner pickers)")
def list_users(request: HttpRequest, q: str = Query("", max_length=50)) -> Any:
    users = User.objects.filter(is_active=True).prefetch_related("roles").order_by("username")
    if q:
        users = users.filter(display_name__icontains=q) | users.filter(username__icontains=q)
    return [{"id": u.pk, "username": u.username, "display_name": u.display_name or u.username,
             "department_id": u.department_id, "roles": sorted(r.code for r in u.roles.all())} for u in users[:500]]


@router.get("/departments", response={200: list[DepartmentOut], **READ_ERRORS}, summary="The department tree")
def list_departments(request: HttpRequest) -> Any:
    return list(Department.objects.order_by("path"))


@router.get("/auth/tokens", response={200: list[TokenOut], **READ_ERRORS}, summary="My API tokens")
def list_tokens(request: HttpRequest) -> Any:
    return [_token_out(token) for token in ApiToken.objects.filter(user=request.user)]


@router.post("/auth/tokens", response={201: TokenSecretOut, **WRITE_ERRORS},
             summary="Create a personal API token (the secret is shown once)")
def create_token(request: HttpRequest, payload: TokenCreateIn) -> Any:
    if payload.expires_at is not None and payload.expires_at <= dt.datetime.now(dt.UTC):
        raise ValidationFailed(_("过期时间已经过去。"),
                               errors=[FieldError("expires_at", _("必须是将来的时间。"), "in_past")])
    token, secret = services.api_token_create(user=request.user, name=payload.name, expires_at=payload.expires_at)
    return Status(201, _token_out(token, secret))


@router.delete("/auth/tokens/{token_id}", response={204: None, **WRITE_ERRORS}, summary="Revoke an API token")
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    services.api_token_revoke(token_id=token_id, user=request.user)
    return Status(204, None)

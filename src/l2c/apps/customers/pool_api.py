"""Public pool API (公海): pools, browsing, claim, release, assign, my held accounts, the reclaim job.

Refusals by a pool rule are 409 problems with a stable `code`: already_claimed, claim_quota_reached,
held_cap_reached, claim_cooldown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from l2c.api.pagination import keyset_page
from l2c.api.problems import READ_ERRORS, WRITE_ERRORS
from l2c.api.types import RecordId
from l2c.apps.activity.jobs import job_enqueue
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, NotFound, PermissionDenied, ValidationFailed

from . import pool as pool_service
from .api import AccountOut
from .models import Pool

router = Router(tags=["pools"])
account_router = Router(tags=["pools"])

RULE_HELP = {
    "reclaim_no_followup_days": "reclaim after N days without a follow-up (null: off)",
    "protection_days": "days to win a deal after a claim (null: off)",
    "protection_extension_days": "days added to the protection period per follow-up",
    "protection_max_days": "the protection period never exceeds this (null: no maximum)",
    "max_held_per_rep": "most accounts one user may hold under this pool (null: no cap)",
    "daily_claim_quota": "most claims per user per day from this pool (null: no quota)",
    "reclaim_cooldown_days": "days before a previous owner may claim the account again (0 lets a rep restart "
                             "a hold by releasing and re-claiming)",
    "reminder_days": "remind the holder this many days before the reclaim",
}


class PoolIn(Schema):
    name: str = Field(..., max_length=100)
    description: str = ""
    is_active: bool = True
    member_user_ids: list[RecordId] = []
    member_department_ids: list[RecordId] = []
    include_subdepartments: bool = True
    reclaim_no_followup_days: int | None = Field(None, description=RULE_HELP["reclaim_no_followup_days"])
    protection_days: int | None = Field(None, description=RULE_HELP["protection_days"])
    protection_extension_days: int = Field(0, description=RULE_HELP["protection_extension_days"])
    protection_max_days: int | None = Field(None, description=RULE_HELP["protection_max_days"])
    max_held_per_rep: int | None = Field(None, description=RULE_HELP["max_held_per_rep"])
    daily_claim_quota: int | None = Field(None, description=RULE_HELP["daily_claim_quota"])
    reclaim_cooldown_days: int = Field(7, description=RULE_HELP["reclaim_cooldown_days"])
    reminder_days: int = Field(3, description=RULE_HELP["reminder_days"])
    visible_fields: list[str] = Field(list(pool_service.POOL_DEFAULT_VISIBLE_FIELDS),
                                      description="fields members see before claiming: "
                                      + ", ".join(pool_service.POOL_SHOWABLE_FIELDS))


class PoolPatch(Schema):
    name: str | None = Field(None, max_length=100)
    description: str | None = None
    is_active: bool | None = None
    member_user_ids: list[RecordId] | None = None
    member_department_ids: list[RecordId] | None = None
    include_subdepartments: bool | None = None
    reclaim_no_followup_days: int | None = None
    protection_days: int | None = None
    protection_extension_days: int | None = None
    protection_max_days: int | None = None
    max_held_per_rep: int | None = None
    daily_claim_quota: int | None = None
    reclaim_cooldown_days: int | None = None
    reminder_days: int | None = None
    visible_fields: list[str] | None = None


class PoolOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    include_subdepartments: bool
    member_user_ids: list[int]
    member_department_ids: list[int]
    reclaim_no_followup_days: int | None
    protection_days: int | None
    protection_extension_days: int
    protection_max_days: int | None
    max_held_per_rep: int | None
    daily_claim_quota: int | None
    reclaim_cooldown_days: int
    reminder_days: int
    visible_fields: list[str]
    version: int

    @staticmethod
    def resolve_member_user_ids(obj: Pool) -> list[int]:
        return sorted(user.pk for user in obj.member_users.all())

    @staticmethod
    def resolve_member_department_ids(obj: Pool) -> list[int]:
        return sorted(department.pk for department in obj.member_departments.all())


class PoolSummaryOut(Schema):
    pool: PoolOut
    pooled: int = Field(description="accounts lying in the pool now")
    held: int = Field(description="accounts you hold under this pool")
    claimed_today: int


class PooledAccountOut(Schema):
    """An account lying in a pool, as members see it before claiming: fields the pool does not show
    are null."""

    id: int
    name: str | None = None
    short_name: str | None = None
    industry: str | None = None
    size: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    level: str | None = None
    source: str | None = None
    status: str | None = None
    last_followed_up_at: dt.datetime | None = None
    registered_capital: Decimal | None = None
    founded_on: dt.date | None = None
    pool_entered_at: dt.datetime | None = None


class PoolAccountFilters(Schema):
    q: str | None = Field(None, max_length=100)
    industry: str | None = None
    province: str | None = None
    city: str | None = None
    level: str | None = None
    size: str | None = None


class HeldAccountOut(Schema):
    id: int
    name: str
    pool_id: int
    pool_name: str
    held_since: dt.datetime | None
    reclaim_due_at: dt.datetime | None
    days_left: int | None = Field(description="whole days until the reclaim; null without a deadline")


class ReleaseIn(Schema):
    reason: str = Field(..., max_length=255)
    pool_id: RecordId | None = Field(None, description="the pool to release into; default: the account's pool")


class AssignIn(Schema):
    account_ids: list[RecordId] = Field(..., max_length=1000)
    to_user_id: RecordId


def _pool_out(pool: Pool) -> Pool:
    return Pool.objects.prefetch_related("member_users", "member_departments").get(pk=pool.pk)


# --- pools --------------------------------------------------------------------------------------------
@router.get("", response={200: list[PoolSummaryOut], **READ_ERRORS}, summary="Pools you are a member of")
def list_pools(request: HttpRequest) -> Any:
    summaries = pool_service.pool_summaries(request.user)
    pools = {pool.pk: pool for pool in Pool.objects.prefetch_related("member_users", "member_departments")
             .filter(pk__in=[summary["pool"].pk for summary in summaries])}
    return [{**summary, "pool": pools[summary["pool"].pk]} for summary in summaries]


@router.post("", response={201: PoolOut, **WRITE_ERRORS}, summary="Create a pool (admins)")
def create_pool(request: HttpRequest, payload: PoolIn) -> Any:
    pool = pool_service.pool_save(actor=request.user, data=payload.model_dump())
    return Status(201, _pool_out(pool))


@router.get("/held", response={200: list[HeldAccountOut], **READ_ERRORS},
            summary="Accounts you hold under a pool's rules, the ones due soonest first")
def held(request: HttpRequest) -> Any:
    return [{"id": account.pk, "name": account.name, "pool_id": account.pool_id, "pool_name": account.pool.name,
             "held_since": account.held_since, "reclaim_due_at": account.reclaim_due_at,
             "days_left": pool_service.days_left(account)}
            for account in pool_service.held_accounts(request.user)[:1000]]


@router.post("/reclaim", response={202: dict[str, int], **WRITE_ERRORS},
             summary="Run the reclaim job now (admins); it also runs every hour")
def reclaim_now(request: HttpRequest) -> Any:
    if not access.is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以立即执行回收。"))
    from .pool_tasks import pool_reclaim

    run = job_enqueue(task=pool_reclaim, name="customers.pool_reclaim", actor=request.user)
    return Status(202, {"job_run_id": run.pk if run else 0})


@router.get("/{pool_id}", response={200: PoolOut, **READ_ERRORS}, summary="One pool")
def get_pool(request: HttpRequest, pool_id: RecordId) -> Any:
    return _pool_out(pool_service.pool_for_member(request.user, pool_id))


@router.patch("/{pool_id}", response={200: PoolOut, **WRITE_ERRORS}, summary="Change a pool (admins)")
def update_pool(request: HttpRequest, pool_id: RecordId, payload: PoolPatch) -> Any:
    data = payload.model_dump(exclude_unset=True)
    pool = pool_service.pool_save(actor=request.user, data=data, pool_id=pool_id)
    return _pool_out(pool)


class PooledAccountPage(Schema):
    items: list[PooledAccountOut]
    next_cursor: str | None
    previous_cursor: str | None


@router.get("/{pool_id}/accounts", response={200: PooledAccountPage, **READ_ERRORS},
            summary="Accounts lying in a pool, newest first (only the fields the pool shows before a claim)")
def pool_accounts(request: HttpRequest, pool_id: RecordId, filters: Query[PoolAccountFilters],
                  cursor: str | None = None, limit: int = 50) -> Any:
    pool = pool_service.pool_for_member(request.user, pool_id)
    accounts = pool_service.pool_accounts(user=request.user, pool=pool, q=filters.q or "",
                                          filters=filters.model_dump(exclude={"q"}, exclude_none=True))
    rows = accounts.order_by().values(*pool_service.visible_fields(pool), "pool_entered_at")
    page = keyset_page(rows, sort="-id", allowed_sorts={"-id": "-id"}, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/{pool_id}/accounts/{account_id}/claim", response={200: AccountOut, **WRITE_ERRORS},
             summary="Claim an account (409 already_claimed / claim_quota_reached / held_cap_reached / "
                     "claim_cooldown)")
def claim(request: HttpRequest, pool_id: RecordId, account_id: RecordId) -> Any:
    pool = pool_service.pool_for_member(request.user, pool_id)
    if not pool.accounts.filter(pk=account_id).exists():
        raise NotFound(_("公海“%(pool)s”中没有 ID 为 %(id)s 的客户。") % {"pool": pool.name, "id": account_id})
    return pool_service.pool_claim(actor=request.user, account_id=account_id)


@router.post("/{pool_id}/assign", response={200: dict[str, int], **WRITE_ERRORS},
             summary="Assign pooled accounts to a user (managers; all or nothing)")
def assign(request: HttpRequest, pool_id: RecordId, payload: AssignIn) -> Any:
    pool = pool_service.pool_for_member(request.user, pool_id)
    to_user = User.objects.filter(pk=payload.to_user_id, is_active=True).first()
    if to_user is None:
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("to_user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": payload.to_user_id}, "not_found")])
    outside = set(payload.account_ids) - set(pool.accounts.filter(pk__in=payload.account_ids)
                                             .values_list("pk", flat=True))
    if outside:
        raise NotFound(_("这些客户不在公海“%(pool)s”中：%(ids)s；没有分配任何客户。")
                       % {"pool": pool.name, "ids": ", ".join(map(str, sorted(outside)[:20]))})
    count = pool_service.pool_assign(actor=request.user, account_ids=payload.account_ids, to_user=to_user)
    return {"assigned": count}


@account_router.post("/accounts/{account_id}/release", response={200: AccountOut, **WRITE_ERRORS},
                     summary="Release a held account to a pool, with a reason")
def release(request: HttpRequest, account_id: RecordId, payload: ReleaseIn) -> Any:
    return pool_service.pool_release(actor=request.user, account_id=account_id, reason=payload.reason,
                                     pool_id=payload.pool_id)

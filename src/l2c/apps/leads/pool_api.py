"""Lead pool API (线索池): pools, browsing, claim (single and bulk), release, manager assign, held
leads, the reclaim job.

Refusals by a pool rule are 409 problems with a stable `code`: already_claimed, claim_quota_reached,
held_cap_reached, claim_cooldown. A pool the caller is not a member of, or a lead not in it, is 404."""

from __future__ import annotations

import datetime as dt
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
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

from . import pools as pool_service
from .models import Lead, LeadPool

router = Router(tags=["lead pools"])

RULE_HELP = {
    "reclaim_after_days": "return a held lead to the pool after N days without activity (null: never)",
    "max_held_per_rep": "most leads one user may hold under this pool (null: no cap)",
    "daily_claim_quota": "most claims per user per day from this pool (null: no quota)",
    "reclaim_cooldown_days": "days before a previous owner may claim the lead again",
    "reminder_days": "remind the holder this many days before the reclaim (0: no reminder)",
}
BROWSE_FIELDS = ("id", "name", "company", "title", "province", "city", "industry", "size", "source", "status",
                 "score", "score_band", "pool_entered_at")


class LeadPoolIn(Schema):
    name: str = Field(..., max_length=100)
    description: str = Field("", max_length=500)
    is_active: bool = True
    member_user_ids: list[RecordId] = Field([], max_length=1000)
    member_department_ids: list[RecordId] = Field([], max_length=1000)
    include_subdepartments: bool = True
    reclaim_after_days: int | None = Field(None, description=RULE_HELP["reclaim_after_days"])
    max_held_per_rep: int | None = Field(None, description=RULE_HELP["max_held_per_rep"])
    daily_claim_quota: int | None = Field(None, description=RULE_HELP["daily_claim_quota"])
    reclaim_cooldown_days: int = Field(0, description=RULE_HELP["reclaim_cooldown_days"])
    reminder_days: int = Field(1, description=RULE_HELP["reminder_days"])


class LeadPoolPatch(Schema):
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=500)
    is_active: bool | None = None
    member_user_ids: list[RecordId] | None = Field(None, max_length=1000)
    member_department_ids: list[RecordId] | None = Field(None, max_length=1000)
    include_subdepartments: bool | None = None
    reclaim_after_days: int | None = None
    max_held_per_rep: int | None = None
    daily_claim_quota: int | None = None
    reclaim_cooldown_days: int | None = None
    reminder_days: int | None = None


class LeadPoolOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    include_subdepartments: bool
    member_user_ids: list[int]
    member_department_ids: list[int]
    reclaim_after_days: int | None
    max_held_per_rep: int | None
    daily_claim_quota: int | None
    reclaim_cooldown_days: int
    reminder_days: int
    version: int

    @staticmethod
    def resolve_member_user_ids(obj: LeadPool) -> list[int]:
        return sorted(user.pk for user in obj.member_users.all())

    @staticmethod
    def resolve_member_department_ids(obj: LeadPool) -> list[int]:
        return sorted(department.pk for department in obj.member_departments.all())


class LeadPoolSummaryOut(Schema):
    pool: LeadPoolOut
    pooled: int = Field(description="leads lying in the pool now")
    held: int = Field(description="leads you hold under this pool")
    claimed_today: int


class PooledLeadOut(Schema):
    """A lead lying in a pool, as members browse it (no contact data in the list)."""

    id: int
    name: str
    company: str
    title: str
    province: str
    city: str
    industry: str
    size: str
    source: str
    status: str
    score: int
    score_band: str
    pool_entered_at: dt.datetime | None


class PooledLeadPage(Schema):
    items: list[PooledLeadOut]
    next_cursor: str | None
    previous_cursor: str | None


class PoolLeadFilters(Schema):
    q: str | None = Field(None, max_length=100, description="part of the person's or the company's name")
    score_band: str | None = Field(None, max_length=1)
    source: str | None = Field(None, max_length=20)
    province: str | None = Field(None, max_length=30)
    industry: str | None = Field(None, max_length=1)
    status: str | None = Field(None, max_length=20)


class LeadHoldOut(Schema):
    """A lead's ownership under the pool rules after a claim, release or assignment."""

    id: int
    owner_id: int | None
    department_id: int | None
    pool_id: int | None
    held_since: dt.datetime | None
    pool_entered_at: dt.datetime | None
    reclaim_due_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    version: int


class HeldLeadOut(Schema):
    id: int
    name: str
    company: str
    pool_id: int
    pool_name: str
    held_since: dt.datetime | None
    last_activity_at: dt.datetime | None
    reclaim_due_at: dt.datetime | None
    days_left: int | None = Field(description="whole days until the reclaim; null without a deadline")


class ReleaseIn(Schema):
    reason: str = Field(..., max_length=255)
    pool_id: RecordId | None = Field(None, description="the pool to release into; default: the lead's pool")


class AssignIn(Schema):
    lead_ids: list[RecordId] = Field(..., min_length=1, max_length=1000)
    to_user_id: RecordId


class BulkClaimIn(Schema):
    lead_ids: list[RecordId] = Field(..., min_length=1, max_length=100)


class BulkClaimOut(Schema):
    claimed: int
    outcomes: dict[str, str] = Field(description="lead id → ok, already_claimed, claim_quota_reached, "
                                                 "held_cap_reached, claim_cooldown or not_found")


def _pool_out(pool: LeadPool) -> LeadPool:
    return LeadPool.objects.prefetch_related("member_users", "member_departments").get(pk=pool.pk)


# --- pools ------------------------------------------------------------------------------------------
@router.get("/lead-pools", response={200: list[LeadPoolSummaryOut], **READ_ERRORS},
            summary="Lead pools you are a member of, with counts")
def list_pools(request: HttpRequest) -> Any:
    if not access.can(request.user, "lead", "view"):
        return []
    summaries = pool_service.lead_pool_summaries(request.user)
    pools = {pool.pk: pool for pool in LeadPool.objects.prefetch_related("member_users", "member_departments")
             .filter(pk__in=[summary["pool"].pk for summary in summaries])}
    return [{**summary, "pool": pools[summary["pool"].pk]} for summary in summaries]


@router.post("/lead-pools", response={201: LeadPoolOut, **WRITE_ERRORS},
             summary="Create a lead pool (admins, marketing)")
def create_pool(request: HttpRequest, payload: LeadPoolIn) -> Any:
    pool = pool_service.lead_pool_save(actor=request.user, data=payload.model_dump())
    return Status(201, _pool_out(pool))


@router.get("/lead-pools/held", response={200: list[HeldLeadOut], **READ_ERRORS},
            summary="Leads you hold under a pool's rules, the ones due soonest first")
def held(request: HttpRequest) -> Any:
    return [{"id": lead.pk, "name": lead.name, "company": lead.company, "pool_id": lead.pool_id,
             "pool_name": lead.pool.name if lead.pool else "", "held_since": lead.held_since,
             "last_activity_at": lead.last_activity_at, "reclaim_due_at": lead.reclaim_due_at,
             "days_left": pool_service.days_left(lead)}
            for lead in pool_service.held_leads(request.user)[:1000]]


@router.post("/lead-pools/reclaim", response={202: dict[str, int], **WRITE_ERRORS},
             summary="Run the reclaim job now (admins); it also runs every hour")
def reclaim_now(request: HttpRequest) -> Any:
    if not access.is_admin(request.user):
        raise PermissionDenied(_("只有管理员可以立即执行回收。"))
    from .pool_tasks import lead_pools_reclaim_task

    run = job_enqueue(task=lead_pools_reclaim_task, name="leads.pool_reclaim", actor=request.user)
    return Status(202, {"job_run_id": run.pk if run else 0})


@router.get("/lead-pools/{pool_id}", response={200: LeadPoolOut, **READ_ERRORS}, summary="One lead pool")
def get_pool(request: HttpRequest, pool_id: RecordId) -> Any:
    if pool_service.may_manage_routing(request.user):
        pool = LeadPool.objects.filter(pk=pool_id).first()
        if pool is not None:
            return _pool_out(pool)
    return _pool_out(pool_service.lead_pool_for_member(request.user, pool_id))


@router.patch("/lead-pools/{pool_id}", response={200: LeadPoolOut, **WRITE_ERRORS},
              summary="Change a lead pool (admins, marketing)")
def update_pool(request: HttpRequest, pool_id: RecordId, payload: LeadPoolPatch) -> Any:
    pool = pool_service.lead_pool_save(actor=request.user, data=payload.model_dump(exclude_unset=True),
                                       pool_id=pool_id)
    return _pool_out(pool)


@router.get("/lead-pools/{pool_id}/leads", response={200: PooledLeadPage, **READ_ERRORS},
            summary="Unowned leads lying in a pool, newest first")
def pool_leads(request: HttpRequest, pool_id: RecordId, filters: Query[PoolLeadFilters],
               cursor: str | None = None, limit: int = 50) -> Any:
    pool = pool_service.lead_pool_for_member(request.user, pool_id)
    leads = pool_service.pool_leads(pool=pool, q=filters.q or "",
                                    filters=filters.model_dump(exclude={"q"}, exclude_none=True))
    page = keyset_page(leads.order_by().values(*BROWSE_FIELDS), sort="-id", allowed_sorts={"-id": "-id"},
                       cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor, "previous_cursor": page.previous_cursor}


@router.post("/lead-pools/{pool_id}/claim", response={200: BulkClaimOut, **WRITE_ERRORS},
             summary="Claim several pooled leads; each claim stands alone (see outcomes)")
def bulk_claim(request: HttpRequest, pool_id: RecordId, payload: BulkClaimIn) -> Any:
    pool = pool_service.lead_pool_for_member(request.user, pool_id)
    inside = set(Lead.objects.filter(pk__in=payload.lead_ids, pool=pool).values_list("pk", flat=True))
    outcomes = {lead_id: "not_found" for lead_id in payload.lead_ids if lead_id not in inside}
    outcomes.update(pool_service.leads_claim(actor=request.user, lead_ids=sorted(inside)))
    return {"claimed": sum(1 for outcome in outcomes.values() if outcome == "ok"),
            "outcomes": {str(lead_id): outcome for lead_id, outcome in sorted(outcomes.items())}}


@router.post("/lead-pools/{pool_id}/assign", response={200: dict[str, int], **WRITE_ERRORS},
             summary="Assign pooled leads to a user (transfer permission; all or nothing; the cap applies)")
def assign(request: HttpRequest, pool_id: RecordId, payload: AssignIn) -> Any:
    to_user = User.objects.filter(pk=payload.to_user_id, is_active=True).first()
    if to_user is None:
        pool_service.lead_pool_for_member(request.user, pool_id)
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("to_user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": payload.to_user_id}, "not_found")])
    count = pool_service.leads_pool_assign(actor=request.user, pool_id=pool_id, lead_ids=payload.lead_ids,
                                           to_user=to_user)
    return {"assigned": count}


# --- one lead ---------------------------------------------------------------------------------------
@router.post("/leads/{lead_id}/claim", response={200: LeadHoldOut, **WRITE_ERRORS},
             summary="Claim a pooled lead (409 already_claimed / claim_quota_reached / held_cap_reached / "
                     "claim_cooldown)")
def claim(request: HttpRequest, lead_id: RecordId) -> Any:
    return pool_service.lead_claim(actor=request.user, lead_id=lead_id)


@router.post("/leads/{lead_id}/release", response={200: LeadHoldOut, **WRITE_ERRORS},
             summary="Release a held lead into a pool, with a reason")
def release(request: HttpRequest, lead_id: RecordId, payload: ReleaseIn) -> Any:
    return pool_service.lead_release(actor=request.user, lead_id=lead_id, reason=payload.reason,
                                     pool_id=payload.pool_id)

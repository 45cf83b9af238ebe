"""Writes of campaigns (市场活动, ADR 0004): the campaign tree, status lifecycle, cost items and members.

Invariants:
- `path` is the materialised path of ids ("/3/17/"); re-parenting rewrites the whole subtree's paths
  in one UPDATE. A campaign is never its own ancestor; the tree is at most MAX_DEPTH levels deep.
- Status only moves forward along planned → inviting → registration_open → in_progress →
  completed → closed (steps may be skipped); closed is final. Members of a closed campaign no
  longer change.
- A member is a lead or a contact, once per campaign; its status moves invited → registered →
  checked_in (or no_show after the event) and each status stamps its own time. Inviting,
  registering and checking in twice change nothing (idempotent).
- Every change writes an audit event on the campaign (bulk member changes: one event per call).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, jsonable
from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers.rfm import clean_amount_minor, clean_currency
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed

from .models import (
    Campaign,
    CampaignCost,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
    MemberSource,
    MemberStatus,
)
from .selectors import campaign_get, depth_of, lead_model

MAX_DEPTH = 8  # levels below a top-level campaign; the path column (255 characters) holds far more
MAX_BULK_MEMBERS = 20_000
STATUS_ORDER = list(CampaignStatus.values)
# Which statuses accept registrations on the public page (and check-ins at the door).
REGISTRATION_STATUSES = (CampaignStatus.REGISTRATION_OPEN, CampaignStatus.IN_PROGRESS)
# Which statuses accept check-ins at the door (the check-in link and the per-member button).
CHECKIN_STATUSES = (CampaignStatus.REGISTRATION_OPEN, CampaignStatus.IN_PROGRESS)
# After the event (or while it runs) the members who did not come may be marked no-show.
NO_SHOW_STATUSES = (CampaignStatus.IN_PROGRESS, CampaignStatus.COMPLETED)
# Fields the public registration form may ask (Lead field names) and their maximum lengths.
REGISTRATION_FIELD_LENGTHS = {
    "name": 100, "company": 200, "title": 100, "mobile": 30, "phone": 40, "email": 254, "wechat": 100,
    "province": 30, "city": 30, "industry": 1, "size": 20, "description": 2000,
}
DEFAULT_REGISTRATION_FIELDS = [{"field": "name", "required": True}, {"field": "company", "required": True},
                               {"field": "mobile", "required": True}, {"field": "email", "required": False},
                               {"field": "title", "required": False}]
TEXT_LIMITS = {"name": 200, "location": 200, "description": 5000}
CAMPAIGN_AUDIT_FIELDS = ("name", "kind", "is_online", "status", "parent", "starts_on", "ends_on", "location",
                         "description", "budget_amount", "currency", "owner", "department", "registration_enabled",
                         "registration_fields", "registration_capacity")


def new_token() -> str:
    """A random URL-safe secret (32 characters) for public and check-in links."""
    return secrets.token_urlsafe(24)


def allowed_next_statuses(status: str) -> list[str]:
    """Every later status of the lifecycle; none after closed."""
    if status not in STATUS_ORDER:
        return []
    return STATUS_ORDER[STATUS_ORDER.index(status) + 1:]


def registration_is_open(campaign: Campaign) -> bool:
    return campaign.registration_enabled and campaign.status in REGISTRATION_STATUSES


def registration_fields_of(campaign: Campaign) -> list[dict[str, Any]]:
    """The campaign's form fields in order; the name is always asked and required."""
    fields = campaign.registration_fields or DEFAULT_REGISTRATION_FIELDS
    result = [{"field": "name", "required": True}]
    result += [{"field": item["field"], "required": bool(item.get("required"))} for item in fields
               if item.get("field") in REGISTRATION_FIELD_LENGTHS and item.get("field") != "name"]
    return result


# --- cleaning ---------------------------------------------------------------------------------------
def _clean_date(raw: Any, field: str, errors: list[FieldError]) -> dt.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        errors.append(FieldError(field, _("“%(value)s”不是有效的日期，请使用 2026-03-01 这样的格式")
                                 % {"value": str(raw)[:30]}, "invalid"))
        return None


def clean_money(raw: Any, currency: str, field: str, errors: list[FieldError], *,
                allow_empty: bool = False) -> int | None:
    """Yuan (Decimal text, "12,800.00") → fen; never negative."""
    if raw in (None, "") and allow_empty:
        return None
    if isinstance(raw, Decimal | int) and not isinstance(raw, bool):
        raw = str(raw)
    try:
        amount = clean_amount_minor(raw if raw not in (None, "") else "0", currency)
    except ValueError as error:
        errors.append(FieldError(field, str(error), "invalid"))
        return None
    if amount < 0:
        errors.append(FieldError(field, _("金额不能为负数。"), "negative"))
        return None
    return amount


def clean_registration_fields(raw: Any, errors: list[FieldError]) -> list[dict[str, Any]]:
    """A list of {"field", "required"} from the allowed fields, each at most once. The person must be
    reachable: mobile or e-mail is asked and required."""
    if not isinstance(raw, list):
        errors.append(FieldError("registration_fields", _("报名字段必须是列表。"), "invalid"))
        return []
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        name = item.get("field") if isinstance(item, Mapping) else item
        if name not in REGISTRATION_FIELD_LENGTHS:
            message = _("不支持的报名字段“%(field)s”，可选：%(allowed)s。") % {
                "field": str(name)[:30], "allowed": ", ".join(REGISTRATION_FIELD_LENGTHS)}
            errors.append(FieldError(f"registration_fields.{index}", message, "invalid_choice"))
            continue
        if name in seen:
            continue
        seen.add(name)
        required = bool(item.get("required")) if isinstance(item, Mapping) else False
        cleaned.append({"field": name, "required": True if name == "name" else required})
    if cleaned and not any(item["field"] in ("mobile", "email") and item["required"] for item in cleaned):
        errors.append(FieldError("registration_fields", _("报名表必须要求填写手机或邮箱，才能联系报名人并查重。"),
                                 "contact_required"))
    return cleaned


def _clean_campaign(actor: User, data: Mapping[str, Any], campaign: Campaign | None) -> tuple[dict[str, Any],
                                                                                             list[FieldError]]:
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    for name, limit in TEXT_LIMITS.items():
        if name not in data and not (campaign is None and name == "name"):
            continue
        value = str(data.get(name) or "").strip()
        if name == "name" and not value:
            errors.append(FieldError("name", _("此项为必填项。"), "required"))
        elif len(value) > limit:
            errors.append(FieldError(name, _("最多 %(limit)s 个字符。") % {"limit": limit}, "too_long"))
        cleaned[name] = value
    if "kind" in data:
        kind = data.get("kind") or CampaignKind.OTHER
        if kind not in CampaignKind.values:
            message = _("必须是以下之一：%(values)s。") % {"values": ", ".join(CampaignKind.values)}
            errors.append(FieldError("kind", message, "invalid_choice"))
        cleaned["kind"] = kind
    for name in ("is_online", "registration_enabled"):
        if name in data:
            cleaned[name] = bool(data.get(name))
    for name in ("starts_on", "ends_on"):
        if name in data:
            cleaned[name] = _clean_date(data.get(name), name, errors)
    starts = cleaned.get("starts_on", campaign.starts_on if campaign else None)
    ends = cleaned.get("ends_on", campaign.ends_on if campaign else None)
    if starts and ends and ends < starts:
        errors.append(FieldError("ends_on", _("结束日期不能早于开始日期。"), "out_of_range"))
    if "parent_id" in data:
        cleaned["parent"] = _clean_parent(actor, data.get("parent_id"), campaign, errors)
    parent = cleaned["parent"] if "parent_id" in data else (campaign.parent if campaign else None)
    # A new campaign takes its parent's currency unless it names one.
    currency = campaign.currency if campaign else (parent.currency if parent else "CNY")
    currency_given = False
    if "currency" in data and data.get("currency"):
        try:
            currency = cleaned["currency"] = clean_currency(data.get("currency"))
            currency_given = True
        except ValueError as error:
            errors.append(FieldError("currency", str(error), "invalid"))
    if campaign is None and parent is not None:
        cleaned["currency"] = currency
    _check_tree_currency(campaign, parent, currency, moved="parent_id" in data and not currency_given, errors=errors)
    if "budget" in data:
        budget = clean_money(data.get("budget"), currency, "budget", errors)
        if budget is not None:
            cleaned["budget_amount"] = budget
    if "registration_fields" in data:
        cleaned["registration_fields"] = clean_registration_fields(data.get("registration_fields") or [], errors)
    if "registration_capacity" in data:
        capacity = data.get("registration_capacity")
        if capacity in (None, ""):
            cleaned["registration_capacity"] = None
        else:
            try:
                number = int(capacity)
            except (TypeError, ValueError):
                number = -1
            if number < 1 or number > 1_000_000:
                errors.append(FieldError("registration_capacity", _("必须在 1 到 1000000 之间。"), "out_of_range"))
            else:
                cleaned["registration_capacity"] = number
    if "owner_id" in data and data.get("owner_id") not in (None, ""):
        owner = access.assignable_owners(actor, "campaign").filter(pk=_int(data.get("owner_id"))).first()
        if owner is None:
            errors.append(FieldError("owner_id", _("不能把活动交给这个用户：用户不存在、已停用或超出你的转移范围。"),
                                     "invalid"))
        else:
            cleaned["owner"] = owner
    return cleaned, errors


def _check_tree_currency(campaign: Campaign | None, parent: Campaign | None, currency: str, *, moved: bool,
                         errors: list[FieldError]) -> None:
    """Every campaign of a tree has one currency (ROI rolls amounts up without conversion): a child
    shares its parent's, and a campaign with children keeps its own."""
    if parent is not None and parent.currency != currency:
        message = _("下级活动的币种必须与上级活动“%(name)s”相同（%(currency)s）。") % {
            "name": parent.name, "currency": parent.currency}
        errors.append(FieldError("parent_id" if moved else "currency", message, "currency_mismatch"))
    elif campaign is not None and currency != campaign.currency and Campaign.objects.filter(
            parent_id=campaign.pk).exists():
        errors.append(FieldError("currency", _("这个活动有下级活动，币种不能修改（同一活动树使用同一币种）。"),
                                 "currency_mismatch"))


def _int(raw: Any) -> int:
    """An id from user input, 0 (matches nothing) when it is no integer or out of the 64-bit range."""
    try:
        number = int(raw)
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if 1 <= number <= MAX_ID else 0


def _clean_parent(actor: User, raw: Any, campaign: Campaign | None, errors: list[FieldError]) -> Campaign | None:
    """The new parent: visible to the actor, not the campaign itself nor one of its descendants, and
    the moved subtree stays within MAX_DEPTH."""
    if raw in (None, ""):
        return None
    parent = access.visible(actor, "campaign").filter(pk=_int(raw)).first()
    if parent is None:
        message = _("没有 ID 为 %(id)s 的市场活动，或你无权查看它。") % {"id": str(raw)[:20]}
        errors.append(FieldError("parent_id", message, "not_found"))
        return None
    if campaign is not None and parent.path.startswith(campaign.path):
        errors.append(FieldError("parent_id", _("上级活动不能是这个活动本身或它的下级活动。"), "cycle"))
        return None
    below = 0
    if campaign is not None:
        deepest = max((depth_of(path) for path in Campaign.objects.filter(path__startswith=campaign.path)
                       .values_list("path", flat=True)), default=depth_of(campaign.path))
        below = deepest - depth_of(campaign.path)
    if depth_of(parent.path) + 1 + below > MAX_DEPTH:
        errors.append(FieldError("parent_id", _("活动层级最多 %(depth)s 层。") % {"depth": MAX_DEPTH + 1}, "too_deep"))
        return None
    return parent


TREE_LOCK_KEY = "marketing:campaign-tree"


def _tree_lock() -> None:
    """Serialise changes of the campaign tree's shape (moves, children created under a parent) until
    the transaction ends: the cycle and depth checks and the paths they read stay true until the
    move is written. PostgreSQL: one transaction-level advisory lock (moves are rare); SQLite:
    writers are already serialised (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [TREE_LOCK_KEY])


def _snapshot(campaign: Campaign) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in CAMPAIGN_AUDIT_FIELDS:
        field = Campaign._meta.get_field(name)
        values[name] = jsonable(getattr(campaign, field.attname))
    return values


# --- campaigns ----------------------------------------------------------------------------------------
@transaction.atomic
def campaign_create(*, actor: User, data: Mapping[str, Any]) -> Campaign:
    """Create a campaign (planned) owned by the actor (or an owner they may assign), optionally under a
    visible parent."""
    access.require(actor, "campaign", "create")
    if data.get("parent_id") not in (None, ""):
        _tree_lock()  # the parent's path is read under the lock: it cannot move meanwhile
    cleaned, errors = _clean_campaign(actor, {"kind": CampaignKind.OTHER, **data}, None)
    if "status" in data and data["status"] not in (None, "", CampaignStatus.PLANNED):
        errors.append(FieldError("status", _("新活动的状态是“计划中”；请创建后再推进状态。"), "invalid"))
    if errors:
        raise ValidationFailed(_("市场活动填写有误。"), errors=errors)
    owner = cleaned.pop("owner", actor)
    campaign = Campaign(**cleaned, owner=owner, department_id=owner.department_id, created_by=actor,
                        public_token=new_token(), path="")
    campaign.save()
    parent_path = campaign.parent.path if campaign.parent else "/"
    campaign.path = f"{parent_path}{campaign.pk}/"
    Campaign.objects.filter(pk=campaign.pk).update(path=campaign.path)
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=campaign.name, changes={name: [None, value] for name, value in _snapshot(campaign).items()
                                                     if value not in (None, "", [], False, 0)})
    return campaign


@transaction.atomic
def campaign_update(*, actor: User, campaign_id: int, data: Mapping[str, Any],
                    expected_version: int | None = None) -> Campaign:
    """Change a campaign the actor may edit (compare-and-set on `version`; If-Match). Moving it to
    another parent moves its whole subtree. A new owner needs the transfer permission. The status
    changes through `campaign_status_set`."""
    if "parent_id" in data:
        # A move: take the tree lock first, so this campaign's and the new parent's paths are read
        # after any concurrent move committed (no cycle from two crossing moves).
        _tree_lock()
    campaign = campaign_get(user=actor, campaign_id=campaign_id, action="edit")
    if expected_version is not None and expected_version != campaign.version:
        raise PreconditionFailed(_("这个市场活动已被其他人修改，请刷新后重试。"))
    if "status" in data and data["status"] not in (None, campaign.status):
        raise ValidationFailed(_("请用状态变更操作推进活动状态。"), errors=[
            FieldError("status", _("请用状态变更操作推进活动状态。"), "read_only")])
    cleaned, errors = _clean_campaign(actor, data, campaign)
    if "owner" in cleaned and cleaned["owner"].pk != campaign.owner_id and not access.restrict(
            Campaign.objects.filter(pk=campaign.pk), actor, "campaign", "transfer").exists():
        errors.append(FieldError("owner_id", _("你没有转移这个活动的权限。"), "permission_denied"))
    if errors:
        raise ValidationFailed(_("市场活动填写有误。"), errors=errors)
    before = _snapshot(campaign)
    old_path = campaign.path
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    if "owner" in cleaned:
        campaign.department_id = campaign.owner.department_id if campaign.owner else None
    fields: dict[str, Any] = {name: getattr(campaign, name) for name in cleaned}
    if "owner" in cleaned:
        fields["department_id"] = campaign.department_id
    new_path = f"{campaign.parent.path if campaign.parent else '/'}{campaign.pk}/"
    updated = Campaign.objects.filter(pk=campaign.pk, version=campaign.version).update(
        **fields, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise PreconditionFailed(_("这个市场活动已被其他人修改，请刷新后重试。"))
    if new_path != old_path:
        # The whole subtree moves: every path starting with the old prefix gets the new one.
        Campaign.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)))
    campaign.refresh_from_db()
    changes = {name: [before.get(name), value] for name, value in _snapshot(campaign).items()
               if before.get(name) != value}
    if changes:
        audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk, object_repr=campaign.name, changes=changes)
    return campaign


@transaction.atomic
def campaign_status_set(*, actor: User, campaign_id: int, status: str,
                        expected_version: int | None = None) -> Campaign:
    """Move a campaign forward along its lifecycle; closed is final. The error lists the allowed
    next statuses."""
    campaign = campaign_get(user=actor, campaign_id=campaign_id, action="edit")
    if expected_version is not None and expected_version != campaign.version:
        raise PreconditionFailed(_("这个市场活动已被其他人修改，请刷新后重试。"))
    allowed = allowed_next_statuses(campaign.status)
    if status not in allowed:
        labels = "、".join(str(CampaignStatus(value).label) for value in allowed) or _("无（已关闭的活动不能再变更）")
        message = _("活动“%(name)s”当前状态为“%(current)s”，不能变更为“%(status)s”；可变更为：%(allowed)s。") % {
            "name": campaign.name, "current": CampaignStatus(campaign.status).label,
            "status": str(status)[:30], "allowed": labels}
        raise ValidationFailed(message, errors=[FieldError("status", message, "invalid_transition")])
    updated = Campaign.objects.filter(pk=campaign.pk, version=campaign.version, status=campaign.status).update(
        status=status, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        raise PreconditionFailed(_("这个市场活动已被其他人修改，请刷新后重试。"))
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=campaign.name, changes={"status": [campaign.status, status]})
    campaign.refresh_from_db()
    return campaign


# --- costs ----------------------------------------------------------------------------------------------
def _clean_cost(data: Mapping[str, Any], currency: str, cost: CampaignCost | None) -> tuple[dict[str, Any],
                                                                                          list[FieldError]]:
    errors: list[FieldError] = []
    cleaned: dict[str, Any] = {}
    if cost is None or "category" in data:
        category = str(data.get("category") or "").strip()
        if not category:
            errors.append(FieldError("category", _("此项为必填项。"), "required"))
        elif len(category) > 50:
            errors.append(FieldError("category", _("最多 %(limit)s 个字符。") % {"limit": 50}, "too_long"))
        cleaned["category"] = category
    if "description" in data:
        description = str(data.get("description") or "").strip()
        if len(description) > 200:
            errors.append(FieldError("description", _("最多 %(limit)s 个字符。") % {"limit": 200}, "too_long"))
        cleaned["description"] = description
    if cost is None or "planned" in data:
        planned = clean_money(data.get("planned"), currency, "planned", errors)
        if planned is not None:
            cleaned["planned_amount"] = planned
    if "actual" in data:
        actual = clean_money(data.get("actual"), currency, "actual", errors, allow_empty=True)
        if actual is not None or data.get("actual") in (None, ""):
            cleaned["actual_amount"] = actual
    if "incurred_on" in data:
        cleaned["incurred_on"] = _clean_date(data.get("incurred_on"), "incurred_on", errors)
    return cleaned, errors


def _cost_changes(cost: CampaignCost) -> dict[str, Any]:
    return {"id": cost.pk, "category": cost.category, "description": cost.description,
            "planned_amount": cost.planned_amount, "actual_amount": cost.actual_amount,
            "incurred_on": cost.incurred_on.isoformat() if cost.incurred_on else None}


@transaction.atomic
def cost_create(*, actor: User, campaign_id: int, data: Mapping[str, Any]) -> CampaignCost:
    """Add a cost item (amounts in yuan, stored in fen) to a campaign the actor may edit."""
    campaign = campaign_get(user=actor, campaign_id=campaign_id, action="edit")
    cleaned, errors = _clean_cost(data, campaign.currency, None)
    if errors:
        raise ValidationFailed(_("活动费用填写有误。"), errors=errors)
    cost = CampaignCost.objects.create(campaign=campaign, **cleaned)
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=campaign.name, summary=_("新增活动费用：%(category)s") % {"category": cost.category},
                 changes={"cost": [None, _cost_changes(cost)]})
    return cost


def _cost_for_edit(actor: User, campaign_id: int, cost_id: int) -> tuple[Campaign, CampaignCost]:
    campaign = campaign_get(user=actor, campaign_id=campaign_id, action="edit")
    cost = CampaignCost.objects.select_for_update().filter(pk=cost_id, campaign=campaign).first()
    if cost is None:
        raise NotFound(_("这个活动没有 ID 为 %(id)s 的费用。") % {"id": cost_id})
    return campaign, cost


@transaction.atomic
def cost_update(*, actor: User, campaign_id: int, cost_id: int, data: Mapping[str, Any]) -> CampaignCost:
    campaign, cost = _cost_for_edit(actor, campaign_id, cost_id)
    cleaned, errors = _clean_cost(data, campaign.currency, cost)
    if errors:
        raise ValidationFailed(_("活动费用填写有误。"), errors=errors)
    before = _cost_changes(cost)
    for name, value in cleaned.items():
        setattr(cost, name, value)
    cost.save()
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=campaign.name, summary=_("修改活动费用：%(category)s") % {"category": cost.category},
                 changes={"cost": [before, _cost_changes(cost)]})
    return cost


@transaction.atomic
def cost_delete(*, actor: User, campaign_id: int, cost_id: int) -> None:
    campaign, cost = _cost_for_edit(actor, campaign_id, cost_id)
    before = _cost_changes(cost)
    cost.delete()
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=campaign.name, summary=_("删除活动费用：%(category)s") % {"category": before["category"]},
                 changes={"cost": [before, None]})


# --- members ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InviteResult:
    invited: int  # new members
    already: int  # were members before (left unchanged)


def _open_for_members(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.CLOSED:
        raise Conflict(_("活动“%(name)s”已关闭，成员不能再变更。") % {"name": campaign.name})


def _campaign_for_members(actor: User, campaign_id: int, action: str) -> Campaign:
    """The campaign, visible to the actor, whose members the actor may `action` (create: invite;
    edit: change statuses)."""
    campaign = campaign_get(user=actor, campaign_id=campaign_id, action="view")
    access.require(actor, "campaign_member", action)
    if action == "edit" and not access.restrict(Campaign.objects.filter(pk=campaign.pk), actor, "campaign",
                                                "edit").exists():
        raise PermissionDenied(_("你可以查看这个市场活动，但没有编辑它的权限。"))
    _open_for_members(campaign)
    return campaign


def _visible_ids(actor: User, key: str, ids: Iterable[int], field: str) -> list[int]:
    wanted = sorted({int(pk) for pk in ids})
    if not wanted:
        return []
    found = set(access.visible(actor, key).filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + ("…" if len(missing) > 20 else "")
        raise ValidationFailed(_("有记录不存在或你无权查看：%(ids)s。") % {"ids": shown},
                               errors=[FieldError(field, _("不存在或无权查看：%(ids)s") % {"ids": shown}, "not_found")])
    return wanted


@transaction.atomic
def members_invite(*, actor: User, campaign_id: int, lead_ids: Sequence[int] = (), contact_ids: Sequence[int] = (),
                   source: str = MemberSource.INVITE) -> InviteResult:
    """Invite leads and contacts the actor may see (all or nothing: one invisible id fails the call).
    People already in the campaign keep their status; inviting is idempotent. Set-based: one
    insert whatever the number."""
    campaign = _campaign_for_members(actor, campaign_id, "create")
    if len(lead_ids) + len(contact_ids) > MAX_BULK_MEMBERS:
        raise ValidationFailed(_("一次最多邀约 %(max)s 人。") % {"max": MAX_BULK_MEMBERS})
    leads = _visible_ids(actor, "lead", lead_ids, "lead_ids")
    contacts = _visible_ids(actor, "contact", contact_ids, "contact_ids")
    return _invite(actor, campaign, leads, contacts, source)


def _invite(actor: User | None, campaign: Campaign, leads: list[int], contacts: list[int],
            source: str) -> InviteResult:
    existing_leads = set(CampaignMember.objects.filter(campaign=campaign, lead_id__in=leads)
                         .values_list("lead_id", flat=True)) if leads else set()
    existing_contacts = set(CampaignMember.objects.filter(campaign=campaign, contact_id__in=contacts)
                            .values_list("contact_id", flat=True)) if contacts else set()
    now = timezone.now()
    rows = [CampaignMember(campaign=campaign, lead_id=pk, status=MemberStatus.INVITED, source=source, invited_at=now,
                           checkin_token=new_token()) for pk in leads if pk not in existing_leads]
    rows += [CampaignMember(campaign=campaign, contact_id=pk, status=MemberStatus.INVITED, source=source,
                            invited_at=now, checkin_token=new_token())
             for pk in contacts if pk not in existing_contacts]
    # A concurrent invite of the same person loses quietly (the unique constraints): still idempotent.
    # bulk_create returns every row, inserted or not: the rows that carry our fresh tokens are ours.
    CampaignMember.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    tokens = [row.checkin_token for row in rows]
    inserted: list[tuple[int | None, int | None]] = []
    for start in range(0, len(tokens), 1000):
        inserted += CampaignMember.objects.filter(checkin_token__in=tokens[start:start + 1000]).values_list(
            "lead_id", "contact_id")
    already = len(leads) + len(contacts) - len(inserted)
    if inserted:
        new_leads = sorted(lead_id for lead_id, _contact in inserted if lead_id)
        new_contacts = sorted(contact_id for _lead, contact_id in inserted if contact_id)
        audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk if actor else None, object_repr=campaign.name,
                     summary=_("邀约 %(count)s 人") % {"count": len(inserted)},
                     changes={"members_invited": [None, {"leads": new_leads[:1000], "contacts": new_contacts[:1000],
                                                         "count": len(inserted), "source": source}]})
    return InviteResult(invited=len(inserted), already=already)


@transaction.atomic
def members_add_leads(*, actor: User | None, campaign_id: int, lead_ids: Sequence[int],
                      source: str = MemberSource.IMPORT) -> InviteResult:
    """Invite leads the caller has just captured (an import of a member list): no visibility check
    of the leads, which the assignment rules may have routed to someone else; the campaign must be
    editable by the actor (None: the system) and not closed."""
    if actor is not None:
        campaign = _campaign_for_members(actor, campaign_id, "edit")
    else:
        campaign = Campaign.objects.filter(pk=campaign_id).first()  # type: ignore[assignment]
        if campaign is None:
            raise NotFound(_("没有 ID 为 %(id)s 的市场活动。") % {"id": campaign_id})
        _open_for_members(campaign)
    return _invite(actor, campaign, sorted(set(lead_ids)), [], source)


LEAD_FILTERS = ("status", "source", "province", "city", "industry", "size", "score_band", "owner_id", "campaign_id")
ID_FILTERS = ("owner_id", "campaign_id")
MAX_ID = 2**63 - 1  # a 64-bit primary key


def _clean_id(raw: Any, field: str, errors: list[FieldError]) -> int | None:
    """A record id from user input: an integer 1 … 2**63 − 1, else a field error (None)."""
    text = str(raw).strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 19 else 0
    if not 1 <= number <= MAX_ID:
        errors.append(FieldError(field, _("“%(value)s”不是有效的 ID（1 到 %(max)s 之间的整数）。")
                                 % {"value": text[:30], "max": MAX_ID}, "invalid"))
        return None
    return number


def leads_matching(*, actor: User, filters: Mapping[str, Any]) -> Any:
    """Leads the actor may see matching an allow-listed filter (the lead list's filters: status,
    source, province, city, industry, size, score_band, owner_id, campaign_id, q, created_from/to)."""
    unknown = sorted(set(filters) - {*LEAD_FILTERS, "q", "created_from", "created_to"})
    if unknown:
        raise ValidationFailed(_("不支持的筛选条件：%(names)s。") % {"names": ", ".join(unknown)},
                               errors=[FieldError("filters", ", ".join(unknown), "invalid")])
    leads = access.restrict(lead_model()._default_manager.all(), actor, "lead", "view")
    errors: list[FieldError] = []
    for name in LEAD_FILTERS:
        value = filters.get(name)
        if value in (None, ""):
            continue
        if name in ID_FILTERS:
            value = _clean_id(value, f"filters.{name}", errors)
            if value is None:
                continue
        else:
            value = str(value)[:200]
        leads = leads.filter(**{name: value})
    text = str(filters.get("q") or "").strip()[:100]
    if text:
        leads = leads.filter(Q(name__icontains=text) | Q(company__icontains=text) | Q(mobile__icontains=text)
                             | Q(email__icontains=text))
    start = _clean_date(filters.get("created_from"), "created_from", errors)
    end = _clean_date(filters.get("created_to"), "created_to", errors)
    if errors:
        raise ValidationFailed(_("筛选条件填写有误。"), errors=errors)
    if start:
        leads = leads.filter(created_at__date__gte=start)
    if end:
        leads = leads.filter(created_at__date__lte=end)
    return leads


@transaction.atomic
def members_invite_matching(*, actor: User, campaign_id: int, filters: Mapping[str, Any]) -> InviteResult:
    """Invite every lead matching the filter (the actor's visible leads; at most MAX_BULK_MEMBERS)."""
    campaign = _campaign_for_members(actor, campaign_id, "create")
    ids = list(leads_matching(actor=actor, filters=filters).order_by("pk").values_list("pk", flat=True)
               [:MAX_BULK_MEMBERS + 1])
    if len(ids) > MAX_BULK_MEMBERS:
        raise ValidationFailed(_("符合条件的线索超过 %(max)s 条，请缩小筛选范围。") % {"max": MAX_BULK_MEMBERS})
    return _invite(actor, campaign, ids, [], MemberSource.INVITE)


def _lock_campaign(campaign_id: int) -> Campaign:
    """Lock the campaign row: registrations of one campaign are serialised, so the capacity holds."""
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(_("没有 ID 为 %(id)s 的市场活动。") % {"id": campaign_id})
    Campaign.objects.filter(pk=campaign_id).update(updated_at=F("updated_at"))  # SQLite: take the write lock now
    return campaign


def registered_count(campaign_id: int) -> int:
    return CampaignMember.objects.filter(campaign_id=campaign_id, registered_at__isnull=False).count()


def capacity_left(campaign: Campaign) -> int | None:
    if campaign.registration_capacity is None:
        return None
    return max(campaign.registration_capacity - registered_count(campaign.pk), 0)


@dataclass(frozen=True)
class Registration:
    member: CampaignMember
    created: bool  # a new member (else an existing one, now or already registered)


@transaction.atomic
def member_register(*, campaign_id: int, lead_id: int | None = None, contact_id: int | None = None,
                    source: str = MemberSource.REGISTRATION, actor: User | None = None,
                    check_open: bool = True) -> Registration:
    """Register a lead or contact (the public page: actor None, after `lead_capture`). A new person
    becomes a member, an invited one is registered; someone registered, checked in or marked
    no-show stays as they are (registering twice changes nothing). With `check_open`, the campaign
    must accept registrations and have room left (capacity counts everyone who registered)."""
    if (lead_id is None) == (contact_id is None):
        raise ValidationFailed(_("报名人必须是线索或联系人之一。"))
    campaign = _lock_campaign(campaign_id)
    _open_for_members(campaign)
    if check_open and not registration_is_open(campaign):
        raise Conflict(_("活动“%(name)s”目前不接受报名。") % {"name": campaign.name})
    person = Q(lead_id=lead_id) if lead_id is not None else Q(contact_id=contact_id)
    member = CampaignMember.objects.filter(person, campaign=campaign).first()
    if member is not None and member.registered_at is not None:
        return Registration(member=member, created=False)
    if check_open and capacity_left(campaign) == 0:
        raise Conflict(_("活动“%(name)s”报名人数已满。") % {"name": campaign.name})
    now = timezone.now()
    created = member is None
    if member is None:
        member = CampaignMember(campaign=campaign, lead_id=lead_id, contact_id=contact_id, source=source,
                                status=MemberStatus.REGISTERED, registered_at=now, checkin_token=new_token())
        before = ""
        try:
            with transaction.atomic():
                member.save()
        except IntegrityError:  # registered concurrently by another request: that one stands
            existing = CampaignMember.objects.get(person, campaign=campaign)
            return Registration(member=existing, created=False)
    else:
        # Compare-and-set: a check-in (which does not lock the campaign) may have moved the member since
        # the read; the UPDATE only applies to the status read, else the other change stands.
        before = member.status
        if member.status == MemberStatus.INVITED:
            updated = CampaignMember.objects.filter(pk=member.pk, status=MemberStatus.INVITED,
                                                    registered_at__isnull=True).update(
                status=MemberStatus.REGISTERED, registered_at=now, updated_at=now)
        else:  # e.g. a walk-in checked in without registering: the registration is stamped, the status stays
            updated = CampaignMember.objects.filter(pk=member.pk, status=member.status,
                                                    registered_at__isnull=True).update(registered_at=now,
                                                                                       updated_at=now)
        member.refresh_from_db()
        if not updated:
            return Registration(member=member, created=False)
    _members_moved([member.pk], member.status, now)
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE,
                 actor_id=actor.pk if actor else None, object_repr=campaign.name,
                 summary=_("报名：%(person)s") % {"person": f"lead #{lead_id}" if lead_id
                                                 else f"contact #{contact_id}"},
                 changes={"member": [None if created else {"id": member.pk, "status": before},
                                     {"id": member.pk, "status": member.status, "source": member.source}]})
    return Registration(member=member, created=created)


# --- member status listeners (extension point) -----------------------------------------------------
@dataclass(frozen=True)
class MemberMoved:
    """A member reached `status` (registered or checked_in) at `at`: what higher layers (lead scoring)
    hear about, after commit."""

    member_id: int
    campaign_id: int
    lead_id: int | None
    contact_id: int | None
    status: str
    at: dt.datetime


MemberListener = Callable[[list[MemberMoved]], None]
_MEMBER_LISTENERS: list[MemberListener] = []


def member_status_listen(listener: MemberListener) -> None:
    """Register a listener for members who registered or checked in (called in `ready()`)."""
    if listener not in _MEMBER_LISTENERS:
        _MEMBER_LISTENERS.append(listener)


def _members_moved(member_ids: Sequence[int], status: str, at: dt.datetime) -> None:
    """Tell the listeners after commit (a rolled-back move tells nobody)."""
    if not _MEMBER_LISTENERS or not member_ids or status not in (MemberStatus.REGISTERED, MemberStatus.CHECKED_IN):
        return
    moved = [MemberMoved(member_id=pk, campaign_id=campaign_id, lead_id=lead_id, contact_id=contact_id, status=status,
                         at=at)
             for pk, campaign_id, lead_id, contact_id in CampaignMember.objects.filter(pk__in=list(member_ids))
             .values_list("pk", "campaign_id", "lead_id", "contact_id")]

    def notify() -> None:
        for listener in _MEMBER_LISTENERS:
            listener(moved)

    transaction.on_commit(notify, robust=True)


def checkin_closed_message(campaign: Campaign) -> str:
    return _("活动“%(name)s”当前状态为“%(status)s”，只有报名中或进行中的活动可以签到。") % {
        "name": campaign.name, "status": CampaignStatus(campaign.status).label}


@dataclass(frozen=True)
class CheckIn:
    member: CampaignMember
    already: bool  # was checked in before


@transaction.atomic
def member_check_in(*, actor: User, member_id: int | None = None, token: str | None = None,
                    campaign_id: int | None = None) -> CheckIn:
    """Check a member in (staff: by the check-in link's token or from the campaign page). Needs edit
    on the campaign, which must be open for registration or in progress (CHECKIN_STATUSES). Invited,
    registered and no-show members become checked in; checking in twice
    changes nothing."""
    members = CampaignMember.objects.select_related("campaign")
    if token is not None:
        member = members.filter(checkin_token=str(token)[:40]).first()
    else:
        member = members.filter(pk=member_id, campaign_id=campaign_id).first()
    if member is None or not access.restrict(Campaign.objects.filter(pk=member.campaign_id), actor, "campaign",
                                             "view").exists():
        raise NotFound(_("签到链接无效，或你无权查看这个活动。"))
    campaign = _campaign_for_members(actor, member.campaign_id, "edit")
    if campaign.status not in CHECKIN_STATUSES:
        raise Conflict(checkin_closed_message(campaign))
    if member.status == MemberStatus.CHECKED_IN:
        return CheckIn(member=member, already=True)
    now = timezone.now()
    updated = CampaignMember.objects.filter(pk=member.pk).exclude(status=MemberStatus.CHECKED_IN).update(
        status=MemberStatus.CHECKED_IN, checked_in_at=now, updated_at=now)
    member.refresh_from_db()
    if not updated:
        return CheckIn(member=member, already=True)
    _members_moved([member.pk], MemberStatus.CHECKED_IN, now)
    audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=campaign.name, summary=_("签到：成员 #%(id)s") % {"id": member.pk},
                 changes={"member": [{"id": member.pk, "status": None}, {"id": member.pk, "status": "checked_in"}]})
    return CheckIn(member=member, already=False)


@transaction.atomic
def members_status_set(*, actor: User, campaign_id: int, member_ids: Sequence[int], status: str) -> int:
    """Staff set the status of chosen members (registered, checked_in or no_show). Returns how many
    changed. No-show only for members who did not check in, and only once the event runs or is over."""
    campaign = _campaign_for_members(actor, campaign_id, "edit")
    if status not in (MemberStatus.REGISTERED, MemberStatus.CHECKED_IN, MemberStatus.NO_SHOW):
        message = _("成员状态只能改为：已报名、已签到、未到场。")
        raise ValidationFailed(message, errors=[FieldError("status", message, "invalid_choice")])
    if status == MemberStatus.NO_SHOW and campaign.status not in NO_SHOW_STATUSES:
        raise Conflict(_("活动开始后（进行中或已完成）才能标记未到场。"))
    ids = sorted({int(pk) for pk in member_ids})
    members = CampaignMember.objects.filter(campaign=campaign, pk__in=ids)
    found = set(members.values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationFailed(_("这个活动没有这些成员：%(ids)s。") % {"ids": ", ".join(map(str, missing[:20]))},
                               errors=[FieldError("member_ids", ", ".join(map(str, missing[:20])), "not_found")])
    now = timezone.now()
    stamp = {MemberStatus.REGISTERED: "registered_at", MemberStatus.CHECKED_IN: "checked_in_at",
             MemberStatus.NO_SHOW: "no_show_at"}[MemberStatus(status)]
    # registered ← invited; no_show ← registered; checked_in ← any other status.
    movable = members.exclude(status=status)
    if status == MemberStatus.NO_SHOW:
        movable = movable.filter(status=MemberStatus.REGISTERED)
    if status == MemberStatus.REGISTERED:
        movable = movable.filter(status=MemberStatus.INVITED)
    # Lock the rows to move, and keep the status condition in the UPDATE (compare-and-set): a member
    # checked in meanwhile never becomes no-show or registered again.
    changed_ids = list(movable.select_for_update().values_list("pk", flat=True))
    count = movable.filter(pk__in=changed_ids).update(status=status, updated_at=now, **{stamp: now})
    if count != len(changed_ids):  # some moved elsewhere in between: report only those we changed
        changed_ids = list(CampaignMember.objects.filter(pk__in=changed_ids, status=status, **{stamp: now})
                           .values_list("pk", flat=True))
    _members_moved(changed_ids, status, now)
    if count:
        audit_record(object_type="campaign", object_id=campaign.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                     object_repr=campaign.name, summary=_("%(count)s 名成员改为“%(status)s”")
                     % {"count": count, "status": MemberStatus(status).label},
                     changes={"members_status": [None, {"status": status, "ids": changed_ids[:1000]}]})
    return count


@transaction.atomic
def members_mark_no_show(*, actor: User, campaign_id: int) -> int:
    """After the event: every registered member who did not check in becomes no-show."""
    campaign = _campaign_for_members(actor, campaign_id, "edit")
    ids = list(CampaignMember.objects.filter(campaign=campaign, status=MemberStatus.REGISTERED)
               .values_list("pk", flat=True))
    if not ids:
        if campaign.status not in NO_SHOW_STATUSES:
            raise Conflict(_("活动开始后（进行中或已完成）才能标记未到场。"))
        return 0
    return members_status_set(actor=actor, campaign_id=campaign.pk, member_ids=ids, status=MemberStatus.NO_SHOW)


_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def is_token(text: str) -> bool:
    """Whether `text` looks like one of our link tokens (checked before any query)."""
    return bool(_SAFE_TOKEN.match(text or ""))

"""Writes of leads: create, edit, status changes, capture (registration, import, tender notice) and
delete. Every write checks access, validates everything, passes duplicate control (against leads;
captures also find the same person and update that lead instead of adding another), writes the
audit event and the lead's duplicate keys in the same transaction, bumps `version`, and rescores
the lead. Ownership changes go through `pools` (transfer, claim, release) and `assignment` (rules).
Conversion lives in `conversion.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, diff, snapshot
from l2c.apps.activity.custom_fields import clean_custom_values
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.customers import duplicates
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, DuplicateFound, FieldError, PreconditionFailed, ValidationFailed

from .models import Lead, LeadPool, LeadStatus
from .selectors import OPEN_STATUSES
from .validation import CAPTURE_FILLABLE, DISQUALIFY_REASON_MAX, LEAD_FIELDS, clean_lead, lead_search_text

LEAD_AUDITED = [*LEAD_FIELDS, "status", "disqualified_reason", "owner", "department", "pool", "campaign",
                "tender_notice", "custom"]
# Allowed manual status moves; "converted" is reached only through conversion.
STATUS_MOVES: dict[str, tuple[str, ...]] = {
    LeadStatus.NEW: (LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
    LeadStatus.CONTACTED: (LeadStatus.NEW, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
    LeadStatus.QUALIFIED: (LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED),
    LeadStatus.DISQUALIFIED: (LeadStatus.NEW,),
    LeadStatus.CONVERTED: (),
}
CAPTURE_VIAS = ("api", "ui", "registration", "import", "campaign_import", "tender", "event")


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(_("%(object)s信息填写有误。") % {"object": access.noun("lead")}, errors=errors)


def _check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            _("这个%(object)s已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
            % {"object": access.noun("lead"), "current": current, "expected": expected})


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _links(*, actor: User | None, data: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """The campaign and tender notice named in `data` (`campaign_id`, `tender_notice_id`); a user
    must be able to see them. A system capture (actor None) names them itself."""
    links: dict[str, Any] = {}
    for key, object_type, model_field, message in (
        ("campaign_id", "campaign", "campaign_id", _("没有 ID 为 %(id)s 的市场活动，或你无权查看。")),
        ("tender_notice_id", "tender_notice", "tender_notice_id", _("没有 ID 为 %(id)s 的招投标公告，或你无权查看。")),
    ):
        if key not in data:
            continue
        raw = data.get(key)
        if raw in (None, ""):
            links[model_field] = None
            continue
        pk = _int_or_none(raw)
        model = access.object_type(object_type).model
        queryset = model._default_manager.all() if actor is None else access.visible(actor, object_type)
        if pk is None or not queryset.filter(pk=pk).exists():
            errors.append(FieldError(key, message % {"id": raw}, "not_found"))
            continue
        links[model_field] = pk
    return links


def _resolve_owner_and_pool(*, actor: User, data: Mapping[str, Any],
                            errors: list[FieldError]) -> tuple[User | None, LeadPool | None]:
    """Owner and pool of a new lead: `pool_id` puts it unowned into that pool (the actor must be a
    member of the pool or hold the transfer permission); `owner_id` names an owner the actor may
    assign; `assign=true` leaves both to the assignment rules; otherwise the actor owns it."""
    from .pools import member_lead_pools

    pool_id, owner_id = data.get("pool_id"), data.get("owner_id")
    if pool_id not in (None, ""):
        pools = LeadPool.objects.filter(is_active=True) if access.can(actor, "lead", "transfer") \
            else member_lead_pools(actor)
        pool = pools.filter(pk=_int_or_none(pool_id) or 0).first()
        if pool is None:
            errors.append(FieldError("pool_id", _("没有 ID 为 %(id)s 的线索池，或你不是它的成员。") % {"id": pool_id},
                                     "invalid"))
        if owner_id not in (None, ""):
            errors.append(FieldError("owner_id", _("放入线索池的线索不能同时指定负责人。"), "invalid"))
        return None, pool
    if data.get("assign"):
        if owner_id not in (None, ""):
            errors.append(FieldError("owner_id", _("按分配规则分配时不能同时指定负责人。"), "invalid"))
        return None, None
    if owner_id in (None, ""):
        return actor, None
    owner = User.objects.filter(pk=_int_or_none(owner_id) or 0, is_active=True).first()
    if owner is None:
        errors.append(FieldError("owner_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": owner_id}, "not_found"))
        return None, None
    if not owner_assignable(actor=actor, object_type="lead", owner=owner):
        errors.append(FieldError("owner_id", _("你不能把记录分配给这个用户。"), "forbidden"))
        return None, None
    return owner, None


def _contacts_guard(actor: User, cleaned: Mapping[str, Any], confirmed: bool) -> None:
    """A new lead whose mobile, phone or e-mail belongs to a customer's contact is most likely a
    known customer, not a prospect: ask for confirmation, naming the contacts the actor may see and
    counting the others (撞单)."""
    if confirmed or not (cleaned.get("mobile") or cleaned.get("phone") or cleaned.get("email")):
        return
    values = {name: cleaned.get(name) or "" for name in ("mobile", "phone", "email")}
    check = duplicates.duplicates_find(actor=actor, object_type="contact", values=values)
    if not (check.warns or check.blocks):
        return
    count, hidden = check.match_count, check.hidden_count
    detail = (_("此人可能已是 %(count)s 个客户联系人（其中 %(hidden)s 个你无权查看）；确认后仍可保存。") if hidden
              else _("此人可能已是 %(count)s 个客户联系人；确认后仍可保存。")) % {"count": count, "hidden": hidden}
    raise DuplicateFound(detail, blocking=False,
                         duplicates=[duplicates.candidate_dict(candidate, "contact") for candidate in check.visible],
                         hidden_duplicates=hidden)


def _rescore(lead: Lead) -> None:
    from .scoring import lead_rescore

    lead_rescore(lead=lead)


def _assign(lead_ids: list[int], actor: User | None, via: str) -> None:
    from .assignment import leads_assign

    leads_assign(lead_ids=lead_ids, actor=actor, via=via)


# --- create, edit, delete -------------------------------------------------------------------------
@transaction.atomic
def lead_create(*, actor: User, data: Mapping[str, Any], via: str = "ui") -> Lead:
    """Create a lead (UI, API). Owned by the actor unless `owner_id`, `pool_id` or `assign` say
    otherwise; a *warn* duplicate needs `confirm_duplicates`."""
    access.require(actor, "lead", "create")
    cleaned, errors = clean_lead(data, partial=False)
    links = _links(actor=actor, data=data, errors=errors)
    owner, pool = _resolve_owner_and_pool(actor=actor, data=data, errors=errors)
    custom: dict[str, Any] = {}
    try:
        custom = clean_custom_values("lead", data.get("custom") or {})
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    _raise(errors)
    confirmed = bool(data.get("confirm_duplicates"))
    keys_lock(person_keys(cleaned))
    duplicates.duplicates_guard(actor=actor, object_type="lead", values=cleaned, confirmed=confirmed)
    _contacts_guard(actor, cleaned, confirmed)
    now = timezone.now()
    lead = Lead(**cleaned, **links, custom=custom, created_by=actor, owner=owner,
                department_id=owner.department_id if owner else None, pool=pool,
                held_since=now if owner else None, pool_entered_at=now if pool else None,
                last_activity_at=None)
    lead.search_text = lead_search_text(lead)
    lead.save()
    duplicates.record_keys_write("lead", lead.pk, cleaned)
    audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=str(lead), changes=diff({}, snapshot(lead, LEAD_AUDITED)), summary=via)
    # Scored before routing: assignment rules may read the score band.
    _rescore(lead)
    if owner is None and pool is None:
        _assign([lead.pk], actor, via)
        lead.refresh_from_db()
    return lead


@transaction.atomic
def lead_update(*, actor: User, lead_id: int, data: Mapping[str, Any], expected_version: int | None = None) -> Lead:
    """Partial update of fields, links and status. `owner_id` changes go through the transfer rules
    (`pools.leads_owner_change`); a converted lead is read-only."""
    lead: Lead = access.get_for_action(actor, "lead", lead_id, "edit")
    _check_version(lead.version, expected_version)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("线索已转化，不能再修改。"))
    cleaned, errors = clean_lead(data, partial=True, current=lead)
    cleaned.update(_links(actor=actor, data=data, errors=errors))
    if "custom" in data:
        try:
            cleaned["custom"] = clean_custom_values("lead", data.get("custom") or {}, existing=lead.custom,
                                                    partial=True)
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    status = data.get("status")
    if status not in (None, "", lead.status):
        cleaned.update(_status_move(lead, str(status), data.get("disqualified_reason"), errors))
    elif status == lead.status == LeadStatus.DISQUALIFIED and "disqualified_reason" in data:
        cleaned.update(_status_move(lead, str(status), data.get("disqualified_reason"), errors, same=True))
    new_owner = _owner_change_target(lead, data, errors)
    _raise(errors)
    before = snapshot(lead, LEAD_AUDITED)
    for name, value in cleaned.items():
        setattr(lead, name, value)
    changes = diff(before, snapshot(lead, LEAD_AUDITED))
    if changes:
        checked = duplicates.touches_checked_fields("lead", changes)
        current = {name: getattr(lead, name) for name in duplicates.FINGERPRINT_FIELDS["lead"]}
        if checked:
            duplicates.duplicates_guard(actor=actor, object_type="lead", values=current, record_id=lead.pk,
                                        confirmed=bool(data.get("confirm_duplicates")))
        lead.search_text = lead_search_text(lead)
        fields = {name: getattr(lead, name) for name in cleaned}
        # Compare-and-set on version: a concurrent writer between our read and this update loses.
        updated = Lead.objects.filter(pk=lead.pk, version=lead.version).update(
            **fields, search_text=lead.search_text, version=F("version") + 1, updated_at=timezone.now())
        if not updated:
            raise PreconditionFailed(_("这个%(object)s已被其他人修改，请刷新后重试。")
                                     % {"object": access.noun("lead")})
        if checked:
            duplicates.record_keys_write("lead", lead.pk, current)
        audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                     object_repr=str(lead), changes=changes)
        if lead.owner_id == actor.pk:
            from .pools import lead_touched

            lead_touched(lead_id=lead.pk, at=timezone.now())
    if new_owner is not None:
        from .pools import leads_owner_change

        leads_owner_change(actor=actor, lead_ids=[lead.pk], to_user=new_owner, via="transfer",
                           reason=str(data.get("transfer_reason") or ""))
    lead.refresh_from_db()
    if changes:
        _rescore(lead)
    return lead


def _owner_change_target(lead: Lead, data: Mapping[str, Any], errors: list[FieldError]) -> User | None:
    if "owner_id" not in data or data["owner_id"] in (None, "") or _int_or_none(data["owner_id"]) == lead.owner_id:
        return None
    owner = User.objects.filter(pk=_int_or_none(data["owner_id"]) or 0, is_active=True).first()
    if owner is None:
        errors.append(FieldError("owner_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": data["owner_id"]},
                                 "not_found"))
    return owner


def _status_move(lead: Lead, status: str, reason: Any, errors: list[FieldError], *,
                 same: bool = False) -> dict[str, Any]:
    """The fields of a status move, or an error naming the allowed next statuses."""
    if status not in LeadStatus.values:
        errors.append(FieldError("status", _("必须是以下之一：%(values)s。")
                                 % {"values": ", ".join(LeadStatus.values)}, "invalid"))
        return {}
    if status == LeadStatus.CONVERTED:
        errors.append(FieldError("status", _("请通过“转化”把线索转为客户和联系人。"), "use_convert"))
        return {}
    allowed = STATUS_MOVES[LeadStatus(lead.status)]
    if not same and status not in allowed:
        labels = "、".join(str(LeadStatus(value).label) for value in allowed) or _("无")
        errors.append(FieldError("status", _("“%(current)s”的线索只能改为：%(allowed)s。")
                                 % {"current": LeadStatus(lead.status).label, "allowed": labels}, "invalid_move"))
        return {}
    if status == LeadStatus.DISQUALIFIED:
        text = str(reason or "").strip()
        if not text:
            errors.append(FieldError("disqualified_reason", _("标记为无效时必须填写原因。"), "required"))
            return {}
        if len(text) > DISQUALIFY_REASON_MAX:
            errors.append(FieldError("disqualified_reason", _("最多 %(limit)s 个字符（现有 %(count)s 个）。")
                                     % {"limit": DISQUALIFY_REASON_MAX, "count": len(text)}, "invalid"))
            return {}
        return {"status": status, "disqualified_reason": text}
    return {"status": status, "disqualified_reason": ""}


@transaction.atomic
def lead_delete(*, actor: User, lead_id: int, expected_version: int | None = None) -> None:
    lead: Lead = access.get_for_action(actor, "lead", lead_id, "delete")
    _check_version(lead.version, expected_version)
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("线索已转化，不能删除；它保留着与客户和联系人的关联。"))
    audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=str(lead), changes=diff(snapshot(lead, LEAD_AUDITED), {}))
    duplicates.keys_delete("lead", [lead.pk])
    lead.delete()


# --- capture --------------------------------------------------------------------------------------
@dataclass
class CaptureResult:
    """What a capture did: the lead it created or found, and the fields it filled on a found one."""

    lead: Lead
    created: bool
    filled: list[str] = field(default_factory=list)


def person_keys(values: Mapping[str, Any]) -> list[str]:
    """The keys that make two leads the same person: the normalised mobile and e-mail. A landline
    (an office switchboard, extensions dropped) is shared by colleagues, so it only warns."""
    return duplicates.exact_keys("lead", {"mobile": values.get("mobile") or "", "email": values.get("email") or ""})


def keys_lock(keys: Sequence[str]) -> None:
    """Serialise writers of the same person until the transaction ends, so two concurrent captures
    or creates of one mobile cannot both miss each other (check-then-insert). PostgreSQL: one
    transaction-level advisory lock per key, taken in sorted order (no deadlock). SQLite: writers
    are already serialised (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql" or not keys:
        return
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"lead:{key}"])


def _same_person(keys: Sequence[str]) -> list[int]:
    """Open leads (new, contacted, qualified) holding one of the person keys, newest first. A
    converted or disqualified lead is history: the person coming back makes a new lead."""
    if not keys:
        return []
    ids = duplicates.record_ids_by_exact_keys("lead", list(keys))
    return list(Lead.objects.filter(pk__in=ids, status__in=OPEN_STATUSES).order_by("-pk").values_list("pk", flat=True))


@transaction.atomic
def lead_capture(*, actor: User | None, data: Mapping[str, Any], via: str, campaign_id: int | None = None,
                 tender_notice_id: int | None = None) -> CaptureResult:
    """Capture a prospect from a registration page, an import, a tender notice or the API.

    Duplicate control first: an open lead with the same mobile or e-mail is the same person — its
    empty fields are filled from `data`, nothing else changes, and no second lead is made. A user
    (`actor`) only ever fills a lead they may edit: when the person's open lead is out of their
    reach the capture is refused (409) naming nobody (撞单). The public (`actor` None) fills whichever
    open lead it is. Otherwise a new lead is created (owned by nobody) and the assignment rules route
    it. The campaign and notice link the lead when it has none (the first touch stays)."""
    if via not in CAPTURE_VIAS:
        raise ValueError(f"unknown capture path {via!r}")
    if actor is not None:
        access.require(actor, "lead", "create")
    cleaned, errors = clean_lead(data, partial=False)
    _raise(errors)
    links = {"campaign_id": campaign_id, "tender_notice_id": tender_notice_id}
    keys = person_keys(cleaned)
    keys_lock(keys)
    existing_ids = _same_person(keys)
    if existing_ids:
        candidates = Lead.objects.filter(pk__in=existing_ids)
        if actor is not None:
            candidates = access.restrict(candidates, actor, "lead", "edit")
        lead = candidates.select_for_update().order_by("-pk").first()
        if lead is None:
            raise Conflict(_("此人已有线索，但你无权查看或编辑；请联系其负责人或管理员，避免撞单。"))
        return _capture_into(lead, cleaned, links, actor, via)
    lead = Lead(**cleaned, created_by=actor, **links)
    if not lead.source:
        lead.source = {"registration": "campaign", "campaign_import": "campaign", "tender": "tender",
                       "import": "import"}.get(via, "")
    lead.search_text = lead_search_text(lead)
    lead.save()
    duplicates.record_keys_write("lead", lead.pk, cleaned)
    audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.CREATE,
                 actor_id=actor.pk if actor else None, object_repr=str(lead),
                 changes=diff({}, snapshot(lead, LEAD_AUDITED)), summary=via)
    _rescore(lead)  # before routing: assignment rules may read the score band
    _assign([lead.pk], actor, via)
    lead.refresh_from_db()
    return CaptureResult(lead=lead, created=True)


def _capture_into(lead: Lead, cleaned: Mapping[str, Any], links: Mapping[str, int | None], actor: User | None,
                  via: str) -> CaptureResult:
    """Fill the found lead's empty fields and links; never overwrite what someone entered."""
    updates = {name: cleaned[name] for name in CAPTURE_FILLABLE if cleaned.get(name) and not getattr(lead, name)}
    updates.update({name: value for name, value in links.items() if value and not getattr(lead, name)})
    if updates:
        before = snapshot(lead, LEAD_AUDITED)
        for name, value in updates.items():
            setattr(lead, name, value)
        lead.search_text = lead_search_text(lead)
        Lead.objects.filter(pk=lead.pk).update(**updates, search_text=lead.search_text, version=F("version") + 1,
                                               updated_at=timezone.now())
        keyed = {name: getattr(lead, name) for name in duplicates.FINGERPRINT_FIELDS["lead"]}
        duplicates.record_keys_write("lead", lead.pk, keyed)
        audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.UPDATE,
                     actor_id=actor.pk if actor else None, object_repr=str(lead),
                     changes=diff(before, snapshot(lead, LEAD_AUDITED)), summary=via)
        lead.refresh_from_db()
        _rescore(lead)
    return CaptureResult(lead=lead, created=False, filled=sorted(updates))


# --- duplicate control registration ---------------------------------------------------------------
def lead_fingerprint(record_id: int | None, values: Mapping[str, Any]) -> Any:
    """Leads are compared by the person's numbers and e-mail (exact) and the company name (fuzzy):
    two leads from one company are often two people, so a similar company only informs."""
    from l2c.engines import dedup

    return dedup.fingerprint(record_id=record_id, name=str(values.get("company") or ""),
                             phones=[str(values.get("mobile") or ""), str(values.get("phone") or "")],
                             emails=[str(values.get("email") or "")])


LEAD_DUPLICATE_RULES = [
    ("phone", "手机或电话相同", "exact", "phone", 100, "warn"),
    ("email", "邮箱相同", "exact", "email", 100, "warn"),
    ("company_close", "公司名称高度相似", "fuzzy", "name", 90, "report"),
]


def register_duplicate_control() -> None:
    duplicates.register_object(object_type="lead", model=Lead, fingerprint=lead_fingerprint,
                               fields=("company", "mobile", "phone", "email"), default_rules=LEAD_DUPLICATE_RULES)

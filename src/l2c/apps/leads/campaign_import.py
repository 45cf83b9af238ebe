"""Import/export of campaign members (活动成员), registered with the activity import machinery as
object type "campaign_member" (the generic import and export pages serve it).

Import columns: campaign (the campaign id — the campaign page links to the import with it), the
person (name, company, title, mobile, phone, email, wechat, province, city; a name or company and
a mobile or e-mail required) and status (邀约/invited, the default, or 报名/registered). Each row is
captured as a lead through `lead_capture(via="campaign_import")` — duplicate control, assignment
rules and scoring, exactly as a public registration — and then invited into (or registered for)
the campaign; importing a file twice adds nobody twice. The importer needs the import permission on
campaign members and edit on the campaign. Rows are captured one by one (the capture is a
per-person decision), so a list of some thousands of people takes seconds, not milliseconds.

Export: members of the campaigns the user may export, with their person, status and times.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.imports import ROW_NUMBER_KEY, ColumnSpec, ImportContext, TabularSpec, register
from l2c.apps.customers import duplicates
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.apps.marketing import selectors as campaign_selectors
from l2c.apps.marketing import services as campaign_services
from l2c.apps.marketing.models import Campaign, CampaignMember, MemberSource, MemberStatus
from l2c.kernel.errors import FieldError

from .models import Lead
from .selectors import OPEN_STATUSES
from .services import lead_capture, person_keys
from .validation import clean_lead

PERSON_FIELDS = ("name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city")
LABELS = {
    "campaign": gettext_lazy("活动编号"), "name": gettext_lazy("姓名"), "company": gettext_lazy("公司"),
    "title": gettext_lazy("职务"), "mobile": gettext_lazy("手机"), "phone": gettext_lazy("电话"),
    "email": gettext_lazy("邮箱"), "wechat": gettext_lazy("微信"), "province": gettext_lazy("省份"),
    "city": gettext_lazy("城市"), "status": gettext_lazy("成员状态"),
}
ALIASES: dict[str, tuple[str, ...]] = {
    "campaign": ("活动", "活动ID", "市场活动", "campaign", "campaign id", "campaign_id"),
    "name": ("联系人", "name", "contact", "person"), "company": ("公司名称", "单位", "企业", "company"),
    "title": ("职位", "title", "job title"), "mobile": ("手机号", "手机号码", "mobile", "cell"),
    "phone": ("座机", "固话", "phone", "telephone"), "email": ("电子邮箱", "邮件", "email", "e-mail"),
    "wechat": ("微信号", "wechat"), "province": ("省", "province"), "city": ("市", "city"),
    "status": ("状态", "status"),
}
EXAMPLE = {"campaign": "12", "name": "张伟", "company": "杭州云帆信息技术有限公司", "title": "IT 经理",
           "mobile": "13800138000", "phone": "", "email": "zhangwei@example.com", "wechat": "", "province": "浙江",
           "city": "杭州", "status": "邀约"}
STATUS_WORDS = {"": MemberStatus.INVITED, "邀约": MemberStatus.INVITED, "已邀约": MemberStatus.INVITED,
                "invited": MemberStatus.INVITED, "报名": MemberStatus.REGISTERED, "已报名": MemberStatus.REGISTERED,
                "registered": MemberStatus.REGISTERED}


def _columns() -> list[ColumnSpec]:
    columns = [ColumnSpec(key=key, label=label, aliases=(key, *ALIASES[key]), required=key == "campaign",
                          example=EXAMPLE[key]) for key, label in LABELS.items()]
    columns += [ColumnSpec(key=key, label=label, importable=False) for key, label in (
        ("member_id", gettext_lazy("成员编号")), ("campaign_name", gettext_lazy("活动名称")),
        ("kind", gettext_lazy("类型")), ("source", gettext_lazy("来源")),
        ("invited_at", gettext_lazy("邀约时间")), ("registered_at", gettext_lazy("报名时间")),
        ("checked_in_at", gettext_lazy("签到时间")), ("no_show_at", gettext_lazy("标记未到场时间")))]
    return columns


def _preload(context: ImportContext, rows: list[dict[str, str]]) -> None:
    """The campaigns of the chunk the importer may add members to (visible, editable, not closed)."""
    allowed: dict[str, int | None] = context.cache.setdefault("campaigns", {})
    refs = {(row.get("campaign") or "").strip() for row in rows} - allowed.keys() - {""}
    ids = [int(ref) for ref in refs if ref.isascii() and ref.isdigit() and len(ref) <= 18]
    editable = set(access.restrict(Campaign.objects.filter(pk__in=ids).exclude(status="closed"), context.actor,
                                   "campaign", "edit").values_list("pk", flat=True))
    for ref in refs:
        allowed[ref] = int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 18 and int(ref) in editable \
            else None


def _validate(row: dict[str, str], number: int, context: ImportContext) -> tuple[dict[str, Any] | None,
                                                                                 list[FieldError]]:
    errors: list[FieldError] = []
    ref = (row.get("campaign") or "").strip()
    campaign_id = context.cache.get("campaigns", {}).get(ref) if ref else None
    if not ref:
        errors.append(FieldError("campaign", _("必填：活动编号"), "required", number))
    elif campaign_id is None:
        errors.append(FieldError("campaign", _("没有编号为“%(ref)s”、未关闭且你可以编辑的市场活动") % {"ref": ref[:20]},
                                 "not_found", number))
    status = STATUS_WORDS.get((row.get("status") or "").strip().lower())
    if status is None:
        errors.append(FieldError("status", _("成员状态只能是“邀约”或“报名”"), "invalid_choice", number))
    person = {key: (row.get(key) or "").strip() for key in PERSON_FIELDS if row.get(key)}
    cleaned, person_errors = clean_lead(person, partial=False, row=number)
    errors += person_errors
    if not (cleaned.get("mobile") or cleaned.get("email")) and not person_errors:
        errors.append(FieldError("mobile", _("手机和邮箱至少填写一项"), "required", number))
    if errors:
        return None, errors
    return {"campaign_id": campaign_id, "status": status, "person": person, "keys": person_keys(cleaned)}, []


def _check(context: ImportContext, rows: list[dict[str, Any]]) -> dict[int, tuple[list[FieldError],
                                                                                  list[FieldError]]]:
    """The same person as stored open leads, as `lead_capture` will decide: when none of them is a
    lead the importer may edit, the capture would be refused (撞单), so the row is refused now
    (naming nobody); a person repeated in the file is captured once (the first row's details)."""
    keys_by_row = [list(row.get("keys") or []) for row in rows]
    all_keys = sorted({key for keys in keys_by_row for key in keys})
    stored_rows = duplicates.exact_key_rows("lead", all_keys) if all_keys else []
    open_ids = set(Lead.objects.filter(pk__in={pk for _key, pk in stored_rows}, status__in=OPEN_STATUSES)
                   .values_list("pk", flat=True)) if stored_rows else set()
    by_key: dict[str, set[int]] = {}
    for key, pk in stored_rows:
        if pk in open_ids:
            by_key.setdefault(key, set()).add(pk)
    editable = set(access.visible(context.actor, "lead", "edit").filter(pk__in=open_ids)
                   .values_list("pk", flat=True)) if open_ids else set()
    seen: dict[str, int] = context.cache.setdefault("seen_people", {})
    verdicts: dict[int, tuple[list[FieldError], list[FieldError]]] = {}
    for index, (row, keys) in enumerate(zip(rows, keys_by_row, strict=True)):
        number = row[ROW_NUMBER_KEY]
        found = set().union(*(by_key.get(key, set()) for key in keys)) if keys else set()
        earlier = next((seen[key] for key in keys if key in seen and seen[key] != number), None)
        if earlier is not None:
            verdicts[index] = ([], [FieldError("mobile", _("与第 %(row)s 行是同一人；只按第一行导入此人。")
                                               % {"row": earlier}, "same_person_in_file", number)])
        elif found and not found & editable:
            message = _("已有同一人的线索（你无权查看或编辑），不能导入；请联系其负责人或管理员。")
            verdicts[index] = ([FieldError("mobile", message, "duplicate_hidden", number)], [])
        for key in keys:
            seen.setdefault(key, number)
    return verdicts


def _commit(actor: User, rows: list[dict[str, Any]]) -> int:
    """Capture each person once (a repeat of an earlier row of the chunk joins its lead) and add them
    to the campaign. A capture refused here (the data changed since the check) fails the chunk: no
    row is dropped silently."""
    added = 0
    invited: dict[int, list[int]] = {}
    captured_by_key: dict[str, int] = {}
    for row in rows:
        keys = list(row.get("keys") or [])
        lead_id = next((captured_by_key[key] for key in keys if key in captured_by_key), None)
        if lead_id is None:
            lead_id = lead_capture(actor=actor, data=row["person"], via="campaign_import",
                                   campaign_id=row["campaign_id"]).lead.pk
            for key in keys:
                captured_by_key.setdefault(key, lead_id)
        if row["status"] == MemberStatus.REGISTERED:
            registration = campaign_services.member_register(
                campaign_id=row["campaign_id"], lead_id=lead_id, source=MemberSource.IMPORT, actor=actor,
                check_open=False)
            added += int(registration.created)
        else:
            invited.setdefault(row["campaign_id"], []).append(lead_id)
    for campaign_id, lead_ids in invited.items():
        result = campaign_services.members_add_leads(actor=actor, campaign_id=campaign_id, lead_ids=lead_ids,
                                                     source=MemberSource.IMPORT)
        added += result.invited
    return added


def _export_queryset(user: User, filters: Mapping[str, Any]) -> QuerySet[CampaignMember]:
    members = access.restrict(CampaignMember.objects.all(), user, "campaign_member", "export")
    members = members.filter(campaign_selectors.person_q(user))
    campaign_id = str(filters.get("campaign_id") or "").strip()
    if campaign_id:
        members = members.filter(campaign_id=int(campaign_id) if campaign_id.isdigit() and len(campaign_id) < 19
                                 else 0)
    status = filters.get("status")
    if status in MemberStatus.values:
        members = members.filter(status=status)
    return members.select_related("campaign", "lead", "contact", "contact__account").order_by("campaign_id", "pk")


def _export_rows(queryset: QuerySet[CampaignMember]) -> Iterator[dict[str, Any]]:
    statuses = dict(MemberStatus.choices)
    sources = dict(MemberSource.choices)
    zone = timezone.get_current_timezone()
    for member in queryset.iterator(chunk_size=2000):
        person = campaign_selectors.member_person(member)
        extra = ({"title": member.lead.title, "phone": member.lead.phone, "wechat": member.lead.wechat,
                  "province": member.lead.province, "city": member.lead.city} if member.lead_id and member.lead
                 else {"title": member.contact.title, "phone": member.contact.phone, "wechat": member.contact.wechat}
                 if member.contact else {})
        yield {"campaign": member.campaign_id, "campaign_name": member.campaign.name, "member_id": member.pk,
               "name": person["name"], "company": person["company"], "mobile": person["mobile"],
               "email": person["email"], **extra, "kind": _("线索") if person["kind"] == "lead" else _("联系人"),
               "status": str(statuses.get(member.status, member.status)),
               "source": str(sources.get(member.source, member.source)),
               **{name: timezone.localtime(getattr(member, name), zone).replace(tzinfo=None)
                  if getattr(member, name) else None
                  for name in ("invited_at", "registered_at", "checked_in_at", "no_show_at")},
               "custom": {}}


def register_campaign_members() -> None:
    register(TabularSpec(
        object_type="campaign_member", label=gettext_lazy("活动成员"), fields=tuple(_columns()),
        validate_row=_validate, preload=_preload, commit_rows=_commit, check_valid_rows=_check,
        export_rows=_export_rows,
        export_queryset=_export_queryset, export_filters=("campaign_id", "status"),
    ))

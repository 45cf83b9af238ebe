"""The customer 360 profile (客户画像): every dimension of one account on one page and one API call.

Each dimension is a small function `(user, account) -> dict` running one or two indexed queries; the
page and `GET /api/v1/accounts/{id}/profile` render the same dictionaries. The account itself is read
through the visibility choke point, and so is every record a dimension lists (contacts follow the
account; duplicate candidates the user may not see are only counted).

Later modules (opportunities, quotes, contracts, invoices, payments, receivables) add their
dimensions with `register_dimension(...)` from their AppConfig.ready(); until then the profile
lists them under "not yet available".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from l2c.apps.activity.custom_fields import definitions
from l2c.apps.activity.models import AuditEvent, FollowUp, Note, Todo
from l2c.apps.identity import access
from l2c.apps.identity.models import OwnershipTransfer, Share, User

from . import duplicates
from . import pool as pool_service
from .models import (
    RISK_KIND_CATEGORY,
    Account,
    AccountRfm,
    CustomerTransaction,
    RecordMerge,
    RiskEvent,
    RiskEventStatus,
)

Builder = Callable[[User, Account], dict[str, Any]]


@dataclass(frozen=True)
class Dimension:
    key: str
    label: Any
    build: Builder


_DIMENSIONS: list[Dimension] = []
# Modules still to come; their dimensions appear here once they register (see module docstring).
UPCOMING = (("opportunities", _("商机")), ("quotes", _("报价")), ("contracts", _("合同")),
            ("invoices", _("发票")), ("payments", _("回款")), ("receivables", _("应收")))


def register_dimension(key: str, label: Any, build: Builder) -> None:
    """Add (or replace) a dimension of the 360 profile; later modules call this in ready()."""
    _DIMENSIONS[:] = [dimension for dimension in _DIMENSIONS if dimension.key != key]
    _DIMENSIONS.append(Dimension(key, label, build))


def dimensions() -> list[Dimension]:
    return list(_DIMENSIONS)


def _choice(account: Account, name: str) -> dict[str, str]:
    value = getattr(account, name)
    return {"value": value, "label": str(getattr(account, f"get_{name}_display")()) if value else ""}


# --- dimensions -----------------------------------------------------------------------------------
def registration(user: User, account: Account) -> dict[str, Any]:
    last = (AuditEvent.objects.filter(object_type="account", object_id=account.pk,
                                      summary__startswith="registration refreshed")
            .order_by("-created_at").values("created_at", "summary").first())
    return {"credit_code": account.credit_code, "legal_representative": account.legal_representative,
            "registered_capital": account.registered_capital, "founded_on": account.founded_on,
            "business_status": _choice(account, "business_status"), "industry": _choice(account, "industry"),
            "last_refreshed_at": last["created_at"] if last else None,
            "last_refresh_source": last["summary"].removeprefix("registration refreshed from ") if last else ""}


def classification(user: User, account: Account) -> dict[str, Any]:
    return {name: _choice(account, name) for name in ("size", "level", "status", "source")}


def region(user: User, account: Account) -> dict[str, Any]:
    return {"province": account.province, "city": account.city, "district": account.district,
            "address": account.address}


def channels(user: User, account: Account) -> dict[str, Any]:
    return {"phone": account.phone, "website": account.website, "short_name": account.short_name}


def tags(user: User, account: Account) -> dict[str, Any]:
    return {"tags": sorted(tag.name for tag in account.tags.all())}


def custom_values(user: User, account: Account) -> dict[str, Any]:
    return {"fields": [{"key": field.key, "label": field.label, "value": account.custom.get(field.key)}
                       for field in definitions("account") if account.custom.get(field.key) not in (None, "")]}


def ownership(user: User, account: Account) -> dict[str, Any]:
    team = [{"user": str(member.user), "role": member.role, "access": member.access}
            for member in account.team.select_related("user").order_by("created_at")]
    return {"owner": str(account.owner) if account.owner else "", "owner_id": account.owner_id,
            "department": account.department.name if account.department else "", "team": team,
            "shares": Share.objects.filter(object_type="account", object_id=account.pk).count()}


VIA_LABELS = {"transfer": _("转移"), "claim": _("领取"), "release": _("退回"), "assign": _("分配"),
              "reclaim": _("回收"), "merge": _("合并"), "import": _("导入")}


def owners_over_time(user: User, account: Account) -> dict[str, Any]:
    rows = (OwnershipTransfer.objects.filter(object_type="account", object_id=account.pk)
            .select_related("from_user", "to_user", "actor").order_by("-created_at", "-pk")[:50])
    return {"changes": [{"at": row.created_at, "from": str(row.from_user or ""), "to": str(row.to_user or ""),
                         "via": row.via, "via_label": str(VIA_LABELS.get(row.via, row.via)),
                         "reason": pool_service.reason_text(row.reason),
                         "actor": str(row.actor or "")} for row in rows]}


def pool_state(user: User, account: Account) -> dict[str, Any]:
    if account.pool_id is None:
        return {"pool": None}
    return {"pool": account.pool.name if account.pool else None, "held_since": account.held_since,
            "in_pool_since": account.pool_entered_at, "reclaim_due_at": account.reclaim_due_at,
            "days_left": pool_service.days_left(account)}


def contacts(user: User, account: Account) -> dict[str, Any]:
    # Contacts pass the contact permission of the user's role, not only the account's visibility.
    visible = access.restrict(account.contacts.all(), user, "contact")
    counts = visible.aggregate(count=Count("pk"), with_mobile=Count("pk", filter=~Q(mobile="")),
                               with_email=Count("pk", filter=~Q(email="")))
    rows = list(visible.select_related("reports_to").order_by("-is_primary", "name", "id")[:200])
    return {
        **counts,
        "contacts": [{"id": contact.pk, "name": contact.name, "title": contact.title,
                      "department": contact.department, "is_primary": contact.is_primary,
                      "reports_to": contact.reports_to.name if contact.reports_to else ""} for contact in rows],
    }


def _record_q(account: Account) -> Q:
    """Activity on the account or on one of its contacts."""
    return Q(object_type="account", object_id=account.pk) | Q(
        object_type="contact", object_id__in=account.contacts.values("pk"))


def followups(user: User, account: Account) -> dict[str, Any]:
    now = timezone.now()
    base = FollowUp.objects.filter(_record_q(account))
    counts = base.aggregate(
        total=Count("pk"), last_30=Count("pk", filter=Q(occurred_at__gte=now - dt.timedelta(days=30))),
        last_90=Count("pk", filter=Q(occurred_at__gte=now - dt.timedelta(days=90))),
        last_365=Count("pk", filter=Q(occurred_at__gte=now - dt.timedelta(days=365))),
        last_at=Max("occurred_at"), first_at=Min("occurred_at"),
    )
    recent = list(base.order_by("-occurred_at").values("occurred_at", "kind", "content", "owner__display_name")[:50])
    gaps = [(recent[i]["occurred_at"] - recent[i + 1]["occurred_at"]).total_seconds() / 86400
            for i in range(len(recent) - 1)]
    kinds = Counter(row["kind"] for row in recent)
    labels = dict(FollowUp.Kind.choices)
    return {
        **counts,
        # Cadence: the mean number of days between the last (up to) 50 follow-ups.
        "cadence_days": round(sum(gaps) / len(gaps), 1) if gaps else None,
        "days_since_last": (now - counts["last_at"]).days if counts["last_at"] else None,
        "by_kind": [{"kind": kind, "label": str(labels.get(kind, kind)), "count": count}
                    for kind, count in kinds.most_common()],
        "recent": [{"at": row["occurred_at"], "kind": str(labels.get(row["kind"], row["kind"])),
                    "content": row["content"][:200], "by": row["owner__display_name"]} for row in recent[:5]],
    }


def work_items(user: User, account: Account) -> dict[str, Any]:
    now = timezone.now()
    todos = Todo.objects.filter(_record_q(account), done_at__isnull=True).aggregate(
        open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now)), next_due=Min("due_at"))
    notes = Note.objects.filter(object_type="account", object_id=account.pk).aggregate(
        count=Count("pk"), last_at=Max("created_at"))
    return {"open_todos": todos["open"], "overdue_todos": todos["overdue"], "next_due_at": todos["next_due"],
            "notes": notes["count"], "last_note_at": notes["last_at"]}


def transactions(user: User, account: Account) -> dict[str, Any]:
    rows = (CustomerTransaction.objects.filter(account=account).values("currency")
            .annotate(count=Count("pk"), total_minor=Sum("amount_minor"), first_on=Min("occurred_on"),
                      last_on=Max("occurred_on")).order_by("currency"))
    year_ago = timezone.localdate() - dt.timedelta(days=365)
    recent = (CustomerTransaction.objects.filter(account=account, occurred_on__gt=year_ago)
              .aggregate(count=Count("pk")))
    return {"by_currency": list(rows), "last_12_months": recent["count"]}


def rfm(user: User, account: Account) -> dict[str, Any]:
    from .rfm import segment_names

    row = AccountRfm.objects.filter(account=account).first()
    if row is None:
        return {"segment": None}
    return {"segment": row.segment, "segment_name": segment_names().get(row.segment, row.segment),
            "recency_days": row.recency_days, "frequency": row.frequency, "monetary_minor": row.monetary_minor,
            "currency": row.currency, "scores": [row.recency_score, row.frequency_score, row.monetary_score],
            "as_of": row.as_of}


def risk(user: User, account: Account) -> dict[str, Any]:
    open_events = RiskEvent.objects.filter(account=account, status=RiskEventStatus.OPEN)
    by_severity = dict(open_events.values_list("severity").annotate(n=Count("pk")).values_list("severity", "n"))
    latest = [{"id": event.pk, "kind": event.get_kind_display(), "severity": event.get_severity_display(),
               "category": str(RISK_KIND_CATEGORY[event.kind].label) if event.kind in RISK_KIND_CATEGORY else "",
               "title": event.title, "occurred_on": event.occurred_on}
              for event in open_events.order_by("-occurred_on", "-pk")[:5]]
    return {"level": account.risk_level, "open_by_severity": by_severity, "latest_open": latest,
            "resolved": RiskEvent.objects.filter(account=account, status=RiskEventStatus.RESOLVED).count()}


def duplicate_candidates(user: User, account: Account) -> dict[str, Any]:
    values = {name: getattr(account, name) for name in duplicates.FINGERPRINT_FIELDS["account"]}
    check = duplicates.duplicates_find(actor=user, object_type="account", values=values, record_id=account.pk)
    return {"candidates": [duplicates.candidate_dict(candidate, "account") for candidate in check.visible[:10]],
            "hidden": check.hidden_count}


def merges(user: User, account: Account) -> dict[str, Any]:
    rows = RecordMerge.objects.filter(object_type="account", survivor_id=account.pk, undone_at__isnull=True)
    return {"merged_records": rows.count(),
            "last_merged_at": rows.aggregate(last=Max("created_at"))["last"]}


def lifecycle(user: User, account: Account) -> dict[str, Any]:
    first = CustomerTransaction.objects.filter(account=account).aggregate(first=Min("occurred_on"))["first"]
    return {"created_at": account.created_at, "created_by": str(account.created_by or ""),
            "age_days": (timezone.now() - account.created_at).days, "first_transaction_on": first,
            "last_won_at": account.last_won_at, "status": _choice(account, "status"),
            # Only meaningful when the history starts after the account was entered (imports of old
            # orders predate it).
            "days_to_first_transaction": days if first and (days := (
                first - timezone.localtime(account.created_at).date()).days) >= 0 else None}


# Fields that make a complete profile, and their weight in the completeness score.
COMPLETENESS_FIELDS = ("credit_code", "industry", "size", "province", "city", "address", "phone", "website",
                       "legal_representative", "registered_capital", "founded_on", "business_status", "level",
                       "source")


def completeness(user: User, account: Account) -> dict[str, Any]:
    missing = [name for name in COMPLETENESS_FIELDS if getattr(account, name) in (None, "")]
    has_contact = account.contacts.exists()
    total = len(COMPLETENESS_FIELDS) + 1
    filled = total - len(missing) - (0 if has_contact else 1)
    return {"percent": round(100 * filled / total), "missing": [
        str(Account._meta.get_field(name).verbose_name) for name in missing] + ([] if has_contact else [
            str(_("联系人"))])}


def changes(user: User, account: Account) -> dict[str, Any]:
    events = (AuditEvent.objects.filter(object_type="account", object_id=account.pk)
              .select_related("actor").order_by("-created_at", "-pk")[:10])
    return {"recent": [{"at": event.created_at, "action": event.get_action_display(),
                        "actor": str(event.actor) if event.actor else "", "fields": sorted(event.changes),
                        "summary": event.summary} for event in events]}


BUILT_IN = frozenset(("registration", "classification", "region", "channels", "tags", "custom", "ownership",
                      "owners_over_time", "pool", "contacts", "followups", "work_items", "transactions", "rfm",
                      "risk", "duplicates", "merges", "lifecycle", "completeness", "changes"))

for _key, _label, _build in (
    ("registration", _("工商信息"), registration),
    ("classification", _("规模与分类"), classification),
    ("region", _("地区"), region),
    ("channels", _("联系方式"), channels),
    ("tags", _("标签"), tags),
    ("custom", _("自定义字段"), custom_values),
    ("ownership", _("负责人与团队"), ownership),
    ("owners_over_time", _("负责人变更历史"), owners_over_time),
    ("pool", _("公海"), pool_state),
    ("contacts", _("联系人与角色"), contacts),
    ("followups", _("跟进历史与频率"), followups),
    ("work_items", _("待办与备注"), work_items),
    ("transactions", _("交易记录"), transactions),
    ("rfm", _("RFM 价值分析"), rfm),
    ("risk", _("风险预警"), risk),
    ("duplicates", _("疑似重复"), duplicate_candidates),
    ("merges", _("合并记录"), merges),
    ("lifecycle", _("客户生命周期"), lifecycle),
    ("completeness", _("资料完整度"), completeness),
    ("changes", _("最近变更"), changes),
):
    register_dimension(_key, _label, _build)


# --- the profile ----------------------------------------------------------------------------------
def account_profile(*, user: User, account_id: int) -> tuple[Account, list[tuple[Dimension, dict[str, Any]]]]:
    """The visible account and each dimension's data, in display order."""
    queryset = Account.objects.select_related("owner", "department", "pool", "created_by").prefetch_related("tags")
    account: Account = access.get_for_action(user, "account", account_id, "view", queryset=queryset)
    return account, [(dimension, dimension.build(user, account)) for dimension in dimensions()]


def upcoming_modules() -> list[Any]:
    """Labels of later modules that have not registered a dimension yet."""
    present = {dimension.key for dimension in _DIMENSIONS}
    return [label for key, label in UPCOMING if key not in present]

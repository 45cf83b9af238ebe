"""The decision chain (决策链) of a deal: contact roles, attitude, influence, reports-to lines; the graph
drawn on the deal page and its coverage gaps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import health as health_engine
from l2c.kernel.errors import FieldError, ValidationFailed

from .health import health_refresh
from .models import Attitude, ChainRole, Influence, Opportunity, OpportunityContact

# Marked for extraction (gettext_noop); translated where shown.
GAP_MESSAGES = {
    "no_decision_maker": gettext_noop("决策链中没有决策者"),
    "no_champion": gettext_noop("决策链中没有支持者（内线）"),
    "opponent_high_influence": gettext_noop("有高影响力的反对者"),
}


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _creates_cycle(entry_id: int | None, reports_to: OpportunityContact | None) -> bool:
    """Whether pointing `entry_id` at `reports_to` closes a loop (walks up at most the chain size)."""
    seen: set[int] = set()
    node = reports_to
    while node is not None:
        if node.pk == entry_id or node.pk in seen:
            return True
        seen.add(node.pk)
        node = node.reports_to
    return False


@transaction.atomic
def chain_member_save(*, actor: User, opportunity_id: int, data: Mapping[str, Any]) -> OpportunityContact:
    """Add a contact to the deal's decision chain, or update its entry (one entry per contact).
    The contact must be visible to the actor; `reports_to_id` names another entry of this deal."""
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    errors: list[FieldError] = []
    contact_id = _int(data.get("contact_id"))
    contact = access.visible(actor, "contact").filter(pk=contact_id).first() if contact_id else None
    if contact is None:
        errors.append(FieldError("contact_id", _("请选择一个你能查看的联系人（ID %(id)s 不存在或不可见）。")
                                 % {"id": data.get("contact_id")}, "not_found"))
    role = data.get("role")
    if role not in ChainRole.values:
        errors.append(FieldError("role", _("角色无效，可选：%(allowed)s。") % {"allowed": ", ".join(ChainRole.values)},
                                 "invalid"))
    attitude = data.get("attitude") or Attitude.NEUTRAL
    if attitude not in Attitude.values:
        errors.append(FieldError("attitude", _("态度只能是支持、中立或反对。"), "invalid"))
    influence = data.get("influence") or Influence.MEDIUM
    if influence not in Influence.values:
        errors.append(FieldError("influence", _("影响力只能是高、中或低。"), "invalid"))
    existing = OpportunityContact.objects.filter(opportunity=deal, contact_id=contact_id).first() if contact else None
    reports_to = None
    if data.get("reports_to_id") not in (None, ""):
        reports_to = OpportunityContact.objects.select_related("reports_to").filter(
            opportunity=deal, pk=_int(data.get("reports_to_id")) or 0).first()
        if reports_to is None:
            errors.append(FieldError("reports_to_id", _("汇报对象必须是这个商机决策链中的另一位成员。"), "invalid"))
        elif existing is not None and _creates_cycle(existing.pk, reports_to):
            errors.append(FieldError("reports_to_id", _("汇报关系不能形成循环。"), "cycle"))
    note = " ".join(str(data.get("note") or "").split())
    if len(note) > 300:
        errors.append(FieldError("note", _("备注最多 300 个字。"), "too_long"))
    if errors:
        raise ValidationFailed(_("决策链成员填写有误。"), errors=errors)
    assert contact is not None
    values = {"role": role, "attitude": attitude, "influence": influence, "reports_to": reports_to, "note": note}
    if existing is None:
        entry = OpportunityContact.objects.create(opportunity=deal, contact=contact, **values)
        before: dict[str, Any] = {}
    else:
        before = {"role": existing.role, "attitude": existing.attitude, "influence": existing.influence}
        for name, value in values.items():
            setattr(existing, name, value)
        existing.save()
        entry = existing
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, summary=_("决策链：%(contact)s") % {"contact": contact.name},
                 changes={"chain": [before or None, {"contact": contact.name, "role": role, "attitude": attitude,
                                                     "influence": influence}]})
    health_refresh([deal.pk])
    return entry


@transaction.atomic
def chain_member_remove(*, actor: User, opportunity_id: int, entry_id: int) -> None:
    deal: Opportunity = access.get_for_action(actor, "opportunity", opportunity_id, "edit")
    entry = OpportunityContact.objects.select_related("contact").filter(opportunity=deal, pk=entry_id).first()
    if entry is None:
        raise ValidationFailed.for_field("entry_id", _("决策链中没有这位成员。"), "not_found")
    entry.delete()  # entries reporting to it keep their place, their line is dropped (SET_NULL)
    audit_record(object_type="opportunity", object_id=deal.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=deal.name, summary=_("移出决策链：%(contact)s") % {"contact": entry.contact.name},
                 changes={"chain": [{"contact": entry.contact.name, "role": entry.role}, None]})
    health_refresh([deal.pk])


def chain_members(deal: Opportunity) -> list[health_engine.ChainMember]:
    return [health_engine.ChainMember(role, attitude, influence)
            for role, attitude, influence in deal.chain.values_list("role", "attitude", "influence")]


def chain_graph(deal: Opportunity) -> dict[str, Any]:
    """Nodes, reports-to links and gaps of the chain, for the ECharts graph and the API."""
    entries = list(deal.chain.select_related("contact").order_by("pk"))
    role_labels = dict(ChainRole.choices)
    nodes = [{"id": entry.pk, "contact_id": entry.contact_id, "name": entry.contact.name,
              "title": entry.contact.title, "role": entry.role, "role_label": str(role_labels[entry.role]),
              "attitude": entry.attitude, "influence": entry.influence, "note": entry.note,
              "reports_to_id": entry.reports_to_id} for entry in entries]
    links = [{"source": entry.pk, "target": entry.reports_to_id} for entry in entries if entry.reports_to_id]
    members = [health_engine.ChainMember(entry.role, entry.attitude, entry.influence) for entry in entries]
    gaps = [{"code": code, "message": _(GAP_MESSAGES[code])} for code in health_engine.chain_gaps(members)]
    return {"nodes": nodes, "links": links, "gaps": gaps, "score": health_engine.chain_score(members)}

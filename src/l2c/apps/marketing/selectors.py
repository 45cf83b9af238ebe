"""Reads of campaigns (市场活动): visibility, the tree, members. Every read goes through the access
choke point (object type "campaign"; members are reached through their campaign)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Model, Q, QuerySet
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError, NotFound, ValidationFailed

from .models import Campaign, CampaignKind, CampaignMember, CampaignStatus, MemberStatus

CAMPAIGN_SORTS = {"-id": "-id", "-updated_at": "-updated_at", "name": "name"}
MEMBER_SORTS = {"-id": "-id", "id": "id"}


def lead_model() -> type[Model]:
    """The lead model, reached through the member's foreign key (marketing never imports leads)."""
    return CampaignMember._meta.get_field("lead").related_model  # type: ignore[return-value]


def contact_model() -> type[Model]:
    return CampaignMember._meta.get_field("contact").related_model  # type: ignore[return-value]


def campaign_get(*, user: User, campaign_id: Any, action: str = "view") -> Campaign:
    """One campaign for an action: 404 when invisible, 403 when visible but not allowed."""
    return access.get_for_action(user, "campaign", campaign_id, action,  # type: ignore[no-any-return]
                                 queryset=Campaign.objects.select_related("owner", "parent", "department"))


def campaign_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Campaign]:
    """Campaigns the user may see, filtered by status, kind, parent (root = top level only), owner
    and a name search."""
    filters = filters or {}
    campaigns = access.visible(user, "campaign")
    status = filters.get("status")
    if status:
        if status not in CampaignStatus.values:
            raise _bad_filter("status", CampaignStatus.values)
        campaigns = campaigns.filter(status=status)
    kind = filters.get("kind")
    if kind:
        if kind not in CampaignKind.values:
            raise _bad_filter("kind", CampaignKind.values)
        campaigns = campaigns.filter(kind=kind)
    if filters.get("root"):
        campaigns = campaigns.filter(parent__isnull=True)
    if filters.get("parent_id"):
        campaigns = campaigns.filter(parent_id=filters["parent_id"])
    if filters.get("owner_id"):
        campaigns = campaigns.filter(owner_id=filters["owner_id"])
    q = str(filters.get("q") or "").strip()
    if q:
        campaigns = campaigns.filter(name__icontains=q[:100])
    return campaigns


def _bad_filter(field: str, values: list[str]) -> ValidationFailed:
    message = _("必须是以下之一：%(values)s。") % {"values": ", ".join(values)}
    return ValidationFailed(message, errors=[FieldError(field, message, "invalid_choice")])


def depth_of(path: str) -> int:
    """0 for a top-level campaign ("/3/"), 1 for its children, …"""
    return max(path.strip("/").count("/"), 0)


def subtree(campaign: Campaign) -> QuerySet[Campaign]:
    """The campaign and all its descendants (one `path LIKE` query)."""
    return Campaign.objects.filter(path__startswith=campaign.path)


@dataclass(frozen=True)
class TreeRow:
    campaign: Campaign
    depth: int


def campaign_tree(*, user: User, root: Campaign | None = None, limit: int = 2000) -> list[TreeRow]:
    """Visible campaigns in tree order (a parent before its children, siblings by start date then
    id), indented by depth; below `root` when given. A child whose parent is hidden from the user
    shows at the depth of its path all the same."""
    campaigns = access.visible(user, "campaign").select_related("owner")
    if root is not None:
        campaigns = campaigns.filter(path__startswith=root.path)
    rows = list(campaigns.order_by("path")[:limit])
    by_parent: dict[int | None, list[Campaign]] = {}
    ids = {campaign.pk for campaign in rows}
    for campaign in rows:
        parent = campaign.parent_id if campaign.parent_id in ids else None
        by_parent.setdefault(parent, []).append(campaign)
    for children in by_parent.values():
        children.sort(key=lambda item: (-(item.starts_on.toordinal() if item.starts_on else 0), item.pk))
    result: list[TreeRow] = []
    base = depth_of(root.path) if root is not None else 0

    def walk(parent: int | None) -> None:
        for child in by_parent.get(parent, []):
            result.append(TreeRow(child, depth_of(child.path) - base))
            walk(child.pk)

    walk(None)
    return result


def member_status_counts(campaign_ids: list[int]) -> dict[str, int]:
    counts = dict.fromkeys(MemberStatus.values, 0)
    for status, count in (CampaignMember.objects.filter(campaign_id__in=campaign_ids).values_list("status")
                          .annotate(count=Count("pk")).order_by()):
        counts[status] = count
    return counts


def person_q(user: User) -> Q:
    """Members whose person (lead or contact) the user may see."""
    lead_filter = access.record_filter(user, "lead", "view")
    contact_filter = access.record_filter(user, "contact", "view")
    leads = Q(lead__isnull=False) if lead_filter is None else Q(
        lead__in=lead_model()._default_manager.filter(lead_filter).values("pk"))
    contacts = Q(contact__isnull=False) if contact_filter is None else Q(
        contact__in=contact_model()._default_manager.filter(contact_filter).values("pk"))
    return leads | contacts


def campaign_members(*, user: User, campaign: Campaign, status: str | None = None, q: str = "",
                     source: str | None = None) -> QuerySet[CampaignMember]:
    """Members of a visible campaign. Whoever may edit the campaign (who runs the event) sees every
    member; others see the members whose lead or contact they may see themselves (a campaign's list
    of people is no way around lead and contact visibility)."""
    members = access.restrict(CampaignMember.objects.filter(campaign=campaign), user, "campaign_member", "view")
    if not access.restrict(Campaign.objects.filter(pk=campaign.pk), user, "campaign", "edit").exists():
        members = members.filter(person_q(user))
    if status:
        if status not in MemberStatus.values:
            raise _bad_filter("status", MemberStatus.values)
        members = members.filter(status=status)
    if source:
        members = members.filter(source=source)
    text = q.strip()[:100]
    if text:
        members = members.filter(
            Q(lead__name__icontains=text) | Q(lead__mobile__icontains=text) | Q(lead__company__icontains=text)
            | Q(lead__email__icontains=text) | Q(contact__name__icontains=text) | Q(contact__mobile__icontains=text)
            | Q(contact__email__icontains=text) | Q(contact__account__name__icontains=text)
        )
    return members.select_related("lead", "contact", "contact__account")


def member_person(member: CampaignMember) -> dict[str, Any]:
    """Display data of a member's person: name, company, mobile, email and the kind ("lead"/"contact")."""
    if member.lead_id is not None:
        lead: Any = member.lead
        return {"kind": "lead", "id": member.lead_id, "name": lead.name or lead.company or f"#{lead.pk}",
                "company": lead.company, "mobile": lead.mobile, "email": lead.email}
    contact: Any = member.contact
    return {"kind": "contact", "id": member.contact_id, "name": contact.name,
            "company": contact.account.name if contact.account_id else "", "mobile": contact.mobile,
            "email": contact.email}


def campaign_by_public_token(token: str) -> Campaign:
    """The campaign of a public registration link; NotFound for an unknown token."""
    campaign = Campaign.objects.filter(public_token=token[:40]).first() if token else None
    if campaign is None:
        raise NotFound(_("报名链接无效。"))
    return campaign


def member_by_checkin_token(*, user: User, token: str) -> CampaignMember:
    """The member of a check-in link, for staff who may see its campaign."""
    member = (CampaignMember.objects.select_related("campaign", "lead", "contact", "contact__account")
              .filter(checkin_token=token[:40]).first() if token else None)
    if member is None or not access.restrict(Campaign.objects.filter(pk=member.campaign_id), user,
                                             "campaign", "view").exists():
        raise NotFound(_("签到链接无效，或你无权查看这个活动。"))
    return member

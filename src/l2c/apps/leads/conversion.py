"""Conversion (线索转化): a qualified lead becomes an account — an existing one picked from the
duplicate candidates, or a new one — and a contact at it. Exactly once: the lead's status moves
to `converted` by a compare-and-set UPDATE first, so of two concurrent conversions one wins and the
other gets a 409; anything that fails later (a duplicate, a bad field) rolls the whole conversion
back. The lead keeps its links to the account and contact. With `opportunity` the conversion also
creates the deal (issue 5) in the same transaction, the new contact in its decision chain; a refused
deal leaves the lead unconverted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers import duplicates
from l2c.apps.customers import services as customer_services
from l2c.apps.customers.selectors import account_detail
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, ValidationFailed

from .models import Lead, LeadStatus

# Lead source → account source (accounts have fewer kinds).
ACCOUNT_SOURCE = {"website": "website", "campaign": "exhibition", "tender": "tender", "referral": "referral",
                  "cold_call": "cold_call", "partner": "partner", "advertising": "advertising"}


@dataclass(frozen=True)
class ConversionResult:
    lead: Lead
    account_id: int
    contact_id: int
    account_created: bool
    opportunity_id: int | None = None


def conversion_defaults(lead: Lead) -> tuple[dict[str, Any], dict[str, Any]]:
    """The account and contact a conversion proposes, from the lead's fields."""
    account = {"name": lead.company, "phone": lead.phone, "province": lead.province, "city": lead.city,
               "industry": lead.industry, "size": lead.size, "source": ACCOUNT_SOURCE.get(lead.source, "other"
                                                                                          if lead.source else "")}
    contact = {"name": lead.name or lead.company, "title": lead.title, "mobile": lead.mobile, "phone": lead.phone,
               "email": lead.email, "wechat": lead.wechat}
    return account, contact


def account_candidates(*, actor: User, lead: Lead) -> dict[str, Any]:
    """Existing accounts the lead's company may be (duplicate control on its name and phone): the
    ones the actor may see by id and name, and how many others exist that they may not see."""
    if not lead.company:
        return {"visible": [], "hidden": 0}
    check = duplicates.duplicates_find(actor=actor, object_type="account",
                                       values={"name": lead.company, "phone": lead.phone})
    visible = [duplicates.candidate_dict(candidate, "account") for candidate in check.visible]
    return {"visible": visible, "hidden": check.hidden_count}


def lead_matches(*, actor: User, lead: Lead) -> dict[str, Any]:
    """Who the lead already is in the customer base (duplicate control against contacts and
    accounts): contacts with the same mobile, phone or e-mail and accounts like its company — the
    ones the actor may see, and how many others exist. Shown on the lead page so nobody works a
    known customer as a new prospect (撞单), and offered by the conversion."""
    contacts = duplicates.duplicates_find(actor=actor, object_type="contact", values={
        "mobile": lead.mobile, "phone": lead.phone, "email": lead.email}) if (
        lead.mobile or lead.phone or lead.email) else None
    accounts = account_candidates(actor=actor, lead=lead)
    return {
        "contacts": [duplicates.candidate_dict(candidate, "contact") for candidate in contacts.visible]
        if contacts else [],
        "hidden_contacts": contacts.hidden_count if contacts else 0,
        "accounts": accounts["visible"], "hidden_accounts": accounts["hidden"],
    }


@contextmanager
def _prefixed(part: str) -> Iterator[None]:
    """Field errors of the new account or contact name their part: `account.name`, `contact.mobile`."""
    try:
        yield
    except ValidationFailed as failure:
        raise ValidationFailed(failure.detail, errors=[
            FieldError(f"{part}.{error.field}", error.message, error.code, error.row) for error in failure.errors
        ]) from None


@transaction.atomic
def lead_convert(*, actor: User, lead_id: int, account_id: int | None = None,
                 account: Mapping[str, Any] | None = None, contact: Mapping[str, Any] | None = None,
                 confirm_duplicates: bool = False, opportunity: Mapping[str, Any] | None = None) -> ConversionResult:
    """Convert a qualified lead. With `account_id` the contact joins that existing account (the
    actor must be able to edit it); otherwise a new account is created from `account` (defaults:
    the lead's company fields), owned by the lead's owner. `contact` overrides the proposed contact
    fields. Duplicate control applies to both; `confirm_duplicates` confirms a *warn* match.
    `opportunity` (name required; amount, close_date, process_id, next_step, contact_role …) creates
    the deal at the account, owned like the account, linked to the lead, its campaign and notice."""
    lead: Lead = access.get_for_action(actor, "lead", lead_id, "edit")
    if lead.status == LeadStatus.CONVERTED:
        raise Conflict(_("这条线索已经转化过了。"))
    if lead.status != LeadStatus.QUALIFIED:
        raise ValidationFailed(_("只有“已确认”的线索可以转化。"), errors=[FieldError(
            "status", _("线索当前状态为“%(status)s”；请先确认线索。") % {"status": LeadStatus(lead.status).label},
            "not_qualified")])
    now = timezone.now()
    # The gate: only one conversion passes it; the row stays locked until this transaction ends.
    won = Lead.objects.filter(pk=lead.pk, status=LeadStatus.QUALIFIED, converted_at__isnull=True).update(
        status=LeadStatus.CONVERTED, converted_at=now, converted_by=actor, version=F("version") + 1, updated_at=now)
    if not won:
        raise Conflict(_("这条线索已经转化过了。"))
    account_defaults, contact_defaults = conversion_defaults(lead)
    owner_id = lead.owner_id or actor.pk
    if account_id is not None:
        target = account_detail(user=actor, account_id=account_id)
        if "edit" not in access.allowed_actions(actor, "account", target):
            raise ValidationFailed(_("不能转化到这个客户。"), errors=[FieldError(
                "account_id", _("你没有编辑客户“%(name)s”的权限，不能在它下面新建联系人。") % {"name": target.name},
                "forbidden")])
        created_account, target_id = False, target.pk
    else:
        data = {**account_defaults, **(account or {}), "confirm_duplicates": confirm_duplicates}
        if not str(data.get("name") or "").strip():
            raise ValidationFailed(_("请填写客户名称。"), errors=[FieldError(
                "account.name", _("线索没有公司名称；请填写新客户的名称，或选择已有客户。"), "required")])
        if owner_id != actor.pk and "owner_id" not in (account or {}):
            data["owner_id"] = owner_id
        with _prefixed("account"):
            new_account = customer_services.account_create(actor=actor, data=data)
        created_account, target_id = True, new_account.pk
    contact_data = {**contact_defaults, **(contact or {}), "account_id": target_id,
                    "confirm_duplicates": confirm_duplicates}
    with _prefixed("contact"):
        new_contact = customer_services.contact_create(actor=actor, data=contact_data)
    Lead.objects.filter(pk=lead.pk).update(converted_account_id=target_id, converted_contact_id=new_contact.pk)
    deal_id = None
    if opportunity:
        deal_id = _convert_deal(actor, lead, target_id, new_contact.pk, owner_id, opportunity)
    audit_record(object_type="lead", object_id=lead.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=str(lead), summary="convert",
                 changes={"status": [lead.status, LeadStatus.CONVERTED], "converted_account": [None, target_id],
                          "converted_contact": [None, new_contact.pk], "opportunity": [None, deal_id]})
    lead.refresh_from_db()
    return ConversionResult(lead=lead, account_id=target_id, contact_id=new_contact.pk,
                            account_created=created_account, opportunity_id=deal_id)


def _convert_deal(actor: User, lead: Lead, account_id: int, contact_id: int, owner_id: int,
                  opportunity: Mapping[str, Any]) -> int:
    """The deal of a conversion: owned like the account (when the actor may assign it), linked to the
    lead, its campaign and tender notice; the new contact enters its decision chain with
    `contact_role` (default influencer)."""
    from l2c.apps.opportunities.chain import chain_member_save
    from l2c.apps.opportunities.services import opportunity_create

    data = {key: value for key, value in opportunity.items() if key != "contact_role"}
    data.update(account_id=account_id, lead_id=lead.pk, source="lead", campaign_id=lead.campaign_id,
                tender_notice_id=lead.tender_notice_id)
    if owner_id != actor.pk and "owner_id" not in opportunity:
        data["owner_id"] = owner_id
    with _prefixed("opportunity"):
        deal = opportunity_create(actor=actor, data=data)
        chain_member_save(actor=actor, opportunity_id=deal.pk, data={
            "contact_id": contact_id, "role": opportunity.get("contact_role") or "influencer"})
    return deal.pk

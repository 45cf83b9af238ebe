"""Shared builders of the campaign tests."""

from __future__ import annotations

from typing import Any


def make_campaign(actor: Any, name: str = "2026 华东行业峰会系列", parent: Any = None, **fields: Any) -> Any:
    from l2c.apps.marketing.services import campaign_create

    data = {"name": name, "kind": "conference", **fields}
    if parent is not None:
        data["parent_id"] = parent.pk
    return campaign_create(actor=actor, data=data)


def make_lead(owner: Any = None, name: str = "张伟", **fields: Any) -> Any:
    from l2c.apps.leads.models import Lead

    return Lead.objects.create(name=name, owner=owner, department_id=owner.department_id if owner else None,
                               **fields)


def open_registration(actor: Any, campaign: Any, **fields: Any) -> Any:
    from l2c.apps.marketing.services import campaign_status_set, campaign_update

    campaign = campaign_update(actor=actor, campaign_id=campaign.pk, data={"registration_enabled": True, **fields})
    return campaign_status_set(actor=actor, campaign_id=campaign.pk, status="registration_open")

"""State of the lead-pool panel (leads/_lead_pool_panel.html): ``{% lead_pool_state lead as state %}``
gives whether the viewer may claim or release the lead, the pools to release into and the days left
before the reclaim."""

from __future__ import annotations

from typing import Any

from django import template

from l2c.apps.identity import access
from l2c.apps.leads import pools as pool_service
from l2c.apps.leads.models import Lead

register = template.Library()


@register.simple_tag(takes_context=True)
def lead_pool_state(context: template.Context, lead: Lead) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"may_claim": False, "may_release": False, "pools": [], "days_left": None}
    member_ids = set(pool_service.pool_ids_of_member(user)) if access.can(user, "lead", "view") else set()
    may_claim = lead.owner_id is None and lead.pool_id is not None and lead.pool_id in member_ids
    may_release = lead.owner_id is not None and (
        lead.owner_id == user.pk or "transfer" in access.allowed_actions(user, "lead", lead))
    pools = list(pool_service.member_lead_pools(user)) if may_release else []
    return {"may_claim": may_claim, "may_release": may_release and bool(pools or lead.pool_id), "pools": pools,
            "days_left": pool_service.days_left(lead) or 0}

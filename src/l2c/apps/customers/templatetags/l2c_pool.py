"""The public-pool panel of an account page: ``{% load l2c_pool %}{% pool_panel account %}``.

Shows the pool the account lies in or is held under, the hold's deadline and days left, and the
release form for its owner and for users who may transfer it (a manager)."""

from __future__ import annotations

from typing import Any

from django import template

from l2c.apps.customers import pool as pool_service
from l2c.apps.customers.models import Account
from l2c.apps.identity import access

register = template.Library()


@register.inclusion_tag("customers/_pool_panel.html", takes_context=True)
def pool_panel(context: dict[str, Any], account: Account) -> dict[str, Any]:
    user = context["request"].user
    may_release = account.owner_id is not None and (
        account.owner_id == user.pk or "transfer" in access.allowed_actions(user, "account", account))
    pools = list(pool_service.member_pools(user)) if may_release else []
    return {"account": account, "may_release": may_release and bool(pools or account.pool_id),
            "pools": pools, "days_left": pool_service.days_left(account), "request": context["request"]}

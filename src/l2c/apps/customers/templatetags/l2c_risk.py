"""The risk badge and the risk panel of accounts: ``{% load l2c_risk %}``.

``{% risk_badge account %}`` shows the account's risk level (its `risk_level` column: no query)
next to its name anywhere an account is shown; it renders nothing for an account without open
risk events. It takes an Account, anything with a `risk_level` attribute or key (a `values()`
row, a duplicate candidate dict), or the level itself ("high").

``{% risk_panel account %}`` renders the account's risk events with resolve/reopen buttons
(customers/_risk_panel.html) for the requesting user; used by the account page and the 360 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

from l2c.apps.customers.models import RiskSeverity

register = template.Library()

BADGE_LABELS = {
    RiskSeverity.LOW: _("低风险"),
    RiskSeverity.MEDIUM: _("中风险"),
    RiskSeverity.HIGH: _("高风险"),
    RiskSeverity.CRITICAL: _("严重风险"),
}
BADGE_CLASSES = {
    RiskSeverity.LOW: "badge-info",
    RiskSeverity.MEDIUM: "badge-warning",
    RiskSeverity.HIGH: "badge-danger",
    RiskSeverity.CRITICAL: "badge-danger risk-critical",
}


def risk_level_of(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    level = value.get("risk_level") if isinstance(value, Mapping) else getattr(value, "risk_level", None)
    return str(level) if level else None


@register.inclusion_tag("customers/_risk_badge.html")
def risk_badge(value: Any) -> dict[str, Any]:
    """The badge of an account's risk level; empty without a level."""
    level = risk_level_of(value)
    if level not in BADGE_LABELS:
        return {"level": None}
    return {"level": level, "label": BADGE_LABELS[level],  # type: ignore[index]
            "css": BADGE_CLASSES[level],  # type: ignore[index]
            "severity": RiskSeverity(level).label}


@register.inclusion_tag("customers/_risk_panel.html", takes_context=True)
def risk_panel(context: template.Context, account: Any) -> dict[str, Any]:
    """The risk panel of one account for the requesting user."""
    from l2c.apps.customers.risk_views import risk_panel_context

    request = context["request"]
    return {"request": request, "csrf_token": context.get("csrf_token"),
            **risk_panel_context(request, account)}

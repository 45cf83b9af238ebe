"""Template tags of lead scoring: `{% lead_score_view lead as score %}` gives the panel its labelled
explanation (no query: labels come from the cached scoring configuration)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def lead_score_view(lead: Any) -> Any:
    from l2c.apps.leads.scoring import score_view

    return score_view(lead)


@register.filter
def band_badge(band: str) -> str:
    """The badge class of a score band."""
    return {"A": "badge-success", "B": "badge-primary", "C": "badge-warning"}.get(band, "")

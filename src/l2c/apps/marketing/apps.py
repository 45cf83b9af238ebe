from __future__ import annotations

from django.apps import AppConfig


class MarketingConfig(AppConfig):
    """Campaigns (市场活动): tree, members, cost items, public registration, ROI and attribution."""

    name = "l2c.apps.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        pass

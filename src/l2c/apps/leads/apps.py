from __future__ import annotations

from django.apps import AppConfig


class LeadsConfig(AppConfig):
    """Leads (线索): capture, duplicate control, pools and assignment, scoring, conversion."""

    name = "l2c.apps.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        pass

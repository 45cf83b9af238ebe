from __future__ import annotations

from django.apps import AppConfig


class TendersConfig(AppConfig):
    """Tender intelligence (招投标): notices, ingest batches, subscriptions, matches and the inbox."""

    name = "l2c.apps.tenders"
    label = "tenders"
    verbose_name = "Tenders"

    def ready(self) -> None:
        pass

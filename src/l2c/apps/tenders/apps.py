from __future__ import annotations

from django.apps import AppConfig

# Everybody who works tenders reads every notice (a public feed: no owner, no department); whoever
# ingests (API batch or file import) needs `import`. Finance gets nothing by default.
NOTICE_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("all", ("view", "export")),
    "sales_rep": ("all", ("view", "export")),
    "presales": ("all", ("view", "export")),
    "marketing": ("all", ("view", "export", "import")),
}
# Subscriptions are personal: each user keeps their own.
SUBSCRIPTION_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    role: ("own", ("view", "create", "edit", "delete"))
    for role in ("sales_manager", "sales_rep", "presales", "marketing")
}


class TendersConfig(AppConfig):
    """Tender intelligence (招投标): notices, ingest batches, subscriptions, matches and the inbox."""

    name = "l2c.apps.tenders"
    label = "tenders"
    verbose_name = "Tenders"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .importers import register_notices
        from .models import TenderNotice, TenderSubscription

        access.register(access.ObjectType(
            key="tender_notice", model=TenderNotice, label=_("招投标公告"), noun=pgettext_lazy("record", "招投标公告"),
            owner_field=None, department_field=None, default_grants=NOTICE_DEFAULTS,
        ))
        access.register(access.ObjectType(
            key="tender_subscription", model=TenderSubscription, label=_("招投标订阅"),
            noun=pgettext_lazy("record", "招投标订阅"), owner_field="user", department_field=None,
            default_grants=SUBSCRIPTION_DEFAULTS,
        ))
        register_notices()

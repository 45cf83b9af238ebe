from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.db.models import Q
from django.db.models.signals import post_migrate

if TYPE_CHECKING:
    from l2c.apps.identity.models import User


def _account_team_q(user: User, action: str) -> Q | None:
    """Account team members see the account; members with edit access may edit it."""
    from .models import AccountTeamMember

    members = AccountTeamMember.objects.filter(user_id=user.pk)
    if action == "edit":
        members = members.filter(access=AccountTeamMember.Access.EDIT)
    return Q(pk__in=members.values("account_id"))


# Reps keep their own accounts' order history (and may correct it); managers also import it.
TRANSACTION_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("subtree", ("view", "create", "edit", "delete", "export", "import")),
    "sales_rep": ("own", ("view", "create", "edit", "delete", "export")),
    "presales": ("own", ("view",)),
    "marketing": ("all", ("view", "export")),
    "finance": ("all", ("view", "export")),
}


# Everybody who sees an account sees its risk events; whoever may edit it may resolve them;
# managers also ingest them (API and import). Give an integration user a role with `import`.
RISK_EVENT_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("subtree", ("view", "edit", "export", "import")),
    "sales_rep": ("own", ("view", "edit", "export")),
    "presales": ("own", ("view",)),
    "marketing": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}


def _ensure_risk_rules(sender: AppConfig, **kwargs: object) -> None:
    # Bootstrapping, not domain flow: every risk event kind without a rule gets its default rule.
    from .risk import risk_rules_ensure_defaults

    risk_rules_ensure_defaults()


def _ensure_duplicate_rules(sender: AppConfig, **kwargs: object) -> None:
    # Bootstrapping, not domain flow: an object type without any duplicate rule gets the defaults
    # (also after a test database flush). To switch a rule off, deactivate it.
    from .duplicates import rules_ensure_defaults

    rules_ensure_defaults()


class CustomersConfig(AppConfig):
    name = "l2c.apps.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access
        from l2c.apps.identity.defaults import SALES_RECORD_DEFAULTS

        from . import importers
        from .models import Account, Contact

        access.register(access.ObjectType(
            key="account", model=Account, label=_("客户"), noun=pgettext_lazy("record", "客户"),
            extra=(_account_team_q,), default_grants=SALES_RECORD_DEFAULTS,
        ))
        access.register(access.ObjectType(
            key="contact", model=Contact, label=_("联系人"), noun=pgettext_lazy("record", "联系人"),
            owner_field=None, department_field=None,
            parent_field="account", parent_type="account", default_grants=SALES_RECORD_DEFAULTS,
        ))
        importers.register_all()
        from l2c.apps.activity.services import followup_listen

        from .pool import pool_followup_recorded

        followup_listen(pool_followup_recorded)
        self._register_transactions()
        self._register_risk()
        from .merge import register_builtin_relations

        register_builtin_relations()
        post_migrate.connect(_ensure_duplicate_rules, sender=self, dispatch_uid="l2c_duplicate_rules")
        post_migrate.connect(_ensure_risk_rules, sender=self, dispatch_uid="l2c_risk_rules")

    def _register_risk(self) -> None:
        """Risk events (风险预警): reached through their account; ingested by API and import."""
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import RiskEvent
        from .risk_importers import register_risk_events

        access.register(access.ObjectType(
            key="risk_event", model=RiskEvent, label=_("风险事件"), noun=pgettext_lazy("record", "风险事件"),
            owner_field=None, department_field=None, parent_field="account", parent_type="account",
            default_grants=RISK_EVENT_DEFAULTS,
        ))
        register_risk_events()

    def _register_transactions(self) -> None:
        """Customer transactions (RFM input): reached through their account; importable."""
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import CustomerTransaction
        from .rfm_importers import register_transactions

        access.register(access.ObjectType(
            key="transaction", model=CustomerTransaction, label=_("交易记录"), noun=pgettext_lazy("record", "交易记录"),
            owner_field=None, department_field=None, parent_field="account", parent_type="account",
            default_grants=TRANSACTION_DEFAULTS,
        ))
        register_transactions()

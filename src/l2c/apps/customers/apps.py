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
        post_migrate.connect(_ensure_duplicate_rules, sender=self, dispatch_uid="l2c_duplicate_rules")

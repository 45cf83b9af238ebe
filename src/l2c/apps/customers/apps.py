from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.db.models import Q

if TYPE_CHECKING:
    from l2c.apps.identity.models import User


def _account_team_q(user: User, action: str) -> Q | None:
    """Account team members see the account; members with edit access may edit it."""
    from .models import AccountTeamMember

    members = AccountTeamMember.objects.filter(user_id=user.pk)
    if action == "edit":
        members = members.filter(access=AccountTeamMember.Access.EDIT)
    return Q(pk__in=members.values("account_id"))


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

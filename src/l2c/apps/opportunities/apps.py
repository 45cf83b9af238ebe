from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.db.models import Q
from django.db.models.signals import post_migrate

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

# Marketing reads deals for campaign ROI; finance reads them for bookings. Pre-sales work deals
# through the deal team: membership grants view, and edit with edit access (their role's edit
# action only reaches deals they own or are edit members of).
OPPORTUNITY_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("subtree", ("view", "create", "edit", "delete", "export", "import", "transfer")),
    "sales_rep": ("own", ("view", "create", "edit", "export")),
    "presales": ("own", ("view", "edit")),
    "marketing": ("all", ("view", "export")),
    "finance": ("all", ("view", "export")),
}


def _team_q(user: User, action: str) -> Q | None:
    """Deal team members see the deal; members with edit access may edit it."""
    from .models import OpportunityTeamMember, TeamAccess

    members = OpportunityTeamMember.objects.filter(user_id=user.pk)
    if action == "edit":
        members = members.filter(access=TeamAccess.EDIT)
    return Q(pk__in=members.values("opportunity_id"))


def _ensure_defaults(sender: AppConfig, **kwargs: object) -> None:
    # Bootstrapping, not domain flow: with no sales process at all (a new database, or a test
    # database after a flush), the three built-in processes are created; admins edit them freely.
    from .processes import processes_ensure_defaults

    processes_ensure_defaults()


class OpportunitiesConfig(AppConfig):
    """Opportunities (商机): sales processes and stage gates, decision chain, health, forecast."""

    name = "l2c.apps.opportunities"
    label = "opportunities"
    verbose_name = "Opportunities"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import Opportunity

        access.register(access.ObjectType(
            key="opportunity", model=Opportunity, label=_("商机"), noun=pgettext_lazy("record", "商机"),
            extra=(_team_q,), default_grants=OPPORTUNITY_DEFAULTS,
        ))
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="l2c_sales_process_defaults")
        # A follow-up on a deal is activity on the deal (health) and on its account (pool hold).
        from l2c.apps.activity.services import followup_listen

        from .services import opportunity_followup_recorded

        followup_listen(opportunity_followup_recorded)
        # Campaigns (marketing, below us): deal counts and pipeline for ROI.
        from l2c.apps.marketing.roi import register_source

        from .campaign_roi import campaign_deal_counts

        register_source(campaign_deal_counts)
        from .importers import register_opportunities

        register_opportunities()
        # A merge of accounts or contacts re-points deals and decision-chain entries (undo moves them back).
        from l2c.apps.customers import merge

        merge.register_relation("account", "opportunities.Opportunity", "account")
        merge.register_relation("contact", "opportunities.OpportunityContact", "contact", unique_with=("opportunity",))

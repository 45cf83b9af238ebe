from __future__ import annotations

from django.apps import AppConfig

# Marketing runs campaigns; sales sees them (read-only) to invite their own contacts and leads;
# finance reads them for cost and ROI. Members are reached through their campaign.
CAMPAIGN_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "marketing": ("all", ("view", "create", "edit", "delete", "export", "import", "transfer")),
    "sales_manager": ("all", ("view", "export")),
    "sales_rep": ("all", ("view",)),
    "presales": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}
# create = invite people the user may see into a campaign they may see; edit (status changes,
# check-in) also needs edit on the campaign.
CAMPAIGN_MEMBER_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "marketing": ("all", ("view", "create", "edit", "delete", "export", "import")),
    "sales_manager": ("all", ("view", "create", "export")),
    "sales_rep": ("all", ("view", "create")),
    "presales": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}


class MarketingConfig(AppConfig):
    """Campaigns (市场活动): tree, members, cost items, public registration, ROI and attribution."""

    name = "l2c.apps.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.customers.pool import won_listen, won_revoked_listen
        from l2c.apps.identity import access

        from .attribution import campaigns_won, campaigns_won_revoked
        from .exports import register_campaigns
        from .models import Campaign, CampaignMember

        access.register(access.ObjectType(
            key="campaign", model=Campaign, label=_("市场活动"), noun=pgettext_lazy("record", "市场活动"),
            default_grants=CAMPAIGN_DEFAULTS,
        ))
        access.register(access.ObjectType(
            key="campaign_member", model=CampaignMember, label=_("活动成员"), noun=pgettext_lazy("record", "活动成员"),
            owner_field=None, department_field=None, parent_field="campaign", parent_type="campaign",
            default_grants=CAMPAIGN_MEMBER_DEFAULTS,
        ))
        won_listen(campaigns_won)
        won_revoked_listen(campaigns_won_revoked)
        register_campaigns()
        # A merge of accounts or contacts re-points these rows (and undo moves them back).
        from l2c.apps.customers import merge

        merge.register_relation("account", "marketing.CampaignAttribution", "account")
        merge.register_relation("contact", "marketing.CampaignMember", "contact", unique_with=("campaign",))

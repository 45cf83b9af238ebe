from __future__ import annotations

from django.apps import AppConfig

# Marketing owns the top of the funnel: it sees, captures, imports and routes every lead. Pool
# membership grants no view: members browse pooled leads on the pool pages, which leave out the
# contact data until a claim (like the public pool of accounts).
LEAD_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("subtree", ("view", "create", "edit", "delete", "export", "import", "transfer")),
    "sales_rep": ("own", ("view", "create", "edit", "export")),
    "presales": ("own", ("view",)),
    "marketing": ("all", ("view", "create", "edit", "delete", "export", "import", "transfer")),
    "finance": ("own", ()),
}


def _ensure_scoring_event_kinds(sender: AppConfig, **kwargs: object) -> None:
    # Bootstrapping, not domain flow: the built-in behaviour kinds that are missing (also after a
    # test database flush). To switch one off, deactivate it.
    from .scoring import event_kinds_ensure_defaults

    event_kinds_ensure_defaults()


class LeadsConfig(AppConfig):
    """Leads (线索): capture, duplicate control, pools and assignment, scoring, conversion."""

    name = "l2c.apps.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import Lead

        access.register(access.ObjectType(
            key="lead", model=Lead, label=_("线索"), noun=pgettext_lazy("record", "线索"),
            default_grants=LEAD_DEFAULTS,
        ))
        from django.db.models.signals import post_migrate

        post_migrate.connect(_ensure_scoring_event_kinds, sender=self, dispatch_uid="l2c_scoring_event_kinds")
        # A follow-up on a lead is activity on it: it moves last_activity_at and the reclaim deadline.
        from l2c.apps.activity.services import followup_listen

        from .pools import lead_followup_recorded

        followup_listen(lead_followup_recorded)
        from .importers import register_leads
        from .services import register_duplicate_control

        register_duplicate_control()
        register_leads()
        # A merge of accounts or contacts re-points a converted lead's links (and undo moves them back).
        from l2c.apps.customers import merge

        merge.register_relation("account", "leads.Lead", "converted_account")
        merge.register_relation("contact", "leads.Lead", "converted_contact")
        # Campaigns (marketing, below us): lead counts for ROI; the campaign member importer.
        from l2c.apps.marketing.roi import register_source

        from .campaign_import import register_campaign_members
        from .campaign_roi import campaign_lead_counts

        register_source(campaign_lead_counts)
        register_campaign_members()
        from l2c.apps.marketing.services import member_status_listen

        from .campaign_events import campaign_member_events

        member_status_listen(campaign_member_events)

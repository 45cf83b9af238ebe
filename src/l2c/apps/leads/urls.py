"""Routes of the leads pages (namespace "leads", included at the site root). Static paths go before
`leads/<int:lead_id>/…`."""

from django.urls import path

from . import assignment_views, pool_views, registration_views, scoring_views, views

urlpatterns = [
    # The public registration page of a campaign (no login) and its thank-you page.
    path("r/<str:token>/", registration_views.public_registration, name="public_registration"),
    path("r/<str:token>/thanks/", registration_views.public_registration_thanks, name="public_registration_thanks"),
    path("r/<str:token>/thanks/<str:checkin_token>/", registration_views.public_registration_thanks,
         name="public_registration_thanks"),
    path("leads/", views.lead_list, name="lead_list"),
    path("leads/scoring/", scoring_views.scoring_settings, name="scoring_settings"),
    path("leads/scoring/weights/<int:weights_id>/", scoring_views.scoring_weights_decide,
         name="scoring_weights_decide"),
    path("leads/scoring/jobs/<slug:job>/", scoring_views.scoring_job, name="scoring_job"),
    path("leads/new/", views.lead_create, name="lead_create"),
    path("leads/validate/", views.lead_validate, name="lead_validate"),
    path("leads/transfer/", views.lead_bulk_transfer, name="lead_bulk_transfer"),
    path("leads/invite/", views.lead_bulk_invite, name="lead_bulk_invite"),
    path("leads/from-notice/<int:notice_id>/", views.lead_from_notice, name="lead_from_notice"),
    # Lead pools and assignment rules (pool_views, assignment_views).
    path("lead-pools/", pool_views.lead_pool_list, name="pool_list"),
    path("lead-pools/manage/", pool_views.lead_pool_manage, name="pool_manage"),
    path("lead-pools/manage/new/", pool_views.lead_pool_edit, name="pool_create"),
    path("lead-pools/manage/<int:pool_id>/", pool_views.lead_pool_edit, name="pool_edit"),
    path("lead-pools/<int:pool_id>/", pool_views.lead_pool_browse, name="pool_browse"),
    path("lead-pools/<int:pool_id>/claim/", pool_views.lead_pool_claim, name="pool_claim"),
    path("lead-pools/<int:pool_id>/assign/", pool_views.lead_pool_assign, name="pool_assign"),
    path("leads/assignment-rules/", assignment_views.assignment_rules, name="assignment_rules"),
    path("leads/assignment-rules/new/", assignment_views.assignment_rule_edit, name="assignment_rule_create"),
    path("leads/assignment-rules/<int:rule_id>/", assignment_views.assignment_rule_edit, name="assignment_rule_edit"),
    path("leads/assignment-rules/<int:rule_id>/move/", assignment_views.assignment_rule_move,
         name="assignment_rule_move"),
    path("leads/assignment-rules/<int:rule_id>/delete/", assignment_views.assignment_rule_delete,
         name="assignment_rule_delete"),
    path("leads/<int:lead_id>/claim/", pool_views.lead_claim, name="lead_claim"),
    path("leads/<int:lead_id>/release/", pool_views.lead_release, name="lead_release"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead_detail"),
    path("leads/<int:lead_id>/edit/", views.lead_edit, name="lead_edit"),
    path("leads/<int:lead_id>/status/", views.lead_status, name="lead_status"),
    path("leads/<int:lead_id>/convert/", views.lead_convert, name="lead_convert"),
    path("leads/<int:lead_id>/delete/", views.lead_delete, name="lead_delete"),
]

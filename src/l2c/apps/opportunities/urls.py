"""Routes of the opportunities pages (namespace "opportunities", included at the site root). Static
paths go before `opportunities/<int:opportunity_id>/…`."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import admin_views, board_views, forecast_views, panel_views, pipeline_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    *forecast_views.urlpatterns,
    *pipeline_views.urlpatterns,
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/new/", views.opportunity_create, name="opportunity_create"),
    path("opportunities/validate/", views.opportunity_validate, name="opportunity_validate"),
    path("opportunities/transfer/", views.opportunity_bulk_transfer, name="opportunity_bulk_transfer"),
    path("opportunities/board/", board_views.opportunity_board, name="opportunity_board"),
    path("opportunities/board/<int:stage_id>/more/", board_views.opportunity_board_more,
         name="opportunity_board_more"),
    path("opportunities/processes/", admin_views.process_list, name="process_list"),
    path("opportunities/processes/new/", admin_views.process_edit, name="process_create"),
    path("opportunities/processes/<int:process_id>/", admin_views.process_edit, name="process_edit"),
    path("opportunities/accounts/<int:account_id>/", views.account_deals, name="account_deals"),
    path("opportunities/health-settings/", admin_views.health_settings, name="health_settings"),
    path("opportunities/<int:opportunity_id>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:opportunity_id>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:opportunity_id>/delete/", views.opportunity_delete, name="opportunity_delete"),
    path("opportunities/<int:opportunity_id>/move/", board_views.opportunity_move, name="opportunity_move"),
    path("opportunities/<int:opportunity_id>/gate/", panel_views.gate_preview, name="opportunity_gate"),
    path("opportunities/<int:opportunity_id>/tasks/<int:task_id>/", panel_views.task_toggle,
         name="opportunity_task"),
    path("opportunities/<int:opportunity_id>/team/", panel_views.team_change, name="opportunity_team"),
    path("opportunities/<int:opportunity_id>/chain/", panel_views.chain_change, name="opportunity_chain"),
    path("opportunities/<int:opportunity_id>/health/<slug:dimension>/", panel_views.health_answer,
         name="opportunity_health_answer"),
]

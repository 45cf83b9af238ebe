"""Routes of the marketing pages (namespace "marketing", included at the site root)."""

from django.urls import path

from . import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/checkin/<str:token>/", views.member_checkin, name="member_checkin"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/status/", views.campaign_status, name="campaign_status"),
    path("campaigns/<int:campaign_id>/registration/", views.campaign_registration, name="campaign_registration"),
    path("campaigns/<int:campaign_id>/costs/", views.cost_add, name="cost_add"),
    path("campaigns/<int:campaign_id>/costs/<int:cost_id>/delete/", views.cost_delete, name="cost_delete"),
    path("campaigns/<int:campaign_id>/people/", views.people_search, name="people_search"),
    path("campaigns/<int:campaign_id>/members/invite/", views.members_invite, name="members_invite"),
    path("campaigns/<int:campaign_id>/members/search/", views.member_search, name="member_search"),
    path("campaigns/<int:campaign_id>/members/status/", views.members_status, name="members_status"),
    path("campaigns/<int:campaign_id>/members/<int:member_id>/checkin/", views.member_check_in_inline,
         name="member_check_in_inline"),
]

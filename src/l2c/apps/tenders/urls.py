"""Routes of the tenders pages (namespace "tenders", included at the site root)."""

from django.urls import path

from . import views

urlpatterns = [
    path("tenders/", views.notice_list, name="notice_list"),
    path("tenders/notices/<int:notice_id>/", views.notice_detail, name="notice_detail"),
    path("tenders/subscriptions/", views.subscription_list, name="subscription_list"),
    path("tenders/subscriptions/new/", views.subscription_form, name="subscription_create"),
    path("tenders/subscriptions/<int:subscription_id>/edit/", views.subscription_form, name="subscription_edit"),
    path("tenders/subscriptions/<int:subscription_id>/delete/", views.subscription_delete,
         name="subscription_delete"),
    path("tenders/subscriptions/<int:subscription_id>/search/", views.subscription_search,
         name="subscription_search"),
    path("tenders/inbox/", views.inbox, name="inbox"),
    path("tenders/inbox/read/", views.inbox_read, name="inbox_read"),
]

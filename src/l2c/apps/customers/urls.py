"""Placeholder routes; the customer pages are being written."""

from django.urls import path

from l2c.web.views import home

urlpatterns = [
    path("accounts/", home, name="account_list"),
    path("contacts/", home, name="contact_list"),
]
urlpatterns += [
    path("accounts/<int:account_id>/", home, name="account_detail"),
    path("contacts/<int:contact_id>/", home, name="contact_detail"),
]

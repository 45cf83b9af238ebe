"""Routes of the tenders pages (namespace "tenders", included at the site root)."""

from django.urls import path

urlpatterns: list = []

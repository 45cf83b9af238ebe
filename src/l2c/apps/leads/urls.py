"""Routes of the leads pages (namespace "leads", included at the site root)."""

from django.urls import path

urlpatterns: list = []

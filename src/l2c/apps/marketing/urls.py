"""Routes of the marketing pages (namespace "marketing", included at the site root)."""

from django.urls import path

urlpatterns: list = []

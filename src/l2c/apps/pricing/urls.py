"""Routes of the pricing pages (namespace "pricing", included at the site root): price books,
promotions, coupons, margin policy (views); the price preview and promotion simulation (preview_views)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from . import preview_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    *preview_views.urlpatterns,
    *views.urlpatterns,
]

"""Routes of the catalogue pages (namespace "catalog", included at the site root): products, SKUs,
BOM, categories and attributes (views); configuration rules and the configurator (configurator_views)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from . import configurator_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    *configurator_views.urlpatterns,  # /catalog/configurator/…, /catalog/rules/… before /catalog/<…>
    *views.urlpatterns,
]

from __future__ import annotations

from django.apps import AppConfig

# The catalogue is company-wide (no owner): everyone in sales reads it; admins (all actions by role)
# and sales managers maintain it.
PRODUCT_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("all", ("view", "create", "edit", "delete", "export", "import")),
    "sales_rep": ("all", ("view", "export")),
    "presales": ("all", ("view", "export")),
    "marketing": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}


class CatalogConfig(AppConfig):
    """Catalogue (产品目录): categories, attributes, products, SKUs, BOM and configuration rules."""

    name = "l2c.apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import Product, Sku

        access.register(access.ObjectType(
            key="product", model=Product, label=_("产品"), noun=pgettext_lazy("record", "产品"),
            owner_field=None, department_field=None, default_grants=PRODUCT_DEFAULTS,
        ))
        # SKUs are reached through their product (their own grants gate import/export of SKU files,
        # as contacts are reached through accounts).
        access.register(access.ObjectType(
            key="sku", model=Sku, label=_("SKU"), noun=pgettext_lazy("record", "SKU"),
            owner_field=None, department_field=None, parent_field="product", parent_type="product",
            default_grants=PRODUCT_DEFAULTS,
        ))
        from .importers import register_catalog

        register_catalog()

from __future__ import annotations

from django.apps import AppConfig

# Price books and promotions are company-wide (no owner). Sales managers maintain books; marketing
# runs promotions; reps and pre-sales read both (to explain a price); finance reads.
PRICE_BOOK_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("all", ("view", "create", "edit", "delete", "export", "import")),
    "sales_rep": ("all", ("view",)),
    "presales": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}
PROMOTION_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("all", ("view", "create", "edit", "delete", "export", "import")),
    "marketing": ("all", ("view", "create", "edit", "delete", "export", "import")),
    "sales_rep": ("all", ("view",)),
    "presales": ("all", ("view",)),
    "finance": ("all", ("view", "export")),
}


class PricingConfig(AppConfig):
    """Pricing (价格): price books, promotions, coupons, quota reservations, margin guard, preview."""

    name = "l2c.apps.pricing"
    label = "pricing"
    verbose_name = "Pricing"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _
        from django.utils.translation import pgettext_lazy

        from l2c.apps.identity import access

        from .models import PriceBook, Promotion

        access.register(access.ObjectType(
            key="price_book", model=PriceBook, label=_("价目表"), noun=pgettext_lazy("record", "价目表"),
            owner_field=None, department_field=None, default_grants=PRICE_BOOK_DEFAULTS,
        ))
        access.register(access.ObjectType(
            key="promotion", model=Promotion, label=_("促销"), noun=pgettext_lazy("record", "促销"),
            owner_field=None, department_field=None, default_grants=PROMOTION_DEFAULTS,
        ))

        from .importers import register_price_book_entries

        register_price_book_entries()

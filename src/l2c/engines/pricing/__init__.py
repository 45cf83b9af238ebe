"""The pricing engine (ADR 0006): price books, promotions, margin guard — pure and explained.

`compile_catalog` (once per rules version) → `CompiledCatalog`; `price(catalog, request)` or a
`PricingSession` for incremental re-pricing; `parse_params` / `parse_entry` / `validate_promotion`
refuse bad rules on save with a `RuleError` naming the field.
"""

from .compile import (
    CompiledCatalog,
    RuleError,
    compile_catalog,
    parse_adjustment,
    parse_entry,
    parse_params,
    validate_promotion,
)
from .engine import PricingSession, price

__all__ = [
    "CompiledCatalog",
    "PricingSession",
    "RuleError",
    "compile_catalog",
    "parse_adjustment",
    "parse_entry",
    "parse_params",
    "price",
    "validate_promotion",
]

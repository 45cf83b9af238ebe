"""The pricing engine (ADR 0006): price books, promotions, margin guard — pure and explained.

`compile_catalog` (once per rules version) → `CompiledCatalog`; `price(catalog, request)` or a
`PricingSession` for incremental re-pricing; `parse_params` / `parse_entry` / `validate_promotion`
refuse bad rules on save with a `RuleError` naming the field.

`NATIVE` says whether the modules run as their mypyc build (ADR 0007, `l2c.engines.native`).
"""

from l2c.engines.native import use_compiled

NATIVE = use_compiled(__name__)

from .compile import (  # noqa: E402 - after the choice between the compiled and the source modules
    CompiledCatalog,
    RuleError,
    compile_catalog,
    parse_adjustment,
    parse_entry,
    parse_params,
    validate_promotion,
)
from .engine import PricingSession, price  # noqa: E402

__all__ = [
    "NATIVE",
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

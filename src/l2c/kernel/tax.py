"""Chinese VAT (增值税) on tax-inclusive prices (含税价).

Prices are tax-inclusive by default: ``net = round(gross / (1 + rate))`` and
``tax = gross - net``, so ``net + tax == gross`` exactly. Splits are made per line, on amounts
already rounded to the minor unit (fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import Money, Rounding

__all__ = ["VAT_RATES", "InvalidTaxRate", "TaxSplit", "add_tax", "split_inclusive"]

# Statutory VAT rates: 13 % goods, 9 % transport/construction/agricultural goods, 6 % modern
# services, 3 % small-scale taxpayers (征收率), 0 % exports and exempt supplies.
VAT_RATES: tuple[Decimal, ...] = (
    Decimal("0.13"),
    Decimal("0.09"),
    Decimal("0.06"),
    Decimal("0.03"),
    Decimal("0"),
)


class InvalidTaxRate(ValueError):
    """The rate is not a statutory VAT rate (or, with ``allow_any_rate``, is negative)."""


@dataclass(frozen=True)
class TaxSplit:
    """One line's amount split into net (不含税金额) and tax (税额); ``net + tax == gross``."""

    gross: Money
    net: Money
    tax: Money
    rate: Decimal

    def __post_init__(self) -> None:
        if not (self.gross.currency == self.net.currency == self.tax.currency):
            raise ValueError("gross, net and tax must share one currency")
        if self.net + self.tax != self.gross:
            raise ValueError(f"net {self.net} + tax {self.tax} != gross {self.gross}")


def _check_rate(rate: Decimal, allow_any_rate: bool) -> None:
    if not isinstance(rate, Decimal):
        raise TypeError(f"rate must be Decimal, not {type(rate).__name__}")
    if not rate.is_finite() or rate < 0:
        raise InvalidTaxRate(f"tax rate must be a non-negative number, got {rate}")
    if not allow_any_rate and rate not in VAT_RATES:
        raise InvalidTaxRate(f"{rate} is not a VAT rate (13%, 9%, 6%, 3% or 0%)")


def _check_rounded(amount: Money, name: str) -> None:
    if not amount.is_rounded:
        raise ValueError(f"{name} {amount} must be rounded to minor units first")


def split_inclusive(
    gross: Money,
    rate: Decimal,
    rounding: Rounding = Rounding.HALF_UP,
    *,
    allow_any_rate: bool = False,
) -> TaxSplit:
    """Split a tax-inclusive amount: ``net = round(gross / (1 + rate))``, ``tax = gross - net``.

    ``gross`` must already be rounded to the minor unit (``ValueError`` otherwise). Rates
    outside ``VAT_RATES`` raise ``InvalidTaxRate`` unless ``allow_any_rate`` is set. Negative
    amounts (credit notes) split symmetrically because every ``Rounding`` mode is symmetric.
    """
    _check_rate(rate, allow_any_rate)
    _check_rounded(gross, "gross")
    net = (gross / (1 + rate)).round(rounding)
    return TaxSplit(gross=gross, net=net, tax=gross - net, rate=rate)


def add_tax(
    net: Money,
    rate: Decimal,
    rounding: Rounding = Rounding.HALF_UP,
    *,
    allow_any_rate: bool = False,
) -> TaxSplit:
    """Add tax to a tax-exclusive amount: ``tax = round(net * rate)``, ``gross = net + tax``.

    With HALF_UP or HALF_EVEN, ``split_inclusive(add_tax(net, r).gross, r).net == net`` for
    every rate (the rounding error shrinks by ``1 + r``). The other direction does not hold:
    ``split_inclusive`` of 1.00 at 13 % gives net 0.88, and ``add_tax`` of 0.88 gives 0.99.
    """
    _check_rate(rate, allow_any_rate)
    _check_rounded(net, "net")
    tax = (net * rate).round(rounding)
    return TaxSplit(gross=net + tax, net=net, tax=tax, rate=rate)

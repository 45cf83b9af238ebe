"""Money: a Decimal amount that always carries its ISO 4217 currency.

Invariants:

* Amounts are never floats. ``Money`` accepts ``Decimal`` or ``int`` only.
* Arithmetic between amounts requires the same currency (``CurrencyMismatch`` otherwise).
* Rounding is always named (``Rounding``); CNY uses half-up (四舍五入) by default.
* Splits use largest-remainder allocation on integer minor units, so the parts always sum
  exactly to the whole.

All arithmetic runs in a private, fixed ``decimal.Context`` so results never depend on the
caller's thread-local decimal context.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

__all__ = [
    "CURRENCY_EXPONENTS",
    "CurrencyMismatch",
    "Money",
    "Rounding",
    "UnknownCurrency",
    "allocate_minor",
    "currency_exponent",
    "sum_money",
]

# Number of decimal places of one minor unit (fen, cent, ...) per ISO 4217 currency code.
CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {
        "CNY": 2,
        "HKD": 2,
        "MOP": 2,
        "TWD": 2,
        "USD": 2,
        "EUR": 2,
        "GBP": 2,
        "CHF": 2,
        "AUD": 2,
        "CAD": 2,
        "NZD": 2,
        "SGD": 2,
        "MYR": 2,
        "THB": 2,
        "INR": 2,
        "RUB": 2,
        "AED": 2,
        "SAR": 2,
        "SEK": 2,
        "NOK": 2,
        "DKK": 2,
        "BRL": 2,
        "MXN": 2,
        "ZAR": 2,
        "JPY": 0,
        "KRW": 0,
        "VND": 0,
        "IDR": 2,
        "BHD": 3,
        "KWD": 3,
        "OMR": 3,
    }
)

# Fixed arithmetic context: 50 significant digits is far beyond any 64-bit minor-unit amount
# times a unit price, so intermediate results are exact in practice; traps turn silent NaN or
# infinity into exceptions.
_CONTEXT = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


class UnknownCurrency(ValueError):
    """The currency code is not in ``CURRENCY_EXPONENTS``."""


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined or compared."""


class Rounding(enum.Enum):
    """Named rounding modes; every mode is symmetric around zero.

    HALF_UP: 四舍五入, ties away from zero (CNY default).
    HALF_EVEN: banker's rounding, ties to the even digit.
    DOWN: truncate toward zero.
    UP: away from zero.
    """

    HALF_UP = decimal.ROUND_HALF_UP
    HALF_EVEN = decimal.ROUND_HALF_EVEN
    DOWN = decimal.ROUND_DOWN
    UP = decimal.ROUND_UP


def currency_exponent(code: str) -> int:
    """Return the number of decimal places of the currency's minor unit."""
    try:
        return CURRENCY_EXPONENTS[code]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"unknown currency {code!r}") from None


def _minor_unit(code: str) -> Decimal:
    """The value of one minor unit as a Decimal exponent template (``Decimal('0.01')``)."""
    return Decimal(1).scaleb(-currency_exponent(code), _CONTEXT)


def _require_number(value: object, name: str) -> Decimal:
    """Accept ``Decimal`` or ``int`` (not ``bool``, never ``float``) and return a finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be Decimal or int, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def _require_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be int, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Money:
    """An amount of money in one currency.

    ``amount`` may carry more decimal places than the currency's minor unit (for instance a
    unit price or an intermediate product); call ``round`` to bring it onto the minor-unit grid
    before posting it. Equality is numeric: ``Money(Decimal("1.0")) == Money(Decimal("1.00"))``.
    Amounts in different currencies are never equal and cannot be ordered.
    """

    amount: Decimal
    currency: str = "CNY"

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _require_number(self.amount, "amount"))
        if not isinstance(self.currency, str):
            raise TypeError(f"currency must be str, not {type(self.currency).__name__}")
        currency_exponent(self.currency)

    # Constructors -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str = "CNY") -> Money:
        """Zero in ``currency``, written with the currency's decimal places (``0.00``)."""
        return cls(_CONTEXT.multiply(_minor_unit(currency), Decimal(0)), currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str = "CNY") -> Money:
        """Build an amount from an integer count of minor units: ``1230`` CNY fen → ``12.30``."""
        units = _require_int(units, "units")
        return cls(Decimal(units).scaleb(-currency_exponent(currency), _CONTEXT), currency)

    # Queries ------------------------------------------------------------------------------

    @property
    def is_zero(self) -> bool:
        return self.amount.is_zero()

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_rounded(self) -> bool:
        """True when the amount lies exactly on the currency's minor-unit grid."""
        return self.amount == self.amount.quantize(_minor_unit(self.currency), context=_CONTEXT)

    # Rounding and minor units -------------------------------------------------------------

    def round(self, rounding: Rounding = Rounding.HALF_UP) -> Money:
        """Round to the currency's minor unit (2 places for CNY, 0 for JPY) with ``rounding``."""
        quantized = self.amount.quantize(
            _minor_unit(self.currency), rounding=rounding.value, context=_CONTEXT
        )
        return Money(quantized, self.currency)

    def to_minor_units(self, rounding: Rounding = Rounding.HALF_UP) -> int:
        """The amount as an integer count of minor units (fen for CNY).

        An amount already on the minor-unit grid converts exactly. An amount with more decimal
        places is first rounded with ``rounding`` (half-up by default); call ``round``
        explicitly, or check ``is_rounded``, when silent rounding is not wanted.
        """
        rounded = self.round(rounding).amount
        return int(rounded.scaleb(currency_exponent(self.currency), _CONTEXT))

    # Arithmetic ---------------------------------------------------------------------------

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(_CONTEXT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(_CONTEXT.subtract(self.amount, other.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money):
            return NotImplemented
        number = _require_number(factor, "factor")
        return Money(_CONTEXT.multiply(self.amount, number), self.currency)

    __rmul__ = __mul__

    def __truediv__(self, divisor: Decimal | int) -> Money:
        """Divide by a number; the quotient is unrounded (50 significant digits)."""
        if isinstance(divisor, Money):
            return NotImplemented
        number = _require_number(divisor, "divisor")
        if number.is_zero():
            raise ZeroDivisionError("division of money by zero")
        return Money(_CONTEXT.divide(self.amount, number), self.currency)

    def __neg__(self) -> Money:
        return Money(_CONTEXT.minus(self.amount), self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(_CONTEXT.abs(self.amount), self.currency)

    # Ordering (only within one currency) --------------------------------------------------

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount >= other.amount

    # Presentation -------------------------------------------------------------------------

    def __str__(self) -> str:
        """``"CNY 12.30"``: padded to the currency's decimal places, never rounded."""
        amount = self.amount
        if amount.is_zero():
            amount = amount.copy_abs()
        exponent = amount.as_tuple().exponent
        assert isinstance(exponent, int)  # finite amounts always have an integer exponent
        if -exponent < currency_exponent(self.currency):
            amount = amount.quantize(_minor_unit(self.currency), context=_CONTEXT)
        return f"{self.currency} {amount:f}"

    # Allocation ---------------------------------------------------------------------------

    def allocate(self, weights: Sequence[Decimal | int]) -> list[Money]:
        """Split this amount in proportion to ``weights`` (see ``allocate_minor``).

        The amount must already be rounded to the minor unit (``ValueError`` otherwise), so
        the parts always sum exactly to it.
        """
        if not self.is_rounded:
            raise ValueError(f"round {self} to minor units before allocating it")
        parts = allocate_minor(self.to_minor_units(), weights)
        return [Money.from_minor_units(part, self.currency) for part in parts]


def sum_money(amounts: Iterable[Money], currency: str = "CNY") -> Money:
    """Sum of ``amounts``, all in ``currency``; an empty iterable gives ``Money.zero(currency)``."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def _scaled_weights(weights: Sequence[Decimal | int]) -> list[int]:
    """Exact non-negative integer weights proportional to ``weights`` (common power of ten)."""
    numbers = [_require_number(weight, f"weights[{index}]") for index, weight in enumerate(weights)]
    for index, number in enumerate(numbers):
        if number < 0:
            raise ValueError(f"weights[{index}] must not be negative, got {number}")
    scale = 0
    for number in numbers:
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        scale = max(scale, -exponent)
    scaled: list[int] = []
    for number in numbers:
        _, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)
        coefficient = int("".join(str(digit) for digit in digits))
        scaled.append(coefficient * 10 ** (exponent + scale))
    return scaled


def allocate_minor(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """Split ``total`` minor units into integer parts proportional to ``weights``.

    Largest-remainder method, computed exactly with integers:

    * every part is the floor of its exact share, and the units left over go one each to the
      parts with the largest remainders, so ``sum(parts) == total`` always and no part differs
      from its exact share by one minor unit or more;
    * ties in remainder go to the larger weight, then to the lower index. Equal weights always
      have equal remainders, so the index only decides among equal weights: permuting the
      inputs permutes the outputs, except that parts of equal weight (which differ by at most
      one unit) may trade places. The multiset of ``(weight, part)`` pairs never changes;
    * all-zero weights split equally (as if every weight were 1);
    * a negative total is allocated as ``-allocate_minor(-total, weights)``, so the larger
      magnitudes land on the same positions as for the positive total;
    * weights must be non-negative ``Decimal`` or ``int``; no weights with a non-zero total is
      a ``ValueError`` (zero over no weights is ``[]``).

    >>> allocate_minor(100, [1, 1, 1])
    [34, 33, 33]
    """
    total = _require_int(total, "total")
    scaled = _scaled_weights(weights)
    if not scaled:
        if total == 0:
            return []
        raise ValueError("cannot allocate a non-zero total over no weights")
    if total < 0:
        return [-part for part in allocate_minor(-total, weights)]
    weight_sum = sum(scaled)
    if weight_sum == 0:
        scaled = [1] * len(scaled)
        weight_sum = len(scaled)
    parts: list[int] = []
    remainders: list[int] = []
    for weight in scaled:
        part, remainder = divmod(total * weight, weight_sum)
        parts.append(part)
        remainders.append(remainder)
    leftover = total - sum(parts)  # 0 <= leftover < len(parts)
    order = sorted(range(len(parts)), key=lambda index: (-remainders[index], -scaled[index], index))
    for index in order[:leftover]:
        parts[index] += 1
    return parts

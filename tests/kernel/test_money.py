from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.kernel.money import (
    CURRENCY_EXPONENTS,
    CurrencyMismatch,
    Money,
    Rounding,
    UnknownCurrency,
    currency_exponent,
    sum_money,
)

D = Decimal

amounts = st.decimals(
    min_value=D("-1e12"), max_value=D("1e12"), places=4, allow_nan=False, allow_infinity=False
)
minor_units = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("CNY", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("HKD", 2), ("GBP", 2), ("KRW", 0), ("KWD", 3)],
)
def test_currency_exponent_table(code, exponent):
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XXX", "cny", "", "RMB"])
def test_currency_exponent_rejects_unknown_codes(code):
    with pytest.raises(UnknownCurrency):
        currency_exponent(code)


def test_unknown_currency_is_a_value_error():
    assert issubclass(UnknownCurrency, ValueError)
    assert issubclass(CurrencyMismatch, ValueError)


def test_money_defaults_to_cny_and_keeps_the_decimal():
    money = Money(D("12.30"))

    assert money.currency == "CNY"
    assert money.amount == D("12.30")
    assert str(money.amount) == "12.30"


def test_money_accepts_int_and_stores_a_decimal():
    money = Money(12, "USD")

    assert type(money.amount) is Decimal
    assert money.amount == D(12)


@pytest.mark.parametrize("amount", [1.5, 0.1, True, "1.00", None])
def test_money_rejects_float_bool_and_other_types(amount):
    with pytest.raises(TypeError):
        Money(amount)


@pytest.mark.parametrize("amount", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_money_rejects_non_finite_amounts(amount):
    with pytest.raises(ValueError, match="finite"):
        Money(amount)


def test_money_rejects_unknown_currency():
    with pytest.raises(UnknownCurrency):
        Money(D("1.00"), "ABC")


def test_money_is_immutable():
    money = Money(D("1.00"))

    with pytest.raises(AttributeError):
        money.amount = D("2.00")  # type: ignore[misc]


def test_equality_is_numeric_and_currency_sensitive():
    assert Money(D("1.0")) == Money(D("1.00"))
    assert hash(Money(D("1.0"))) == hash(Money(D("1.00")))
    assert Money(D("1.00"), "USD") != Money(D("1.00"), "CNY")
    assert Money(D("1.00")) != D("1.00")


def test_addition_and_subtraction_in_one_currency():
    assert Money(D("10.10")) + Money(D("0.25")) == Money(D("10.35"))
    assert Money(D("10.10")) - Money(D("0.25")) == Money(D("9.85"))
    assert Money(D("0.10")) - Money(D("0.30")) == Money(D("-0.20"))


@pytest.mark.parametrize("operation", ["add", "sub", "lt", "le", "gt", "ge"])
def test_currency_mismatch_is_rejected(operation):
    cny, usd = Money(D("1.00"), "CNY"), Money(D("1.00"), "USD")
    operations = {
        "add": lambda: cny + usd,
        "sub": lambda: cny - usd,
        "lt": lambda: cny < usd,
        "le": lambda: cny <= usd,
        "gt": lambda: cny > usd,
        "ge": lambda: cny >= usd,
    }

    with pytest.raises(CurrencyMismatch, match="CNY with USD"):
        operations[operation]()


def test_adding_a_plain_number_is_a_type_error():
    with pytest.raises(TypeError):
        Money(D("1.00")) + D("1.00")  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(D("1.00")) + 1  # type: ignore[operator]


def test_multiplication_by_decimal_and_int_both_sides():
    price = Money(D("19.99"))

    assert price * 3 == Money(D("59.97"))
    assert 3 * price == Money(D("59.97"))
    assert price * D("0.5") == Money(D("9.995"))
    assert D("0.5") * price == Money(D("9.995"))


@pytest.mark.parametrize("factor", [1.5, True, "2"])
def test_multiplication_rejects_float_and_other_types(factor):
    with pytest.raises(TypeError):
        Money(D("1.00")) * factor


def test_multiplying_money_by_money_is_a_type_error():
    with pytest.raises(TypeError):
        Money(D("1.00")) * Money(D("2.00"))  # type: ignore[operator]


def test_division_is_unrounded_until_round_is_called():
    third = Money(D("100.00")) / 3

    assert third.amount == D("33.333333333333333333333333333333333333333333333333")
    assert third.round() == Money(D("33.33"))
    assert Money(D("10.00")) / D("4") == Money(D("2.50"))


def test_division_by_zero_and_by_float():
    with pytest.raises(ZeroDivisionError):
        Money(D("1.00")) / 0
    with pytest.raises(TypeError):
        Money(D("1.00")) / 2.0


def test_negation_absolute_value_and_sign_predicates():
    money = Money(D("5.00"))

    assert -money == Money(D("-5.00"))
    assert abs(-money) == money
    assert +money == money
    assert (-money).is_negative
    assert money.is_positive
    assert not money.is_zero
    assert Money.zero().is_zero
    assert not Money.zero().is_positive
    assert not Money.zero().is_negative


def test_ordering_within_one_currency():
    small, large = Money(D("1.00")), Money(D("2.00"))

    assert small < large
    assert small <= Money(D("1.0"))
    assert large > small
    assert large >= large
    assert max([small, large]) == large
    assert sorted([large, small]) == [small, large]


@pytest.mark.parametrize(
    ("amount", "currency", "rounding", "expected"),
    [
        ("2.345", "CNY", Rounding.HALF_UP, "2.35"),
        ("2.345", "CNY", Rounding.HALF_EVEN, "2.34"),
        ("2.345", "CNY", Rounding.DOWN, "2.34"),
        ("2.345", "CNY", Rounding.UP, "2.35"),
        ("2.355", "CNY", Rounding.HALF_EVEN, "2.36"),
        ("2.341", "CNY", Rounding.HALF_UP, "2.34"),
        ("2.341", "CNY", Rounding.UP, "2.35"),
        ("2.349", "CNY", Rounding.DOWN, "2.34"),
        ("-2.345", "CNY", Rounding.HALF_UP, "-2.35"),
        ("-2.345", "CNY", Rounding.HALF_EVEN, "-2.34"),
        ("-2.345", "CNY", Rounding.DOWN, "-2.34"),
        ("-2.341", "CNY", Rounding.UP, "-2.35"),
        ("0.005", "CNY", Rounding.HALF_UP, "0.01"),
        ("0.005", "CNY", Rounding.HALF_EVEN, "0.00"),
        ("2.5", "CNY", Rounding.HALF_UP, "2.50"),
        ("12.5", "JPY", Rounding.HALF_UP, "13"),
        ("12.5", "JPY", Rounding.HALF_EVEN, "12"),
        ("13.5", "JPY", Rounding.HALF_EVEN, "14"),
        ("1.0005", "KWD", Rounding.HALF_UP, "1.001"),
    ],
)
def test_rounding_modes_table(amount, currency, rounding, expected):
    rounded = Money(D(amount), currency).round(rounding)

    assert rounded == Money(D(expected), currency)
    assert str(rounded.amount) == expected


def test_round_defaults_to_half_up():
    assert Money(D("2.345")).round() == Money(D("2.35"))


def test_rounding_enum_maps_to_decimal_constants():
    import decimal

    assert Rounding.HALF_UP.value == decimal.ROUND_HALF_UP
    assert Rounding.HALF_EVEN.value == decimal.ROUND_HALF_EVEN
    assert Rounding.DOWN.value == decimal.ROUND_DOWN
    assert Rounding.UP.value == decimal.ROUND_UP


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("12.30", "CNY", 1230),
        ("12.3", "CNY", 1230),
        ("-0.01", "CNY", -1),
        ("0", "CNY", 0),
        ("1234", "JPY", 1234),
        ("1.234", "KWD", 1234),
        ("2.345", "CNY", 235),
        ("-2.345", "CNY", -235),
    ],
)
def test_to_minor_units_table(amount, currency, units):
    assert Money(D(amount), currency).to_minor_units() == units


def test_to_minor_units_uses_the_named_rounding():
    assert Money(D("2.345")).to_minor_units(Rounding.HALF_EVEN) == 234
    assert Money(D("2.341")).to_minor_units(Rounding.UP) == 235


@pytest.mark.parametrize(
    ("units", "currency", "text"),
    [
        (1230, "CNY", "12.30"),
        (-5, "CNY", "-0.05"),
        (0, "CNY", "0.00"),
        (1234, "JPY", "1234"),
        (7, "KWD", "0.007"),
    ],
)
def test_from_minor_units_table(units, currency, text):
    money = Money.from_minor_units(units, currency)

    assert money == Money(D(text), currency)
    assert str(money.amount) == text


def test_from_minor_units_rejects_non_integers():
    with pytest.raises(TypeError):
        Money.from_minor_units(12.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.from_minor_units(D("12"))  # type: ignore[arg-type]


def test_zero_has_the_currency_decimal_places():
    assert str(Money.zero().amount) == "0.00"
    assert str(Money.zero("JPY").amount) == "0"
    assert Money.zero("USD").currency == "USD"


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(D("12.3")), "CNY 12.30"),
        (Money(D("12.30")), "CNY 12.30"),
        (Money(D("-0.5")), "CNY -0.50"),
        (Money(D("-0.00")), "CNY 0.00"),
        (Money(D("12.345")), "CNY 12.345"),
        (Money(D("1E+3"), "USD"), "USD 1000.00"),
        (Money(1234, "JPY"), "JPY 1234"),
        (Money(D("1234567.89")), "CNY 1234567.89"),
    ],
)
def test_str_table(money, text):
    assert str(money) == text


def test_is_rounded():
    assert Money(D("12.30")).is_rounded
    assert Money(D("12.3")).is_rounded
    assert Money(D("12.300")).is_rounded
    assert not Money(D("12.305")).is_rounded
    assert not Money(D("0.5"), "JPY").is_rounded


def test_allocate_money_in_three_equal_parts():
    parts = Money(D("100.00")).allocate([1, 1, 1])

    assert parts == [Money(D("33.34")), Money(D("33.33")), Money(D("33.33"))]
    assert sum_money(parts) == Money(D("100.00"))


def test_allocate_money_keeps_currency_and_handles_negative_amounts():
    parts = Money(D("-10"), "JPY").allocate([D("0.5"), D("0.25"), D("0.25")])

    assert parts == [Money(-5, "JPY"), Money(D("-3"), "JPY"), Money(D("-2"), "JPY")]
    assert all(part.currency == "JPY" for part in parts)


def test_allocate_requires_a_rounded_amount():
    with pytest.raises(ValueError, match=r"round CNY 10\.005"):
        Money(D("10.005")).allocate([1, 1])


def test_sum_money():
    assert sum_money([Money(D("1.10")), Money(D("2.20"))]) == Money(D("3.30"))
    assert sum_money([], "USD") == Money.zero("USD")
    with pytest.raises(CurrencyMismatch):
        sum_money([Money(D("1.10"), "USD")])


@given(units=minor_units, currency=currencies)
def test_minor_units_round_trip(units, currency):
    money = Money.from_minor_units(units, currency)

    assert money.is_rounded
    assert money.to_minor_units() == units


@given(first=amounts, second=amounts)
def test_addition_then_subtraction_is_exact(first, second):
    assert Money(first) + Money(second) - Money(second) == Money(first)


@given(amount=amounts, rounding=st.sampled_from(Rounding))
def test_rounding_is_idempotent_symmetric_and_within_one_minor_unit(amount, rounding):
    rounded = Money(amount).round(rounding)

    assert rounded.is_rounded
    assert rounded.round(rounding) == rounded
    assert Money(-amount).round(rounding) == -rounded
    assert abs(rounded.amount - amount) < D("0.01")


@given(amount=amounts)
def test_half_up_rounding_is_within_half_a_minor_unit(amount):
    assert abs(Money(amount).round(Rounding.HALF_UP).amount - amount) <= D("0.005")

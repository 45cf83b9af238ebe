from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.kernel.money import Money, Rounding
from l2c.kernel.tax import VAT_RATES, InvalidTaxRate, TaxSplit, add_tax, split_inclusive

D = Decimal

fen = st.integers(min_value=-(10**13), max_value=10**13)
rates = st.sampled_from(VAT_RATES)
nearest = st.sampled_from([Rounding.HALF_UP, Rounding.HALF_EVEN])


def test_vat_rates():
    assert (D("0.13"), D("0.09"), D("0.06"), D("0.03"), D("0")) == VAT_RATES


@pytest.mark.parametrize(
    ("gross", "rate", "net", "tax"),
    [
        ("113.00", "0.13", "100.00", "13.00"),
        ("1.00", "0.13", "0.88", "0.12"),
        ("0.01", "0.06", "0.01", "0.00"),
        ("0.01", "0.13", "0.01", "0.00"),
        ("100.00", "0.13", "88.50", "11.50"),
        ("100.00", "0.06", "94.34", "5.66"),
        ("109.00", "0.09", "100.00", "9.00"),
        ("10.00", "0.03", "9.71", "0.29"),
        ("50.00", "0", "50.00", "0.00"),
        ("0.00", "0.13", "0.00", "0.00"),
        ("9999999.99", "0.13", "8849557.51", "1150442.48"),
        ("-113.00", "0.13", "-100.00", "-13.00"),
        ("-1.00", "0.13", "-0.88", "-0.12"),
    ],
)
def test_split_inclusive_worked_table(gross, rate, net, tax):
    split = split_inclusive(Money(D(gross)), D(rate))

    assert split == TaxSplit(gross=Money(D(gross)), net=Money(D(net)), tax=Money(D(tax)), rate=D(rate))
    assert str(split.net.amount) == net
    assert str(split.tax.amount) == tax


@pytest.mark.parametrize(
    ("gross", "rate", "rounding", "net", "tax"),
    [
        ("1.00", "0.13", Rounding.DOWN, "0.88", "0.12"),
        ("1.00", "0.13", Rounding.UP, "0.89", "0.11"),
        ("100.00", "0.06", Rounding.DOWN, "94.33", "5.67"),
        ("100.00", "0.06", Rounding.HALF_EVEN, "94.34", "5.66"),
        ("113.00", "0.13", Rounding.UP, "100.00", "13.00"),
    ],
)
def test_split_inclusive_rounding_modes(gross, rate, rounding, net, tax):
    split = split_inclusive(Money(D(gross)), D(rate), rounding)

    assert (split.net, split.tax) == (Money(D(net)), Money(D(tax)))


@pytest.mark.parametrize(
    ("rounding", "net", "tax"),
    [(Rounding.HALF_UP, "0.01", "0.00"), (Rounding.HALF_EVEN, "0.00", "0.01")],
)
def test_split_inclusive_exact_half_with_a_non_statutory_rate(rounding, net, tax):
    # 0.01 / 2 = 0.005 exactly: the only way to reach a tie on the fen grid.
    split = split_inclusive(Money(D("0.01")), D("1"), rounding, allow_any_rate=True)

    assert (split.net, split.tax) == (Money(D(net)), Money(D(tax)))


def test_split_inclusive_in_a_zero_decimal_currency():
    split = split_inclusive(Money(1130, "JPY"), D("0.13"))

    assert (split.net, split.tax) == (Money(1000, "JPY"), Money(130, "JPY"))
    assert split.net.currency == split.tax.currency == "JPY"


def test_rate_written_with_extra_zeros_is_a_vat_rate():
    assert split_inclusive(Money(D("113.00")), D("0.130")).net == Money(D("100.00"))


@pytest.mark.parametrize("rate", ["0.17", "0.16", "0.11", "0.05", "1"])
def test_non_statutory_rates_are_rejected(rate):
    with pytest.raises(InvalidTaxRate, match="not a VAT rate"):
        split_inclusive(Money(D("100.00")), D(rate))
    with pytest.raises(InvalidTaxRate):
        add_tax(Money(D("100.00")), D(rate))


def test_allow_any_rate_accepts_other_non_negative_rates():
    split = split_inclusive(Money(D("117.00")), D("0.17"), allow_any_rate=True)

    assert (split.net, split.tax) == (Money(D("100.00")), Money(D("17.00")))


@pytest.mark.parametrize("rate", [D("-0.13"), D("NaN"), D("Infinity")])
def test_negative_and_non_finite_rates_are_rejected_even_with_allow_any_rate(rate):
    with pytest.raises(InvalidTaxRate):
        split_inclusive(Money(D("100.00")), rate, allow_any_rate=True)


def test_invalid_tax_rate_is_a_value_error():
    assert issubclass(InvalidTaxRate, ValueError)


@pytest.mark.parametrize("rate", [0.13, 0, "0.13"])
def test_rate_must_be_a_decimal(rate):
    with pytest.raises(TypeError):
        split_inclusive(Money(D("100.00")), rate)


def test_gross_must_be_rounded_to_minor_units():
    with pytest.raises(ValueError, match="must be rounded"):
        split_inclusive(Money(D("1.005")), D("0.13"))
    with pytest.raises(ValueError, match="must be rounded"):
        add_tax(Money(D("1.005")), D("0.13"))


@pytest.mark.parametrize(
    ("net", "rate", "gross", "tax"),
    [
        ("100.00", "0.13", "113.00", "13.00"),
        ("0.88", "0.13", "0.99", "0.11"),
        ("94.34", "0.06", "100.00", "5.66"),
        ("0.04", "0.13", "0.05", "0.01"),
        ("0.03", "0.13", "0.03", "0.00"),
        ("100.00", "0", "100.00", "0.00"),
        ("-100.00", "0.09", "-109.00", "-9.00"),
    ],
)
def test_add_tax_worked_table(net, rate, gross, tax):
    split = add_tax(Money(D(net)), D(rate))

    assert split == TaxSplit(gross=Money(D(gross)), net=Money(D(net)), tax=Money(D(tax)), rate=D(rate))


def test_tax_split_rejects_inconsistent_parts():
    with pytest.raises(ValueError, match="!= gross"):
        TaxSplit(gross=Money(D("1.00")), net=Money(D("0.88")), tax=Money(D("0.11")), rate=D("0.13"))
    with pytest.raises(ValueError, match="one currency"):
        TaxSplit(gross=Money(D("1.00")), net=Money(D("0.88"), "USD"), tax=Money(D("0.12")), rate=D("0.13"))


@given(gross_fen=fen, rate=rates, rounding=st.sampled_from(Rounding))
def test_net_plus_tax_is_exactly_gross(gross_fen, rate, rounding):
    gross = Money.from_minor_units(gross_fen)

    split = split_inclusive(gross, rate, rounding)

    assert split.net + split.tax == gross
    assert split.net.is_rounded
    assert split.tax.is_rounded
    assert abs(split.tax) <= abs(gross)
    assert split.tax.is_negative is False or gross.is_negative
    assert abs(split.net.amount - gross.amount / (1 + rate)) < D("0.01")


@given(gross_fen=fen, rate=rates, rounding=nearest)
def test_nearest_rounding_keeps_net_within_half_a_fen(gross_fen, rate, rounding):
    gross = Money.from_minor_units(gross_fen)

    split = split_inclusive(gross, rate, rounding)

    assert abs(split.net.amount - gross.amount / (1 + rate)) <= D("0.005")


@given(net_fen=fen, rate=rates, rounding=nearest)
def test_splitting_the_gross_of_add_tax_returns_the_net(net_fen, rate, rounding):
    net = Money.from_minor_units(net_fen)

    gross = add_tax(net, rate, rounding).gross

    assert split_inclusive(gross, rate, rounding).net == net


@given(gross_fen=fen, rate=rates)
def test_split_is_symmetric_for_credit_notes(gross_fen, rate):
    split = split_inclusive(Money.from_minor_units(gross_fen), rate)
    negated = split_inclusive(Money.from_minor_units(-gross_fen), rate)

    assert (negated.net, negated.tax) == (-split.net, -split.tax)

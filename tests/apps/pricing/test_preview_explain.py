"""Every message key, rejection reason, approval and violation code the pricing engine can emit has a
text in `pricing.explain` (read from the engine's source, so a new key without a text fails here), and
the texts follow the active language's catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from l2c.apps.pricing import explain
from l2c.engines.pricing import types as engine_types

ENGINE_DIR = Path(engine_types.__file__).parent


def engine_source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(ENGINE_DIR.glob("*.py")))


def test_every_step_message_key_has_a_text():
    source = engine_source()
    literal = set(re.findall(r'"(pricing\.step\.[a-z_.]+)"', source))
    keys = literal | {f"pricing.step.promotion.{kind}" for kind in engine_types.PROMOTION_KINDS}
    assert "pricing.step.promotion." not in literal  # the promotion keys are built from the kinds (compile.py)

    missing = sorted(key for key in keys if key not in explain.STEP_TEXTS and key != "pricing.step.attribute")
    assert missing == []
    assert {"pricing.step.attribute.amount", "pricing.step.attribute.percent"} <= set(explain.STEP_TEXTS)
    assert len(keys) >= 24


def test_every_rejection_reason_has_a_text():
    source = engine_source()
    reasons = set(re.findall(r'RejectedPromotion\([^()]*?, [^()]*?, "([a-z_]+)"', source))
    reasons |= set(re.findall(r'\("([a-z_]+)", (?:\{|_NO_PARAMS)', source))  # verdicts and line reasons
    reasons |= set(re.findall(r'return "([a-z_]+)", (?:\{|_NO_PARAMS)', source))  # stacking, coupons
    reasons -= {"mode", "kind"}

    assert reasons >= {"not_eligible", "customer", "outside_validity", "coupon_required", "coupon_used_up",
                       "coupon_customer_limit", "quota_used_up", "budget_used_up", "below_threshold",
                       "stacking_group", "exclusive", "no_saving"}
    assert sorted(reason for reason in reasons if reason not in explain.REJECTION_TEXTS) == []


def test_every_violation_and_approval_code_has_a_text():
    source = engine_source()
    violations = set(re.findall(r'Violation\("([a-z_]+)"', source))
    guarded = set(re.findall(r'_guard\([^)]*?"([a-z_]+)", line\.key', source, flags=re.S))
    approvals = set(re.findall(r'Approval\([^,]+, "([a-z_]+)"', source)) | guarded

    assert violations >= {"unknown_sku", "no_price", "invalid_quantity", "unknown_coupon"}
    assert approvals >= {"below_cost", "below_floor", "margin"}
    assert sorted(code for code in violations | (approvals - {"margin"}) if code not in explain.VIOLATION_TEXTS) == []
    assert sorted(code for code in approvals if code not in explain.APPROVAL_TEXTS) == []


def test_every_book_reason_has_a_text():
    source = engine_source()
    reasons = set(re.findall(r'return "([a-z_]+)"\n', source)) | {"forced", "not_forced", "applicable"}
    reasons |= {f"scope_{dimension}" for dimension in re.findall(r'return "(account|group|department|region)"',
                                                                  source)}
    book_reasons = {reason for reason in reasons if reason in {
        "applicable", "forced", "not_forced", "other_currency", "not_yet_valid", "expired"} or reason.startswith(
        "scope_")}

    assert {"scope_account", "scope_group", "scope_department", "scope_region", "other_currency", "expired",
            "not_yet_valid"} <= book_reasons
    assert sorted(reason for reason in book_reasons if reason not in explain.BOOK_REASON_TEXTS) == []


def test_numbers_are_written_in_currency_units():
    from decimal import Decimal

    assert [explain.money(value, "CNY") for value in (0, 5, -2260, 123450)] == ["0.00", "0.05", "-22.60", "1234.50"]
    assert explain.money(1234, "JPY") == "1234"
    assert [explain.unit(Decimal(value), "CNY") for value in ("113.0000", "12.3450", "56.6667", "0")] == [
        "113.00", "12.345", "56.6667", "0.00"]
    assert [explain.unit(Decimal(value), "JPY") for value in ("1234.0000", "12.5000")] == ["1234", "12.5"]
    assert [explain.plain(value) for value in ("10.0000", 15, Decimal("12.50"), "x")] == ["10", "15", "12.5", "x"]


def test_money_formats_minor_units_at_every_size_and_sign():
    cases = [(0, "0.00"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (123456, "1234.56"), (-5, "-0.05"),
             (-100, "-1.00"), (-123456, "-1234.56"), (10**15 + 7, "10000000000000.07")]
    assert [(minor, explain.money(minor, "CNY")) for minor, _ in cases] == cases
    assert [explain.money(minor, "JPY") for minor in (0, 1234, -1234)] == ["0", "1234", "-1234"]
    assert [explain.money(minor, "KWD") for minor in (5, 1234, -1234)] == ["0.005", "1.234", "-1.234"]

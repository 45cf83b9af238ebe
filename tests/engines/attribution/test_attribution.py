"""Attribution by hand-computed examples, and its invariants (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from l2c.engines.attribution import FIRST_TOUCH, LAST_TOUCH, LINEAR, Credit, Touch, attribute

UTC = dt.UTC
WON_AT = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, 0, tzinfo=UTC)


def by_model(credits: list[Credit]) -> dict[str, dict[int, int]]:
    result: dict[str, dict[int, int]] = {}
    for credit in credits:
        result.setdefault(credit.model, {})[credit.campaign_id] = credit.amount
    return result


def test_three_campaigns_worked_example():
    # Won 1,000.00 元 = 100,000 fen. Touches: campaign 7 on the 1st, 3 on the 10th, 5 on the 20th, and 7 again
    # (another contact) on the 25th; campaign 9 on July 1st comes after the win and does not count.
    touches = [Touch(7, at(1)), Touch(3, at(10)), Touch(5, at(20)), Touch(7, at(25)),
               Touch(9, dt.datetime(2026, 7, 1, tzinfo=UTC))]
    credits = by_model(attribute(100_000, touches, WON_AT))
    assert credits[FIRST_TOUCH] == {7: 100_000}
    assert credits[LAST_TOUCH] == {7: 100_000}
    # Linear: 3 distinct campaigns {3, 5, 7}: 100,000 / 3 = 33,333 r 1 → the lowest id takes the extra fen.
    assert credits[LINEAR] == {3: 33_334, 5: 33_333, 7: 33_333}


def test_ties_go_to_the_lower_campaign_id():
    touches = [Touch(12, at(5)), Touch(4, at(5)), Touch(8, at(5))]
    credits = by_model(attribute(100, touches, WON_AT))
    assert credits[FIRST_TOUCH] == {4: 100}
    assert credits[LAST_TOUCH] == {4: 100}
    assert credits[LINEAR] == {4: 34, 8: 33, 12: 33}


def test_a_touch_at_the_moment_of_the_win_counts_and_later_ones_do_not():
    credits = by_model(attribute(500, [Touch(1, WON_AT), Touch(2, WON_AT + dt.timedelta(seconds=1))], WON_AT))
    assert credits == {FIRST_TOUCH: {1: 500}, LAST_TOUCH: {1: 500}, LINEAR: {1: 500}}


def test_no_counting_touch_gives_nothing():
    assert attribute(100_000, [], WON_AT) == []
    assert attribute(100_000, [Touch(1, WON_AT + dt.timedelta(days=1))], WON_AT) == []


def test_linear_over_more_campaigns_than_fen_leaves_out_zero_credits():
    credits = by_model(attribute(2, [Touch(campaign, at(campaign)) for campaign in (1, 2, 3)], WON_AT))
    assert credits[LINEAR] == {1: 1, 2: 1}
    assert credits[LAST_TOUCH] == {3: 2}


touch_strategy = st.builds(
    Touch, campaign_id=st.integers(min_value=1, max_value=40),
    touched_at=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31),
                            timezones=st.just(UTC)),
)


@given(amount=st.integers(min_value=0, max_value=10**15), touches=st.lists(touch_strategy, max_size=30))
def test_every_model_sums_exactly_to_the_won_amount(amount, touches):
    credits = attribute(amount, touches, WON_AT)
    counted = [touch for touch in touches if touch.touched_at <= WON_AT]
    for model in (FIRST_TOUCH, LAST_TOUCH, LINEAR):
        parts = [credit.amount for credit in credits if credit.model == model]
        assert sum(parts) == (amount if counted else 0)
        assert all(part > 0 for part in parts)
    linear = [credit.amount for credit in credits if credit.model == LINEAR]
    if linear:
        assert max(linear) - min(linear) <= 1


@given(amount=st.integers(min_value=0, max_value=10**12), touches=st.lists(touch_strategy, max_size=20),
       seed=st.randoms())
def test_the_order_of_the_touches_does_not_matter(amount, touches, seed):
    shuffled = list(touches)
    seed.shuffle(shuffled)
    assert attribute(amount, touches, WON_AT) == attribute(amount, shuffled, WON_AT)

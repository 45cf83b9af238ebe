"""Won-revenue attribution to campaigns (ADR 0004): first touch, last touch and linear.

Pure: touches in, amounts out, no clock, no ORM. Amounts are integer minor units (fen); every model's
parts sum exactly to the won amount (when at least one touch counts).

- A touch is a campaign membership of a person of the won account, dated when the person engaged
  (registered or checked in). Only touches at or before `won_at` count.
- first touch: 100 % to the campaign of the earliest touch; last touch: 100 % to the campaign of the
  latest touch. Equal times go to the lower campaign id (deterministic).
- linear: an equal share to every distinct campaign touched (a campaign touched twice, e.g. by two
  contacts, counts once), split by largest remainder: the fen left over go one each to the lowest
  campaign ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from l2c.kernel.money import allocate_minor

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LINEAR = "linear"
MODELS = (FIRST_TOUCH, LAST_TOUCH, LINEAR)


@dataclass(frozen=True)
class Touch:
    """A campaign touching the won account at `touched_at` (aware datetime)."""

    campaign_id: int
    touched_at: dt.datetime


@dataclass(frozen=True)
class Credit:
    """`amount` minor units of a won deal credited to `campaign_id` under attribution `model`."""

    model: str
    campaign_id: int
    amount: int


def counting_touches(touches: Sequence[Touch], won_at: dt.datetime) -> list[Touch]:
    """The touches that happened at or before the win, ordered by (time, campaign id)."""
    return sorted((touch for touch in touches if touch.touched_at <= won_at),
                  key=lambda touch: (touch.touched_at, touch.campaign_id))


def attribute(amount: int, touches: Sequence[Touch], won_at: dt.datetime) -> list[Credit]:
    """Credits of every model for a deal of `amount` won at `won_at`; [] when no touch counts.

    Per model the credits sum to `amount`; credits of 0 are left out (linear over more campaigns than
    fen). Ordered by model, then campaign id."""
    counted = counting_touches(touches, won_at)
    if not counted:
        return []
    first = counted[0].campaign_id
    latest = max(touch.touched_at for touch in counted)
    last = min(touch.campaign_id for touch in counted if touch.touched_at == latest)
    campaigns = sorted({touch.campaign_id for touch in counted})
    shares = allocate_minor(amount, [1] * len(campaigns))
    credits = [Credit(FIRST_TOUCH, first, amount), Credit(LAST_TOUCH, last, amount)]
    credits += [Credit(LINEAR, campaign_id, share) for campaign_id, share in zip(campaigns, shares, strict=True)
                if share != 0]
    return [credit for credit in credits if credit.amount != 0]


__all__ = ["FIRST_TOUCH", "LAST_TOUCH", "LINEAR", "MODELS", "Credit", "Touch", "attribute", "counting_touches"]

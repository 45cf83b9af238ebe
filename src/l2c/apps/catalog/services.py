"""Catalogue writes (ADR 0006). Every write runs in one transaction, records an audit event and bumps
the rules version (`rules_version_bump`) so compiled engine catalogues are rebuilt."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from .models import RulesVersion


def rules_version_bump() -> None:
    """Move the rules version on; call inside the transaction of any catalogue or pricing change
    (price books, entries, promotions, coupons' existence, margin policy, SKUs, BOM, rules).
    Counters that change per quote (uses, reservations) do not bump it: they are read live."""
    assert transaction.get_connection().in_atomic_block, "bump the rules version inside the change's transaction"
    if not RulesVersion.objects.filter(pk=1).update(number=F("number") + 1):
        RulesVersion.objects.get_or_create(pk=1, defaults={"number": 2})

"""Pricing writes (ADR 0006): price books, promotions, coupons, reservations, margin policy."""

from __future__ import annotations

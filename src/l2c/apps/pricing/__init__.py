"""Pricing (价格): price books, promotions, coupons and quota reservations, margin policy. ADR 0006."""

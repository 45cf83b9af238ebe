"""The compiler's read API of pricing rows: plain values, code order, a constant number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.pricing import selectors, services


def test_active_books_rows_are_plain_values_in_code_order(org, catalogue):
    manager = org["manager"]
    for code in ("b-second", "a-first"):
        book = services.price_book_create(actor=manager, data={"code": code, "name": code, "status": "active",
                                                                "valid_from": "2026-01-01",
                                                                "scope_groups": ["level:key"]})
        services.price_entry_upsert(actor=manager, book_id=book.pk, sku_code="SRV-2",
                                    data={"method": "block", "unit_price": "50", "block_size": "10"})
        services.price_entry_upsert(actor=manager, book_id=book.pk, sku_code="SRV-1", data={
            "method": "fixed", "tier_mode": "volume", "floor_price": "80",
            "tiers": [{"min_quantity": 1, "unit_price": "100"}, {"min_quantity": 10, "unit_price": "90"}]})
        services.attribute_adjustment_create(actor=manager, book_id=book.pk,
                                             data={"attribute": "colour", "value": "red", "percent": "10"})
    services.price_book_create(actor=manager, data={"code": "draft", "name": "draft"})

    with CaptureQueriesContext(connection) as queries:
        rows = selectors.active_books_rows()

    assert len(queries) == 4
    assert [row["code"] for row in rows] == ["a-first", "b-second"]
    first = rows[0]
    assert (first["currency"], first["valid_from"], first["scope_groups"]) == ("CNY", dt.date(2026, 1, 1),
                                                                               ["level:key"])
    assert [entry["sku"] for entry in first["entries"]] == ["SRV-1", "SRV-2"]
    assert first["entries"][0]["tiers"] == [
        {"min_quantity": Decimal(1), "unit_price": Decimal(100), "flat_fee": Decimal(0)},
        {"min_quantity": Decimal(10), "unit_price": Decimal(90), "flat_fee": Decimal(0)}]
    assert (first["entries"][1]["method"], first["entries"][1]["block_size"]) == ("block", Decimal(10))
    assert [(item["attribute"], item["value"], item["percent"]) for item in first["adjustments"]] == [
        ("colour", "red", Decimal(10))]


def test_active_promotions_rows_and_quotas(org, catalogue):
    for code in ("z-last", "a-first"):
        created = services.promotion_create(actor=org["marketing"], data={
            "code": code, "name": code, "kind": "percent_off", "params": {"percent": 10}, "max_uses": 3})
        services.promotion_activate(actor=org["marketing"], promotion_id=created.pk)
    services.promotion_create(actor=org["marketing"], data={"code": "draft", "name": "d", "kind": "percent_off",
                                                             "params": {"percent": 5}})

    rows = selectors.active_promotions_rows()

    assert [row["code"] for row in rows] == ["a-first", "z-last"]
    assert (rows[0]["kind"], rows[0]["params"], rows[0]["max_uses"]) == ("percent_off", {"percent": 10}, 3)
    assert selectors.promotion_quotas(["a-first", "draft"]) == {"a-first": {
        "max_uses": 3, "used_count": 0, "reserved_count": 0, "remaining_uses": 3, "max_discount": None,
        "discount_used": 0, "discount_reserved": 0, "remaining_budget": None}}

"""The pricing pages render for the roles that may open them, save through the services, show field
errors (422) and refuse the others."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from l2c.apps.pricing import services
from l2c.apps.pricing.models import MarginPolicy, PriceBook, PriceBookEntry, Promotion


def client_for(org, username):
    client = Client()
    client.force_login(org[username])
    return client


@pytest.fixture
def filled(org, catalogue):
    book = services.price_book_create(actor=org["manager"], data={"code": "list", "name": "标准价目表",
                                                                   "is_base": True, "scope_regions": ["北京"]})
    services.price_entry_upsert(actor=org["manager"], book_id=book.pk, sku_code="SRV-1", data={
        "method": "fixed", "tier_mode": "graduated",
        "tiers": [{"min_quantity": 1, "unit_price": "100"}, {"min_quantity": 10, "unit_price": "90", "flat_fee": 5}]})
    services.attribute_adjustment_create(actor=org["manager"], book_id=book.pk,
                                         data={"attribute": "colour", "value": "red", "percent": "10"})
    promotion = services.promotion_create(actor=org["marketing"], data={
        "code": "spring", "name": "春季满减", "kind": "spend_save", "params": {"threshold": 1000, "amount": 100},
        "max_uses": 50, "max_discount": 500000})
    services.coupons_generate(actor=org["marketing"], promotion_id=promotion.pk, count=3, prefix="SP")
    return book, promotion


@pytest.mark.parametrize("username", ["manager", "rep1", "finance", "admin"])
def test_book_pages_render_for_readers(org, filled, username):
    book, _promotion = filled
    client = client_for(org, username)

    listing = client.get("/pricing/books/")
    detail = client.get(f"/pricing/books/{book.pk}/")

    assert listing.status_code == 200 and "标准价目表" in listing.content.decode()
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "SRV-1" in body and "≥10 @ 90.0000 +5.0000" in body and "colour" in body
    assert ("添加/修改价格" in body) is (username in ("manager", "admin"))


def test_book_pages_refuse_marketing(org, filled):
    book, _promotion = filled
    client = client_for(org, "marketing")
    assert client.get("/pricing/books/").status_code == 403
    assert client.get(f"/pricing/books/{book.pk}/").status_code == 404


def test_book_create_page_saves_and_shows_errors(org, catalogue):
    client = client_for(org, "manager")
    assert client.get("/pricing/books/new/").status_code == 200

    bad = client.post("/pricing/books/new/", {"code": "", "name": "x", "scope_regions": "a/b/c"})
    assert bad.status_code == 422
    assert "代码必填" in bad.content.decode()
    assert PriceBook.objects.count() == 0

    good = client.post("/pricing/books/new/", {"code": "vip", "name": "VIP 价目表", "currency": "CNY", "priority": "5",
                                              "scope_levels": ["key"], "scope_tags": "战略", "scope_regions": "北京"})
    book = PriceBook.objects.get(code="vip")
    assert good.status_code == 302 and good["Location"] == f"/pricing/books/{book.pk}/"
    assert (book.priority, book.scope_groups, book.scope_regions) == (5, ["level:key", "tag:战略"], ["北京"])


def test_entry_editor_adds_tier_rows_and_saves(org, filled):
    book, _promotion = filled
    client = client_for(org, "manager")

    page = client.get(f"/pricing/books/{book.pk}/entry/?sku=SRV-1")
    assert page.status_code == 200 and 'name="tiers-1-unit_price"' in page.content.decode()

    added = client.post(f"/pricing/books/{book.pk}/entry/", {
        "sku": "SRV-2", "method": "fixed", "tier_mode": "volume", "tier_count": "1", "tiers-0-min_quantity": "1",
        "tiers-0-unit_price": "200", "op": "add_tier"})
    assert added.status_code == 200 and 'name="tiers-1-min_quantity"' in added.content.decode()

    bad = client.post(f"/pricing/books/{book.pk}/entry/", {
        "sku": "SRV-2", "method": "fixed", "tier_mode": "volume", "tier_count": "2", "tiers-0-min_quantity": "5",
        "tiers-0-unit_price": "200", "tiers-1-min_quantity": "1", "tiers-1-unit_price": "150", "op": "save"})
    assert bad.status_code == 422
    assert "各档起始数量必须从小到大排列" in bad.content.decode()

    saved = client.post(f"/pricing/books/{book.pk}/entry/", {
        "sku": "SRV-2", "method": "fixed", "tier_mode": "volume", "tier_count": "2", "tiers-0-min_quantity": "1",
        "tiers-0-unit_price": "200", "tiers-1-min_quantity": "10", "tiers-1-unit_price": "150", "op": "save"})
    assert saved.status_code == 302
    entry = PriceBookEntry.objects.get(book=book, sku__code="SRV-2")
    assert [(t.min_quantity, t.unit_price) for t in entry.tiers.all()] == [(Decimal(1), Decimal(200)),
                                                                          (Decimal(10), Decimal(150))]


def test_book_actions_copy_activate(org, filled):
    book, _promotion = filled
    client = client_for(org, "manager")

    copied = client.post(f"/pricing/books/{book.pk}/copy/", {"code": "list-2027", "name": "2027"})
    copy = PriceBook.objects.get(code="list-2027")
    assert copied["Location"] == f"/pricing/books/{copy.pk}/"
    client.post(f"/pricing/books/{book.pk}/activate/")
    assert PriceBook.objects.get(pk=book.pk).status == "active"
    refused = client.post(f"/pricing/books/{copy.pk}/activate/", follow=True)
    assert "已有生效的基础价目表" in refused.content.decode()
    assert PriceBook.objects.get(pk=copy.pk).status == "draft"


def test_sku_search_options(org, catalogue):
    response = client_for(org, "manager").get("/pricing/skus/search/?q=SRV")
    assert response.content.decode().count("<option") == 2


@pytest.mark.parametrize("username", ["marketing", "manager", "rep1", "finance"])
def test_promotion_pages_render(org, filled, username):
    _book, promotion = filled
    client = client_for(org, username)

    listing = client.get("/pricing/promotions/")
    editor = client.get(f"/pricing/promotions/{promotion.pk}/")

    assert listing.status_code == 200
    assert "0 / 50" in listing.content.decode() and "0.00 / 5,000.00" in listing.content.decode()
    assert editor.status_code == 200
    body = editor.content.decode()
    assert 'name="param_threshold"' in body and "优惠券" in body
    assert ("批量生成" in body) is (username in ("marketing", "manager"))


def test_promotion_params_fields_swap(org):
    response = client_for(org, "marketing").get("/pricing/promotions/params/?kind=bundle")
    body = response.content.decode()
    assert 'name="param_items"' in body and 'name="param_price"' in body and "param_percent" not in body


def test_promotion_editor_creates_with_errors_then_valid(org, catalogue):
    client = client_for(org, "marketing")
    assert client.get("/pricing/promotions/new/").status_code == 200

    bad = client.post("/pricing/promotions/new/", {"code": "tiers", "name": "阶梯满减", "kind": "tiered_spend",
                                                    "param_tiers": "3000,400\n1000,100", "priority": "0"})
    assert bad.status_code == 422
    assert Promotion.objects.count() == 0

    good = client.post("/pricing/promotions/new/", {"code": "tiers", "name": "阶梯满减", "kind": "tiered_spend",
                                                     "param_tiers": "1000,100\n3000,400", "priority": "2",
                                                     "max_discount_yuan": "1,000.50", "eligible_levels": ["key"]})
    assert good.status_code == 302
    promotion = Promotion.objects.get(code="tiers")
    assert promotion.params == {"tiers": [{"threshold": "1000", "amount": "100"},
                                          {"threshold": "3000", "amount": "400"}]}
    assert (promotion.max_discount, promotion.eligible_groups) == (100050, ["level:key"])


def test_coupon_actions_and_export(org, filled):
    _book, promotion = filled
    client = client_for(org, "marketing")

    client.post(f"/pricing/promotions/{promotion.pk}/coupons/generate/", {"count": "5", "prefix": "G", "max_uses": "1"})
    client.post(f"/pricing/promotions/{promotion.pk}/coupons/create/", {"code": "hand-1", "unlimited": "1"})
    export = client.get(f"/pricing/promotions/{promotion.pk}/coupons.csv")

    lines = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "券码,最多使用次数,每客户限用,已使用,已预占,有效"
    assert len(lines) == 1 + 3 + 5 + 1
    assert "HAND-1,,,0,0,是" in lines
    assert client_for(org, "rep1").get(f"/pricing/promotions/{promotion.pk}/coupons.csv").status_code == 403


def test_margin_policy_page_is_admin_only(org):
    assert client_for(org, "manager").get("/pricing/margin-policy/").status_code == 403
    admin = client_for(org, "admin")
    assert admin.get("/pricing/margin-policy/").status_code == 200

    bad = admin.post("/pricing/margin-policy/", {"below_cost": "block", "below_cost_level": "12",
                                                 "below_floor": "approval", "below_floor_level": "1",
                                                 "threshold_count": "0", "op": "save"})
    assert bad.status_code == 422
    saved = admin.post("/pricing/margin-policy/", {
        "below_cost": "block", "below_cost_level": "3", "below_floor": "approval", "below_floor_level": "1",
        "threshold_count": "1", "t-0-name": "低毛利", "t-0-min_margin_percent": "15", "t-0-level": "2", "op": "save"})
    assert saved.status_code == 302
    policy = MarginPolicy.objects.get(pk=1)
    assert (policy.below_cost, policy.below_cost_level) == ("block", 3)
    assert list(policy.thresholds.values_list("min_margin_percent", "level")) == [(Decimal("15.00"), 2)]

"""POST /api/v1/pricing/preview and /pricing/promotions/simulate (issue 6 §6, ADR 0006): the answer's
exact shape on a small cart (tax-inclusive 13 %: 2 × 113.00 → net 200.00, tax 26.00), book selection by
account scope and by force, coupons and their limits, rejection reasons, field errors, permissions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import make_account

URL = "/api/v1/pricing/preview"
SIMULATE_URL = "/api/v1/pricing/promotions/simulate"


@dataclass
class Shop:
    """服务器 (goods, 13 %) SRV-A black / SRV-B red, 安装服务 (service, 6 %) SVC-1; books: base-cny (base),
    dealer (open scope, priority 5, only SRV-B), contract (the account's, priority 10); an account of rep1."""

    account: Any
    books: dict[str, Any]
    skus: dict[str, Any]


def bump() -> None:
    from django.db import transaction

    from l2c.apps.catalog.services import rules_version_bump

    with transaction.atomic():
        rules_version_bump()


def build_shop(org: Any) -> Shop:
    from l2c.apps.catalog.models import Attribute, AttributeValue, Category, Product, ProductAttribute, Sku
    from l2c.apps.pricing.compiler import cache_clear
    from l2c.apps.pricing.models import PriceBook, PriceBookEntry

    cache_clear()
    hardware = Category.objects.create(code="hw", name="硬件")
    servers = Category.objects.create(code="servers", name="服务器", parent=hardware)
    services = Category.objects.create(code="svc", name="服务")
    colour = Attribute.objects.create(code="colour", name="颜色")
    AttributeValue.objects.create(attribute=colour, code="black", label="黑色", position=1)
    AttributeValue.objects.create(attribute=colour, code="red", label="红色", position=2)
    server = Product.objects.create(code="srv", name="服务器", category=servers, type="goods",
                                    tax_rate=Decimal("0.13"))
    ProductAttribute.objects.create(product=server, attribute=colour, position=1)
    install = Product.objects.create(code="install", name="安装服务", category=services, type="service",
                                     tax_rate=Decimal("0.06"))
    skus = {
        "SRV-A": Sku.objects.create(product=server, code="SRV-A", name="服务器 黑", cost_price=Decimal("60"),
                                    attribute_values={"colour": "black"}, attribute_key="colour=black"),
        "SRV-B": Sku.objects.create(product=server, code="SRV-B", name="服务器 红", cost_price=Decimal("70"),
                                    attribute_values={"colour": "red"}, attribute_key="colour=red"),
        "SVC-1": Sku.objects.create(product=install, code="SVC-1", name="上门安装", cost_price=Decimal("10")),
    }
    account = make_account(org["rep1"], name="深圳星河科技有限公司", level="key", province="广东", city="深圳")
    books = {
        "base-cny": PriceBook.objects.create(code="base-cny", name="标准价", currency="CNY", is_base=True,
                                             status="active"),
        "dealer": PriceBook.objects.create(code="dealer", name="渠道价", currency="CNY", priority=5,
                                           status="active"),
        "contract": PriceBook.objects.create(code="contract", name="星河合同价", currency="CNY", priority=10,
                                             status="active", scope_accounts=[account.pk]),
    }
    prices = {("base-cny", "SRV-A"): "113.00", ("base-cny", "SRV-B"): "226.00", ("base-cny", "SVC-1"): "106.00",
              ("dealer", "SRV-B"): "203.40", ("contract", "SRV-A"): "101.70"}
    for (book, sku), price in prices.items():
        PriceBookEntry.objects.create(book=books[book], sku=skus[sku], unit_price=Decimal(price))
    bump()
    return Shop(account, books, skus)


@pytest.fixture
def shop(org: Any) -> Shop:
    return build_shop(org)


def post(client: Any, body: dict[str, Any], url: str = URL) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def promotion(code: str, kind: str, params: dict[str, Any], **fields: Any) -> Any:
    from l2c.apps.pricing.models import Promotion

    created = Promotion.objects.create(code=code, name=fields.pop("name", code), kind=kind, params=params,
                                       status=fields.pop("status", "active"), **fields)
    bump()
    return created


# --- the exact answer ------------------------------------------------------------------------------


def test_preview_answers_the_exact_shape_of_a_small_cart(shop, api_client_for):
    response = post(api_client_for("rep1"), {"currency": "CNY", "as_of": "2026-11-28T10:00:00+08:00",
                                             "lines": [{"sku": "SRV-A", "quantity": 2}]})

    assert response.status_code == 200, response.content
    body = response.json()
    # 2 × 113.00 = 226.00 tax-inclusive at 13 %: net 226.00 / 1.13 = 200.00, tax 26.00; cost 2 × 60 = 120.00,
    # margin (200 − 120) / 200 = 40 %.
    assert body["lines"] == [{
        "key": "1", "sku": "SRV-A", "name": "服务器 黑", "quantity": "2", "list_price": "113.00",
        "unit_price": "113.00", "net_amount": "200.00", "tax_amount": "26.00", "total_amount": "226.00",
        "cost_amount": "120.00", "margin_percent": "40.00", "price_book": "base-cny", "is_gift": False,
        "parent": None, "promotions": [],
        "steps": [{"kind": "list_price", "rule": "base-cny", "description": "目录价 113.00 × 2（价目表 base-cny）",
                   "amount": "226.00", "message": "pricing.step.list_price"}],
    }]
    assert body["totals"] == {"list_amount": "226.00", "net_amount": "200.00", "tax_amount": "26.00",
                              "total_amount": "226.00", "cost_amount": "120.00", "margin_percent": "40.00",
                              "discount_amount": "0.00", "surcharge_amount": "0.00"}
    assert (body["promotions"], body["approvals"], body["violations"]) == ([], [], [])
    assert (body["currency"], body["as_of"], body["account"], body["skipped_rules"]) == (
        "CNY", "2026-11-28T10:00:00+08:00", None, [])
    assert [(book["code"], book["applicable"], book["reason"], book["used"]) for book in body["price_books"]] == [
        ("contract", False, "scope_account", False), ("dealer", True, "applicable", False),
        ("base-cny", True, "applicable", True)]
    assert body["price_books"][0]["description"] == "不在可售范围：客户不符"


def test_a_configured_line_brings_its_rolled_up_cost(shop, api_client_for):
    # The configurator sends the configuration's cost (SKU 60 + included parts 30 = 90 per unit): net 200.00,
    # cost 2 × 90 = 180.00, margin (200 − 180) / 200 = 10 %. A negative cost is refused naming the field.
    client = api_client_for("rep1")
    body = post(client, {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 2, "unit_cost": "90"}]}).json()
    assert (body["lines"][0]["cost_amount"], body["lines"][0]["margin_percent"]) == ("180.00", "10.00")
    refused = post(client, {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "unit_cost": "-1"}]})
    assert refused.status_code == 422
    assert [(error["field"], error["code"]) for error in refused.json()["errors"]] == [
        ("lines[0].unit_cost", "invalid_number")]


def test_two_lines_of_two_tax_rates_sum_to_the_totals(shop, api_client_for):
    # SVC-1 at 6 %: 3 × 106.00 = 318.00 → net 300.00, tax 18.00; SRV-B by the dealer book: 203.40 → net 180.00.
    response = post(api_client_for("rep1"), {"currency": "cny", "lines": [
        {"sku": "SVC-1", "quantity": "3"}, {"sku": "SRV-B", "quantity": 1}]})

    body = response.json()
    assert [(line["sku"], line["price_book"], line["net_amount"], line["tax_amount"], line["total_amount"])
            for line in body["lines"]] == [("SVC-1", "base-cny", "300.00", "18.00", "318.00"),
                                           ("SRV-B", "dealer", "180.00", "23.40", "203.40")]
    assert [step["amount"] for step in body["lines"][1]["steps"]] == ["226.00", "-22.60"]
    assert body["lines"][1]["steps"][1]["description"] == "适用价目表“渠道价”（dealer）的价格"
    assert (body["totals"]["net_amount"], body["totals"]["tax_amount"], body["totals"]["total_amount"],
            body["totals"]["discount_amount"]) == ("480.00", "41.40", "521.40", "22.60")


# --- price book selection --------------------------------------------------------------------------


def test_account_scope_picks_the_contracted_book(shop, api_client_for):
    response = post(api_client_for("rep1"), {"account_id": shop.account.pk, "currency": "CNY",
                                             "lines": [{"sku": "SRV-A", "quantity": 2}]})

    body = response.json()
    line = body["lines"][0]
    # contract: 2 × 101.70 = 203.40 → net 180.00, tax 23.40; list 226.00, the book step −22.60.
    assert (line["price_book"], line["list_price"], line["unit_price"], line["net_amount"], line["tax_amount"],
            line["total_amount"]) == ("contract", "113.00", "101.70", "180.00", "23.40", "203.40")
    assert [(step["kind"], step["rule"], step["amount"]) for step in line["steps"]] == [
        ("list_price", "base-cny", "226.00"), ("price_book", "contract", "-22.60")]
    assert [(book["code"], book["reason"], book["used"]) for book in body["price_books"]] == [
        ("contract", "applicable", True), ("dealer", "applicable", False), ("base-cny", "applicable", False)]
    assert body["account"] == {"id": shop.account.pk, "name": "深圳星河科技有限公司", "level": "key", "tags": [],
                               "region": "广东/深圳"}


def test_a_forced_book_prices_what_it_holds_and_the_base_book_the_rest(shop, api_client_for):
    response = post(api_client_for("rep1"), {"account_id": shop.account.pk, "currency": "CNY",
                                             "price_book_id": shop.books["dealer"].pk,
                                             "lines": [{"sku": "SRV-A", "quantity": 1},
                                                       {"sku": "SRV-B", "quantity": 1}]})

    body = response.json()
    assert [(line["sku"], line["price_book"], line["total_amount"]) for line in body["lines"]] == [
        ("SRV-A", "base-cny", "113.00"), ("SRV-B", "dealer", "203.40")]
    assert [(book["code"], book["reason"], book["description"]) for book in body["price_books"]] == [
        ("contract", "not_forced", "已指定其他价目表"), ("dealer", "forced", "已指定使用"),
        ("base-cny", "applicable", "适用")]


def test_a_forced_book_outside_its_scope_is_a_blocking_violation_saying_why(shop, api_client_for):
    # The contract book belongs to another customer here (no account given): it cannot be forced.
    response = post(api_client_for("rep1"), {"currency": "CNY", "price_book_id": shop.books["contract"].pk,
                                             "lines": [{"sku": "SRV-A", "quantity": 1}]})

    body = response.json()
    assert (body["lines"][0]["price_book"], body["lines"][0]["total_amount"]) == ("base-cny", "113.00")
    assert body["violations"] == [{
        "code": "price_book_not_applicable", "line": None, "sku": None, "blocking": True,
        "description": "指定的价目表 contract 不适用于本次报价（不在可售范围：客户不符），已按自动选择的价目表定价。",
        "params": {"price_book": "contract", "reason": "scope_account"}}]
    english = api_client_for("rep1")
    english.cookies["django_language"] = "en"
    body = post(english, {"currency": "CNY", "price_book_id": shop.books["contract"].pk,
                          "lines": [{"sku": "SRV-A", "quantity": 1}]}).json()
    assert body["violations"][0]["description"] == (
        "The price book contract does not apply to this quote (Outside the sellable scope: account does not "
        "match); the cart was priced with the book chosen automatically.")


def test_an_account_the_user_cannot_see_is_404(shop, api_client_for):
    response = post(api_client_for("rep3"), {"account_id": shop.account.pk, "currency": "CNY",
                                             "lines": [{"sku": "SRV-A", "quantity": 1}]})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- promotions and coupons ------------------------------------------------------------------------


def test_coupon_code_flow(shop, org, api_client_for):
    from l2c.apps.pricing.models import Coupon, PromotionReservation

    rule = promotion("coupon-50", "coupon", {"amount": "50"}, name="五十元券")
    coupon = Coupon.objects.create(promotion=rule, code="SAVE50", max_uses=2, per_customer_limit=1)
    client = api_client_for("rep1")
    cart = {"account_id": shop.account.pk, "currency": "CNY", "lines": [{"sku": "SVC-1", "quantity": 1}]}

    without = post(client, cart).json()
    assert [(item["code"], item["status"], item["reason"], item["description"]) for item in without["promotions"]] == [
        ("coupon-50", "rejected", "coupon_required", "需要输入这个促销的优惠券码。")]

    applied = post(client, {**cart, "coupon_codes": ["save50"]}).json()
    # 106.00 − 50.00 = 56.00 at 6 %: net round(56.00 / 1.06) = 52.83, tax 3.17.
    line = applied["lines"][0]
    assert (line["total_amount"], line["net_amount"], line["tax_amount"]) == ("56.00", "52.83", "3.17")
    assert [(step["kind"], step["rule"], step["amount"], step["description"]) for step in line["steps"]][1:] == [
        ("order_promotion", "coupon-50", "-50.00", "优惠券“五十元券”：立减 50（按金额分摊）")]
    assert applied["promotions"] == [{
        "code": "coupon-50", "name": "五十元券", "kind": "coupon", "kind_label": "优惠券", "status": "applied",
        "discount": "50.00", "lines": ["1"], "coupon": "SAVE50", "capped": False, "reason": None, "params": {},
        "description": "已生效，优惠 50.00（券码 SAVE50）"}]

    PromotionReservation.objects.create(promotion=rule, coupon=coupon, account=shop.account, reference="Q-1",
                                        discount=5000, status="consumed")
    limited = post(client, {**cart, "coupon_codes": ["SAVE50"]}).json()
    assert [(item["status"], item["reason"], item["description"]) for item in limited["promotions"]] == [
        ("rejected", "coupon_customer_limit", "券码 SAVE50 已达到该客户的使用上限。")]

    Coupon.objects.filter(pk=coupon.pk).update(used_count=1, reserved_count=1)
    used_up = post(client, {**cart, "coupon_codes": ["SAVE50"]}).json()
    assert [(item["reason"], item["description"]) for item in used_up["promotions"]] == [
        ("coupon_used_up", "券码 SAVE50 已用完。")]

    unknown = post(client, {**cart, "coupon_codes": ["NOPE"]}).json()
    assert [(item["code"], item["blocking"], item["description"]) for item in unknown["violations"]] == [
        ("unknown_coupon", False, "券码 NOPE 不存在。")]


def test_a_rejected_promotion_says_why(shop, api_client_for):
    promotion("spend-1000", "spend_save", {"threshold": "1000", "amount": "100"}, name="满千减百")
    promotion("vip-only", "percent_off", {"percent": "10"}, eligible_groups=["level:important"], name="重要客户九折")

    body = post(api_client_for("rep1"), {"account_id": shop.account.pk, "currency": "CNY",
                                         "lines": [{"sku": "SRV-A", "quantity": 2}]}).json()

    assert [(item["code"], item["status"], item["reason"], item["description"]) for item in body["promotions"]] == [
        ("vip-only", "rejected", "customer", "客户不在促销的适用范围内（客户组）。"),
        ("spend-1000", "rejected", "below_threshold", "未达到促销门槛：需满 1000.00，当前可参与金额 203.40。")]


def test_a_line_promotion_step_and_a_quota_used_up(shop, api_client_for):
    rule = promotion("ten-off", "percent_off", {"percent": "10"}, eligible_skus=["SRV-A"], name="九折",
                     max_uses=5)
    client = api_client_for("rep1")
    cart = {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 2}]}

    body = post(client, cart).json()
    # 226.00 − 10 % = 203.40
    assert [(step["kind"], step["amount"], step["description"]) for step in body["lines"][0]["steps"]] == [
        ("list_price", "226.00", "目录价 113.00 × 2（价目表 base-cny）"),
        ("promotion", "-22.60", "促销“九折”：单品优惠 10%")]
    assert body["lines"][0]["promotions"] == ["ten-off"]

    type(rule).objects.filter(pk=rule.pk).update(used_count=3, reserved_count=2)
    body = post(client, cart).json()
    assert (body["lines"][0]["total_amount"], body["promotions"][0]["reason"],
            body["promotions"][0]["description"]) == ("226.00", "quota_used_up", "促销的使用次数已用完。")


def test_an_unknown_sku_is_a_violation_not_an_error(shop, api_client_for):
    body = post(api_client_for("rep1"), {"currency": "CNY", "lines": [
        {"sku": "SRV-A", "quantity": 1}, {"sku": "NOPE-9", "quantity": 1}]}).json()

    assert [(item["code"], item["line"], item["sku"], item["blocking"], item["description"])
            for item in body["violations"]] == [
        ("unknown_sku", "2", "NOPE-9", True, "第 2 行（NOPE-9）：SKU NOPE-9 不存在。")]
    assert body["totals"]["total_amount"] == "113.00"


# --- field errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1}] * 3 + [{"sku": "SRV-A", "quantity": 0}]},
     "lines[3].quantity", "positive"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": "abc"}]}, "lines[0].quantity", "invalid_number"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": True}]}, "lines[0].quantity", "invalid_number"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": -2}]}, "lines[0].quantity", "positive"),
    ({"currency": "CNY", "lines": [{"sku": "", "quantity": 1}]}, "lines[0].sku", "required"),
    ({"currency": "CNY", "lines": [{"sku": 123, "quantity": 1}]}, "lines[0].sku", "invalid"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": "0.00001"}]}, "lines[0].quantity", "too_precise"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": "1.00000000000000000000000000001"}]},
     "lines[0].quantity", "too_precise"),  # past the default 28-digit precision
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": "1E-999999999"}]}, "lines[0].quantity",
     "too_precise"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "manual_discount_percent": "1E-999999999"}]},
     "lines[0].manual_discount_percent", "too_precise"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "unit_cost": "1E-999999999"}]},
     "lines[0].unit_cost", "too_precise"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "attributes": {"size": "xl"}}]},
     "lines[0].attributes.size", "unknown_attribute"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "attributes": {"colour": "pink"}}]},
     "lines[0].attributes.colour", "unknown_value"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "attributes": {"colour": "red"}}]},
     "lines[0].attributes.colour", "conflicts_with_sku"),
    ({"currency": "CNY", "lines": "SRV-A"}, "lines", "list_type"),
    ({"currency": "CNY", "account_id": "x", "lines": [{"sku": "SRV-A", "quantity": 1}]}, "account_id",
     "int_parsing"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1, "manual_discount_percent": 120}]},
     "lines[0].manual_discount_percent", "percent_range"),
    ({"currency": "XYZ", "lines": [{"sku": "SRV-A", "quantity": 1}]}, "currency", "unknown_currency"),
    ({"currency": "CNY", "lines": []}, "lines", "required"),
    ({"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1}] * 10_001}, "lines", "too_many"),
    ({"currency": "CNY", "price_book_id": 999_999, "lines": [{"sku": "SRV-A", "quantity": 1}]}, "price_book_id",
     "unknown_price_book"),
    ({"currency": "CNY", "as_of": "tomorrow", "lines": [{"sku": "SRV-A", "quantity": 1}]}, "as_of", "invalid"),
])
def test_bad_input_is_a_422_naming_the_field(shop, api_client_for, body, field, code):
    response = post(api_client_for("rep1"), body)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [(item["field"], item["code"]) for item in problem["errors"]] == [(field, code)]


def test_a_chosen_attribute_that_the_sku_does_not_fix_is_accepted(shop, api_client_for):
    # colour is no axis of the installation service, but a configuration may choose it; SRV-A is black.
    response = post(api_client_for("rep1"), {"currency": "CNY", "lines": [
        {"sku": "SVC-1", "quantity": 1, "attributes": {"colour": "red"}},
        {"sku": "SRV-A", "quantity": 1, "attributes": {"colour": "black"}}]})
    assert response.status_code == 200
    assert [line["total_amount"] for line in response.json()["lines"]] == ["106.00", "113.00"]


def test_field_errors_read_in_the_callers_language(shop, api_client_for):
    client = api_client_for("rep1")
    body = {"currency": "CNY", "account_id": "x",
            "lines": [{"sku": "SRV-A", "quantity": "1.00000", "attributes": {"colour": "red"}}]}
    problem = post(client, body).json()
    assert [(item["field"], item["message"]) for item in problem["errors"]] == [("account_id", "必须是整数。")]
    problem = post(client, {**body, "account_id": None}, ).json()
    assert [(item["field"], item["message"]) for item in problem["errors"]] == [
        ("lines[0].attributes.colour", "SKU SRV-A 的 colour 固定为 black；要 red 请选对应的 SKU。")]
    client.cookies["django_language"] = "en"
    problem = post(client, body, ).json()
    assert [(item["field"], item["message"]) for item in problem["errors"]] == [
        ("account_id", "Must be a whole number.")]


def test_an_inactive_forced_book_is_a_422(shop, api_client_for):
    from l2c.apps.pricing.models import PriceBook

    draft = PriceBook.objects.create(code="draft-book", name="草稿", currency="CNY")
    bump()

    problem = post(api_client_for("rep1"), {"currency": "CNY", "price_book_id": draft.pk,
                                            "lines": [{"sku": "SRV-A", "quantity": 1}]}).json()

    assert [(item["field"], item["code"]) for item in problem["errors"]] == [("price_book_id", "inactive_price_book")]


# --- permissions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "status"), [
    ("admin", 200), ("director", 200), ("manager", 200), ("rep1", 200), ("presales", 200), ("finance", 200),
    ("marketing", 403), (None, 401)])
def test_preview_needs_view_on_price_books(shop, api_client_for, username, status):
    response = post(api_client_for(username), {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1}]})

    assert response.status_code == status


# --- simulation ------------------------------------------------------------------------------------


def test_simulate_explains_a_draft_promotion(shop, api_client_for):
    promotion("draft-20", "percent_off", {"percent": "20"}, eligible_products=["srv"], status="draft",
              name="新品八折")
    client = api_client_for("marketing")
    cart = {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 2}, {"sku": "SVC-1", "quantity": 1}]}

    response = post(client, {**cart, "promotion": "draft-20"}, SIMULATE_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    # 226.00 × 20 % = 45.20 off SRV-A; SVC-1 is not a product of "srv".
    assert body["promotion"] == {
        "code": "draft-20", "name": "新品八折", "kind": "percent_off", "stored_status": "draft", "applied": True,
        "discount": "45.20", "lines": [{"key": "1", "sku": "SRV-A", "is_gift": False, "discount": "45.20"}],
        "reason": None, "description": "已生效，优惠 45.20"}
    assert body["lines"][0]["total_amount"] == "180.80"
    # The plain preview does not see the draft.
    assert post(api_client_for("rep1"), cart).json()["promotions"] == []


def test_simulate_says_why_a_promotion_does_not_apply(shop, api_client_for):
    promotion("big-spend", "spend_save", {"threshold": "5000", "amount": "500"}, status="paused", name="满五千减五百")

    body = post(api_client_for("marketing"), {"currency": "CNY", "promotion": "big-spend",
                                              "lines": [{"sku": "SRV-A", "quantity": 1}]}, SIMULATE_URL).json()

    assert body["promotion"] == {
        "code": "big-spend", "name": "满五千减五百", "kind": "spend_save", "stored_status": "paused",
        "applied": False, "discount": "0.00", "lines": [], "reason": "below_threshold",
        "description": "未达到促销门槛：需满 5000.00，当前可参与金额 113.00。"}


def test_simulate_an_unknown_promotion_is_a_422(shop, api_client_for):
    problem = post(api_client_for("marketing"), {"currency": "CNY", "promotion": "nope",
                                                 "lines": [{"sku": "SRV-A", "quantity": 1}]}, SIMULATE_URL).json()

    assert [(item["field"], item["code"]) for item in problem["errors"]] == [("promotion", "unknown_promotion")]


def test_simulate_needs_view_on_promotions(shop, org, api_client_for):
    from django.test import Client

    from l2c.apps.identity.services import api_token_create, user_create

    nobody = user_create(username="nobody", password="pw-nobody", display_name="nobody", email="n@example.com",
                         department_id=org.north.pk, role_codes=[], is_superuser=False)
    _token, secret = api_token_create(user=nobody, name="tests")
    body = {"currency": "CNY", "promotion": "x", "lines": [{"sku": "SRV-A", "quantity": 1}]}

    assert post(Client(HTTP_AUTHORIZATION=f"Bearer {secret}"), body, SIMULATE_URL).status_code == 403
    assert post(api_client_for(None), body, SIMULATE_URL).status_code == 401


def test_the_answer_written_directly_matches_the_declared_schema(shop, api_client_for):
    from l2c.apps.pricing.preview_api import PricingPreviewOut, PricingPreviewSimulationOut

    promotion("gift", "gift", {"min_quantity": "2", "gift_sku": "SVC-1"}, eligible_skus=["SRV-A"], name="买二送安装")
    promotion("draft", "spend_save", {"threshold": "100", "amount": "10"}, status="draft")
    cart = {"account_id": shop.account.pk, "currency": "CNY", "coupon_codes": ["NONE"],
            "lines": [{"sku": "SRV-A", "quantity": 2, "manual_discount_percent": "5"}, {"sku": "NOPE", "quantity": 1}]}
    client = api_client_for("rep1")

    preview = post(client, cart).json()
    simulation = post(client, {**cart, "promotion": "draft"}, SIMULATE_URL).json()

    assert PricingPreviewOut.model_validate(preview).model_dump() == preview
    assert PricingPreviewSimulationOut.model_validate(simulation).model_dump() == simulation
    assert [(line["key"], line["is_gift"], line["parent"]) for line in preview["lines"]] == [
        ("1", False, None), ("1+gift:gift", True, "1"), ("2", False, None)]
    assert simulation["promotion"]["applied"] is True


def test_the_waterfall_explains_tiers_and_attribute_adjustments(shop, api_client_for):
    from l2c.apps.pricing.models import AttributeAdjustment, PriceBook, PriceBookEntry, PriceTier

    tiered = PriceBook.objects.create(code="tiered", name="阶梯价", currency="CNY", priority=20, status="active")
    entry = PriceBookEntry.objects.create(book=tiered, sku=shop.skus["SRV-B"], unit_price=Decimal("226"),
                                          tier_mode="volume")
    PriceTier.objects.create(entry=entry, min_quantity=Decimal(1), unit_price=Decimal("226"))
    PriceTier.objects.create(entry=entry, min_quantity=Decimal(10), unit_price=Decimal("203.40"))
    AttributeAdjustment.objects.create(book=tiered, attribute="colour", value="red", percent=Decimal(10))
    bump()

    body = post(api_client_for("rep1"), {"currency": "CNY", "lines": [{"sku": "SRV-B", "quantity": 10}]}).json()

    line = body["lines"][0]
    # 10 units reach the 10+ tier: all at 203.40 = 2034.00 (−226.00 from 10 × 226.00); red +10 % of the book
    # amount = +203.40 → 2237.40 tax-inclusive = net 1980.00 + tax 257.40.
    assert [(step["kind"], step["rule"], step["amount"], step["description"]) for step in line["steps"]] == [
        ("list_price", "base-cny", "2260.00", "目录价 226.00 × 10（价目表 base-cny）"),
        ("price_book", "tiered", "0.00", "适用价目表“阶梯价”（tiered）的价格"),
        ("tier", "tiered", "-226.00", "总量阶梯：数量达到 10，全部按单价 203.4"),
        ("attribute", "tiered:colour=red", "203.40", "属性 colour = red：+10%")]
    assert (line["total_amount"], line["net_amount"], line["tax_amount"], line["unit_price"]) == (
        "2237.40", "1980.00", "257.40", "223.74")


def test_the_margin_guard_names_the_line_the_reason_and_the_rule(shop, api_client_for):
    from l2c.apps.pricing.models import MarginPolicy, MarginThreshold, PriceBookEntry

    policy = MarginPolicy.objects.create(pk=1, below_cost="block", below_floor="approval", below_floor_level=1)
    MarginThreshold.objects.create(policy=policy, name="低毛利", min_margin_percent=Decimal(30), level=1)
    PriceBookEntry.objects.filter(book__code="base-cny", sku__code="SVC-1").update(floor_price=Decimal("100"))
    bump()

    body = post(api_client_for("rep1"), {"currency": "CNY", "lines": [
        {"sku": "SRV-A", "quantity": 1, "manual_discount_percent": 60},
        {"sku": "SVC-1", "quantity": 1, "manual_discount_percent": "10"}]}).json()

    # SRV-A: 113.00 − 60 % = 45.20 → net 40.00 < cost 60.00 (blocked), margin −50 % < 30 %.
    # SVC-1: 106.00 − 10 % = 95.40 < floor 100.00; net 90.00, cost 10.00, margin 88.89 %.
    # Quote: net 130.00, cost 70.00 → margin 46.15 %.
    assert [(item["code"], item["line"], item["sku"], item["blocking"], item["description"])
            for item in body["violations"]] == [
        ("below_cost", "1", "SRV-A", True, "第 1 行（SRV-A）：价格倒挂：不含税金额 40.00 低于成本 60.00，禁止报价。")]
    assert [(item["level"], item["code"], item["line"], item["description"]) for item in body["approvals"]] == [
        (1, "margin", "1", "第 1 行（SRV-A）：毛利率 -50% 低于 30%（低毛利）。需要 1 级审批。"),
        (1, "below_floor", "2", "第 2 行（SVC-1）：单价 95.40 低于价目表 base-cny 的底价 100.00。需要 1 级审批。")]
    assert body["totals"]["margin_percent"] == "46.15"


def test_region_and_channel_scopes_follow_the_account_city_and_the_seller_department(shop, org, api_client_for):
    from l2c.apps.pricing.models import PriceBook, PriceBookEntry

    south = PriceBook.objects.create(code="south", name="华南价", currency="CNY", priority=30, status="active",
                                     scope_regions=["广东"])
    north = PriceBook.objects.create(code="north-channel", name="华北渠道价", currency="CNY", priority=40,
                                     status="active", scope_departments=[org.north.pk])
    PriceBookEntry.objects.create(book=south, sku=shop.skus["SVC-1"], unit_price=Decimal("95.40"))
    PriceBookEntry.objects.create(book=north, sku=shop.skus["SVC-1"], unit_price=Decimal("90.10"))
    bump()
    cart = {"account_id": shop.account.pk, "currency": "CNY", "lines": [{"sku": "SVC-1", "quantity": 1}]}

    rep1 = post(api_client_for("rep1"), cart).json()  # 华北销售部: the channel book wins on priority
    manager = post(api_client_for("director"), cart).json()  # 销售中心 is above 华北: not in that channel
    anonymous_cart = post(api_client_for("director"), {**cart, "account_id": None}).json()

    assert (rep1["lines"][0]["price_book"], rep1["lines"][0]["total_amount"]) == ("north-channel", "90.10")
    assert (manager["lines"][0]["price_book"], manager["lines"][0]["total_amount"]) == ("south", "95.40")
    assert {book["code"]: book["reason"] for book in manager["price_books"]}["north-channel"] == "scope_department"
    assert {book["code"]: book["reason"] for book in anonymous_cart["price_books"]}["south"] == "scope_region"


def test_a_flash_price_outside_its_window_says_when_it_runs(shop, api_client_for):
    import datetime as dt

    start = dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.UTC)
    promotion("flash", "flash_price", {"price": "99"}, valid_from=start, valid_to=start + dt.timedelta(hours=2),
              name="双十一秒杀")
    client = api_client_for("rep1")
    cart = {"currency": "CNY", "lines": [{"sku": "SRV-A", "quantity": 1}]}

    outside = post(client, {**cart, "as_of": "2026-11-28"}).json()
    inside = post(client, {**cart, "as_of": "2026-11-11T09:00:00+08:00"}).json()

    assert [(item["reason"], item["description"]) for item in outside["promotions"]] == [
        ("outside_validity", "不在促销的有效期内（2026-11-11 08:00 至 2026-11-11 10:00）。")]
    assert (inside["lines"][0]["total_amount"], inside["promotions"][0]["status"]) == ("99.00", "applied")

"""The promotion simulation panel (/pricing/simulate/) that the promotion editor embeds: GET renders the
cart form for `?promotion=<code>` (htmx: the panel alone), POST renders what the promotion would do on the
cart — even a draft — or why it would not apply."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.apps.pricing.test_preview_api import build_shop, promotion


@pytest.fixture
def shop(org: Any) -> Any:
    return build_shop(org)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_panel_renders_the_form_for_a_promotion(shop, org):
    promotion("draft-20", "percent_off", {"percent": "20"}, status="draft")
    client = client_for(org["marketing"])

    panel = client.get("/pricing/simulate/", {"promotion": "draft-20"}, HTTP_HX_REQUEST="true").content.decode()
    page = client.get("/pricing/simulate/", {"promotion": "draft-20"}).content.decode()

    assert "<html" not in panel and "data-simulate-panel" in panel
    assert '<input type="hidden" name="promotion" value="draft-20">' in panel
    assert 'hx-target="#simulate-result"' in panel
    assert "<html" in page and "data-simulate-panel" in page


def test_posting_the_cart_shows_what_a_draft_promotion_would_give(shop, org):
    promotion("draft-20", "percent_off", {"percent": "20"}, eligible_products=["srv"], status="draft", name="新品八折")

    response = client_for(org["marketing"]).post("/pricing/simulate/", {
        "promotion": "draft-20", "currency": "CNY", "row": ["1"], "sku-1": "SRV-A", "quantity-1": "2"},
        HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-simulate-focus data-applied="true"' in html
    assert "这个购物车可以得到优惠 45.20 CNY。" in html
    assert 'data-total="total_amount">180.80<' in html


def test_posting_a_cart_below_the_threshold_says_why(shop, org):
    promotion("big-spend", "spend_save", {"threshold": "5000", "amount": "500"}, status="paused")

    html = client_for(org["marketing"]).post("/pricing/simulate/", {
        "promotion": "big-spend", "currency": "CNY", "row": ["1"], "sku-1": "SRV-A", "quantity-1": "1"},
        HTTP_HX_REQUEST="true").content.decode()

    assert 'data-applied="false"' in html
    assert "这个购物车得不到这个促销：未达到促销门槛：需满 5000.00，当前可参与金额 113.00。" in html


def test_the_panel_needs_view_on_promotions(shop, org):
    from l2c.apps.identity.services import user_create

    nobody = user_create(username="nobody", password="pw-nobody", display_name="nobody", email="n@example.com",
                         department_id=org.north.pk, role_codes=[], is_superuser=False)

    assert client_for(nobody).get("/pricing/simulate/", {"promotion": "x"}).status_code == 403

"""The price preview page (/pricing/preview/): renders the cart form with its pickers, prices through
htmx (the waterfall per line, totals, promotions, books and why), names wrong fields per line, and is
refused to users without view on price books."""

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


def cart(**fields: Any) -> dict[str, Any]:
    data = {"currency": "CNY", "as_of": "2026-11-28", "row": ["1", "2"], "sku-1": "SRV-A", "quantity-1": "2",
            "discount-1": "", "attr-1-colour": "black", "sku-2": "", "quantity-2": ""}
    data.update(fields)
    return data


def test_the_page_renders_the_cart_form(shop, org):
    response = client_for(org["rep1"]).get("/pricing/preview/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="sku-1"' in html and 'name="quantity-1"' in html and "data-preview-line-template" in html
    assert f'<option value="{shop.books["dealer"].pk}">CNY · 渠道价 (dealer)</option>' in html
    assert "pricing/preview.js" in html and "试算" in html


def test_an_htmx_post_returns_the_waterfall(shop, org):
    promotion("ten-off", "percent_off", {"percent": "10"}, eligible_skus=["SRV-A"], name="九折")

    response = client_for(org["rep1"]).post("/pricing/preview/", cart(), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "data-preview-result" in html
    assert 'data-total="total_amount">203.40<' in html
    assert "目录价 113.00 × 2（价目表 base-cny）" in html and "促销“九折”：单品优惠 10%" in html
    assert '<td class="num">-22.60</td>' in html
    assert 'data-promotion="ten-off" data-status="applied"' in html
    assert 'data-book="contract" data-reason="scope_account"' in html and "不在可售范围：客户不符" in html


def test_a_plain_post_renders_the_whole_page_with_the_result(shop, org):
    response = client_for(org["rep1"]).post("/pricing/preview/", cart(account_id=str(shop.account.pk)))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'data-total="total_amount">203.40<' in html
    assert f'<option value="{shop.account.pk}" selected>深圳星河科技有限公司</option>' in html


def test_wrong_fields_are_named_per_line(shop, org):
    response = client_for(org["rep1"]).post("/pricing/preview/", cart(**{"quantity-1": "0"}),
                                            HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert "data-preview-errors" in html and "第 1 行：数量必须大于 0。" in html
    assert "data-preview-result" not in html


def test_pickers_answer_skus_attributes_and_visible_accounts(shop, org):
    client = client_for(org["rep1"])

    skus = client.get("/pricing/preview/skus/", {"q": "srv"}).content.decode()
    attributes = client.get("/pricing/preview/attributes/", {"row": "3", "sku-3": "SRV-B"}).content.decode()
    accounts = client.get("/pricing/preview/accounts/", {"account_q": "星河"}).content.decode()
    hidden = client_for(org["rep3"]).get("/pricing/preview/accounts/", {"account_q": "星河"}).content.decode()

    assert '<option value="SRV-A">服务器 黑</option>' in skus and '<option value="SRV-B">服务器 红</option>' in skus
    assert 'name="attr-3-colour"' in attributes and '<option value="red" selected>红色</option>' in attributes
    assert f'<option value="{shop.account.pk}" selected>深圳星河科技有限公司</option>' in accounts
    assert "深圳星河" not in hidden and "没有匹配的客户" in hidden


@pytest.mark.parametrize(("username", "status"), [("rep1", 200), ("finance", 200), ("marketing", 403)])
def test_the_page_needs_view_on_price_books(shop, org, username, status):
    assert client_for(org[username]).get("/pricing/preview/").status_code == status


def test_anonymous_users_are_sent_to_log_in(shop):
    response = Client().get("/pricing/preview/")

    assert response.status_code == 302 and "/login/" in response["Location"]

"""The pricing REST API: CRUD, ETag / If-Match, cursor pages, permissions per role, reservations,
margin policy. A refused request changes nothing."""

from __future__ import annotations

import json

import pytest

from l2c.apps.pricing.models import Coupon, PriceBook, PriceBookEntry, Promotion

BASE = "/api/v1/pricing"


def send(client, method, path, body=None, **headers):
    return getattr(client, method)(f"{BASE}{path}", data=json.dumps(body) if body is not None else None,
                                   content_type="application/json", **headers)


@pytest.fixture
def manager(api_client_for):
    return api_client_for("manager")


def make_book(client, code="list", **data):
    response = send(client, "post", "/price-books", {"code": code, "name": "标准价目表", **data})
    assert response.status_code == 201, response.content
    return response


def test_book_crud_with_etag(manager, catalogue):
    created = make_book(manager, is_base=True, scope_regions=["北京"])
    body = created.json()
    assert (body["code"], body["status"], body["entry_count"], body["version"]) == ("list", "draft", 0, 1)
    assert created["ETag"] == '"v1"'
    book_id = body["id"]

    detail = send(manager, "get", f"/price-books/{book_id}")
    assert detail.status_code == 200 and detail["ETag"] == '"v1"'

    patched = send(manager, "patch", f"/price-books/{book_id}", {"priority": 3}, HTTP_IF_MATCH='"v1"')
    assert patched.status_code == 200
    assert (patched.json()["priority"], patched["ETag"]) == (3, '"v2"')

    stale = send(manager, "patch", f"/price-books/{book_id}", {"priority": 4}, HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert PriceBook.objects.get(pk=book_id).priority == 3

    put = send(manager, "put", f"/price-books/{book_id}/entries/SRV-1", {
        "method": "fixed", "tier_mode": "volume",
        "tiers": [{"min_quantity": 1, "unit_price": "100"}, {"min_quantity": 10, "unit_price": "90.5", "flat_fee": 5}]})
    assert put.status_code == 200, put.content
    assert put.json()["tiers"] == [{"min_quantity": "1.0000", "unit_price": "100.0000", "flat_fee": "0.0000"},
                                   {"min_quantity": "10.0000", "unit_price": "90.5000", "flat_fee": "5.0000"}]
    send(manager, "put", f"/price-books/{book_id}/entries/SRV-2", {"method": "fixed", "unit_price": "120"})
    send(manager, "put", f"/price-books/{book_id}/entries/INST-1", {"method": "fixed", "unit_price": "80"})

    first = send(manager, "get", f"/price-books/{book_id}/entries?limit=2").json()
    assert [item["sku"] for item in first["items"]] == ["SRV-1", "SRV-2"]
    second = send(manager, "get", f"/price-books/{book_id}/entries?limit=2&cursor={first['next_cursor']}").json()
    assert [item["sku"] for item in second["items"]] == ["INST-1"]
    assert send(manager, "get", f"/price-books/{book_id}").json()["entry_count"] == 3

    bad = send(manager, "put", f"/price-books/{book_id}/entries/SRV-2", {"method": "block", "unit_price": "1"})
    assert bad.status_code == 422
    assert [(e["field"], e["code"]) for e in bad.json()["errors"]] == [("block_size", "required")]

    assert send(manager, "delete", f"/price-books/{book_id}/entries/INST-1").status_code == 204
    adjustment = send(manager, "post", f"/price-books/{book_id}/adjustments",
                      {"attribute": "colour", "value": "red", "percent": "10"})
    assert adjustment.status_code == 201
    assert send(manager, "get", f"/price-books/{book_id}/adjustments").json()[0]["percent"] == "10.0000"

    copy = send(manager, "post", f"/price-books/{book_id}/copy", {"code": "list-2027"})
    assert copy.status_code == 201 and copy.json()["entry_count"] == 2

    assert send(manager, "post", f"/price-books/{book_id}/activate").json()["status"] == "active"
    other = make_book(manager, "other-base", is_base=True).json()
    conflict = send(manager, "post", f"/price-books/{other['id']}/activate")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "base_book_exists"

    version = send(manager, "get", f"/price-books/{book_id}").json()["version"]
    assert send(manager, "delete", f"/price-books/{book_id}", HTTP_IF_MATCH='"v1"').status_code == 412
    assert send(manager, "delete", f"/price-books/{book_id}", HTTP_IF_MATCH=f'"v{version}"').status_code == 204
    assert not PriceBook.objects.filter(pk=book_id).exists()


@pytest.mark.parametrize(("username", "book_create", "promotion_create"), [
    ("rep1", 403, 403),
    ("presales", 403, 403),
    ("finance", 403, 403),
    ("marketing", 403, 201),
    ("manager", 201, 201),
    ("admin", 201, 201),
])
def test_permissions_per_role(api_client_for, catalogue, username, book_create, promotion_create):
    client = api_client_for(username)

    book = send(client, "post", "/price-books", {"code": "b", "name": "价目表"})
    promotion = send(client, "post", "/promotions", {"code": "p", "name": "促销", "kind": "percent_off",
                                                     "params": {"percent": 10}})

    assert (book.status_code, promotion.status_code) == (book_create, promotion_create)
    assert PriceBook.objects.count() == (1 if book_create == 201 else 0)
    assert Promotion.objects.count() == (1 if promotion_create == 201 else 0)
    # Everybody in sales, and finance, reads both; marketing reads promotions only (the default grants).
    assert send(client, "get", "/price-books").status_code == (403 if username == "marketing" else 200)
    assert send(client, "get", "/promotions").status_code == 200


def test_marketing_edits_promotions_but_not_books(api_client_for, catalogue):
    manager, marketing = api_client_for("manager"), api_client_for("marketing")
    book_id = make_book(manager).json()["id"]

    # Marketing has no grant on price books at all: they are not even visible (404, as the choke point does).
    refused = send(marketing, "put", f"/price-books/{book_id}/entries/SRV-1", {"method": "fixed", "unit_price": "1"})
    assert refused.status_code == 404
    assert PriceBookEntry.objects.count() == 0
    assert send(marketing, "patch", f"/price-books/{book_id}", {"priority": 5}).status_code == 404
    assert PriceBook.objects.get(pk=book_id).priority == 0
    # A rep sees the book but may not edit it: 403.
    rep = api_client_for("rep1")
    assert send(rep, "put", f"/price-books/{book_id}/entries/SRV-1", {"method": "fixed", "unit_price": "1"}
                ).status_code == 403
    assert PriceBookEntry.objects.count() == 0


def test_unauthenticated_is_401(api_client_for):
    assert send(api_client_for(None), "get", "/price-books").status_code == 401


def test_promotion_crud_coupons_and_reservations(api_client_for, catalogue):
    marketing = api_client_for("marketing")
    created = send(marketing, "post", "/promotions", {
        "code": "welcome", "name": "新客券", "kind": "coupon", "params": {"amount": 50, "threshold": 500},
        "max_uses": 10, "max_discount": 100000, "eligible_categories": ["hardware"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["requires_coupon"], body["status"], body["max_discount"]) == (True, "draft", 100000)
    promotion_id = body["id"]

    invalid = send(marketing, "patch", f"/promotions/{promotion_id}", {"params": {"amount": -1}},
                   HTTP_IF_MATCH='"v1"')
    assert invalid.status_code == 422
    assert [(e["field"], e["code"]) for e in invalid.json()["errors"]] == [("params.amount", "positive")]

    assert send(marketing, "post", f"/promotions/{promotion_id}/activate").json()["status"] == "active"
    one = send(marketing, "post", f"/promotions/{promotion_id}/coupons", {"code": "vip-1", "max_uses": 1})
    assert one.status_code == 201 and one.json()["code"] == "VIP-1"
    generated = send(marketing, "post", f"/promotions/{promotion_id}/coupons/generate", {"count": 25, "prefix": "W"})
    assert generated.status_code == 201
    assert generated.json()["count"] == 25 and len(set(generated.json()["codes"])) == 25
    page = send(marketing, "get", f"/promotions/{promotion_id}/coupons?limit=20").json()
    assert len(page["items"]) == 20 and page["next_cursor"] is not None

    reserved = send(marketing, "post", "/reservations", {
        "reference": "Q-1", "currency": "CNY", "applied": [{"promotion": "welcome", "coupon": "vip-1",
                                                           "discount": 5000}]})
    assert reserved.status_code == 200, reserved.content
    assert [(r["promotion"], r["coupon"], r["status"]) for r in reserved.json()] == [("welcome", "VIP-1", "reserved")]
    used_up = send(marketing, "post", "/reservations", {
        "reference": "Q-2", "applied": [{"promotion": "welcome", "coupon": "VIP-1", "discount": 5000}]})
    assert used_up.status_code == 409 and used_up.json()["code"] == "coupon_used_up"
    assert send(marketing, "post", "/reservations/Q-1/consume").json() == {"settled": 1}
    assert send(marketing, "post", "/reservations/Q-1/consume").json() == {"settled": 0}
    detail = send(marketing, "get", f"/promotions/{promotion_id}").json()
    assert (detail["used_count"], detail["discount_used"], detail["reserved_count"]) == (1, 5000, 0)
    assert Coupon.objects.get(code="VIP-1").used_count == 1

    rep = api_client_for("rep1")
    assert send(rep, "post", "/reservations", {"reference": "Q-3", "applied": []}).status_code == 403
    assert send(rep, "post", f"/promotions/{promotion_id}/pause").status_code == 403
    assert Promotion.objects.get(pk=promotion_id).status == "active"
    assert send(marketing, "delete", f"/promotions/{promotion_id}").status_code == 409


def test_margin_policy_api(api_client_for):
    admin, manager = api_client_for("admin"), api_client_for("manager")

    initial = send(manager, "get", "/margin-policy")
    assert initial.status_code == 200
    assert initial.json() == {"below_cost": "approval", "below_cost_level": 2, "below_floor": "approval",
                              "below_floor_level": 1, "thresholds": [], "version": 1}
    assert send(manager, "put", "/margin-policy", {"below_cost": "block"}).status_code == 403

    saved = send(admin, "put", "/margin-policy", {
        "below_cost": "block", "thresholds": [{"name": "低毛利", "min_margin_percent": "12.5", "level": 2}]},
        HTTP_IF_MATCH='"v1"')
    assert saved.status_code == 200
    assert saved.json()["thresholds"] == [{"name": "低毛利", "min_margin_percent": "12.50", "level": 2}]
    assert saved["ETag"] == '"v2"'
    assert send(admin, "put", "/margin-policy", {"below_cost": "approval"}, HTTP_IF_MATCH='"v1"').status_code == 412

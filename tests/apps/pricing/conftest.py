"""Fixtures of the pricing admin tests: a small catalogue (categories, an attribute with values,
products of two types, SKUs) built with the ORM — the catalogue app's services are not under test here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest


@dataclass
class Catalogue:
    hardware: Any
    services: Any
    colour: Any
    server: Any
    install: Any
    skus: dict[str, Any]

    def __getitem__(self, code: str) -> Any:
        return self.skus[code]


@pytest.fixture
def catalogue(db: Any) -> Catalogue:
    from l2c.apps.catalog.models import Attribute, AttributeValue, Category, Product, Sku

    hardware = Category.objects.create(code="hardware", name="硬件")
    services = Category.objects.create(code="services", name="服务")
    colour = Attribute.objects.create(code="colour", name="颜色")
    AttributeValue.objects.create(attribute=colour, code="red", label="红色")
    AttributeValue.objects.create(attribute=colour, code="black", label="黑色")
    server = Product.objects.create(code="srv", name="服务器", category=hardware, type="goods")
    install = Product.objects.create(code="install", name="安装服务", category=services, type="service")
    skus = {
        "SRV-1": Sku.objects.create(product=server, code="SRV-1", name="服务器 红", cost_price=Decimal("800"),
                                    attribute_values={"colour": "red"}, attribute_key="colour=red"),
        "SRV-2": Sku.objects.create(product=server, code="SRV-2", name="服务器 黑", cost_price=Decimal("820"),
                                    attribute_values={"colour": "black"}, attribute_key="colour=black"),
        "INST-1": Sku.objects.create(product=install, code="INST-1", name="上门安装", cost_price=Decimal("100")),
    }
    return Catalogue(hardware, services, colour, server, install, skus)


def field_codes(error: Any) -> list[tuple[str, str]]:
    """(field, code) of every field error of a DomainError, in order."""
    return [(item.field, item.code) for item in error.errors]

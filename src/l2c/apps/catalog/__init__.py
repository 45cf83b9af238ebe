"""Catalogue (产品目录): categories, attributes, products, SKUs, BOM and configuration rules. ADR 0006."""

"""Catalogue reads (ADR 0006). Other apps read the catalogue through this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Prefetch, Q, QuerySet

from l2c.apps.identity import access

from .models import Attribute, AttributeValue, Category, Product, ProductAttribute, RulesVersion, Sku

if TYPE_CHECKING:
    from l2c.apps.identity.models import User

PRODUCT_SORTS = {"code": "code", "-code": "-code", "name": "name", "-updated_at": "-updated_at",
                 "-created_at": "-created_at", "-id": "-id"}
SKU_SORTS = {"code": "code", "-code": "-code", "-id": "-id"}


def rules_version_key() -> tuple[int, Any]:
    """The rules version and the time its row last moved, in one indexed read: the cache key of the
    compiled pricing and configurator catalogues. The time guards against a counter that went back (a
    restored database, a test's rolled-back transaction) and reached the same number with other rows."""
    row = RulesVersion.objects.filter(pk=1).values_list("number", "changed_at").first()
    return (int(row[0]), row[1]) if row is not None else (0, None)


def rules_version() -> int:
    """The current rules version (one indexed read): compiled pricing/configurator catalogues are
    cached per process under this number and rebuilt when it moves."""
    number = RulesVersion.objects.filter(pk=1).values_list("number", flat=True).first()
    return int(number) if number is not None else 0


# --- categories -------------------------------------------------------------------------------------
@dataclass
class CategoryNode:
    category: Category
    depth: int
    product_count: int = 0
    children: list[CategoryNode] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The name indented by its depth (for pickers)."""
        return "　" * self.depth + self.category.name


def category_tree() -> list[CategoryNode]:
    """Every category as a forest (roots first, children by position and code), with product counts."""
    rows = list(Category.objects.annotate(product_count=Count("products")).order_by("position", "code"))
    nodes = {row.pk: CategoryNode(category=row, depth=0, product_count=row.product_count) for row in rows}
    roots: list[CategoryNode] = []
    for row in rows:
        node = nodes[row.pk]
        parent = nodes.get(row.parent_id) if row.parent_id else None
        (parent.children if parent is not None else roots).append(node)

    def depth(items: list[CategoryNode], level: int) -> None:
        for item in items:
            item.depth = level
            depth(item.children, level + 1)

    depth(roots, 0)
    return roots


def category_flat() -> list[CategoryNode]:
    """The category tree in display order (depth first), for pickers and tables."""
    ordered: list[CategoryNode] = []

    def walk(items: list[CategoryNode]) -> None:
        for item in items:
            ordered.append(item)
            walk(item.children)

    walk(category_tree())
    return ordered


def category_descendant_ids(category_id: int) -> list[int]:
    """The category and every category below it."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found: list[int] = []
    stack = [category_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(children.get(current, []))
    return found


# --- attributes -------------------------------------------------------------------------------------
def attribute_list() -> QuerySet[Attribute]:
    return Attribute.objects.prefetch_related(
        Prefetch("values", queryset=AttributeValue.objects.order_by("position", "code"))).order_by("position", "code")


# --- products ---------------------------------------------------------------------------------------
def product_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Product]:
    """Products the user may `action`, narrowed by q (code/name, also of SKUs), category (with its
    sub-categories; id or code), type and status."""
    products = access.restrict(Product.objects.all(), user, "product", action)
    filters = filters or {}
    q = str(filters.get("q") or "").strip()
    if q:
        products = products.filter(Q(code__icontains=q) | Q(name__icontains=q)
                                   | Q(pk__in=Sku.objects.filter(Q(code__icontains=q) | Q(name__icontains=q))
                                       .values("product_id")))
    category = filters.get("category")
    if category not in (None, ""):
        category_id = None
        if str(category).isdigit():
            category_id = int(category)
        else:
            category_id = Category.objects.filter(code=str(category)).values_list("pk", flat=True).first()
        products = products.filter(category_id__in=category_descendant_ids(category_id) if category_id else [])
    if filters.get("type"):
        products = products.filter(type=filters["type"])
    if filters.get("status"):
        products = products.filter(status=filters["status"])
    return products


def product_detail(*, user: User, product_id: int) -> Product:
    """One product the user may see (NotFound otherwise)."""
    base = Product.objects.select_related("category")
    return access.get_for_action(user, "product", product_id, "view", queryset=base)  # type: ignore[no-any-return]


def product_attribute_codes(product: Product) -> list[str]:
    return list(ProductAttribute.objects.filter(product=product).order_by("position")
                .values_list("attribute__code", flat=True))


def product_skus(product: Product) -> QuerySet[Sku]:
    return product.skus.order_by("code")


def sku_counts(product_ids: list[int]) -> list[tuple[int, int]]:
    """(product id, number of SKUs) of the given products (one grouped query)."""
    return list(Sku.objects.filter(product_id__in=product_ids).order_by().values_list("product_id")
                .annotate(n=Count("pk")).values_list("product_id", "n"))


def sku_search(*, user: User, q: str = "", limit: int = 20, exclude_product_id: int | None = None) -> list[Sku]:
    """SKUs of products the user may see whose code or name contains `q` (the BOM editor's picker)."""
    products = access.restrict(Product.objects.all(), user, "product", "view")
    skus = Sku.objects.filter(product__in=products.values("pk")).select_related("product")
    if q.strip():
        skus = skus.filter(Q(code__icontains=q.strip()) | Q(name__icontains=q.strip()))
    if exclude_product_id is not None:
        skus = skus.exclude(product_id=exclude_product_id)
    return list(skus.order_by("code")[:limit])

"""Forms of the catalogue pages. They only shape browser input into the `data` the services take; the
services decide, and their field errors are mapped back onto the form fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from l2c.kernel.errors import DomainError

from .models import TAX_RATE_CHOICES, CatalogStatus, Product, ProductType
from .selectors import CategoryNode
from .services import tax_rate_text

TAX_CHOICES = [(tax_rate_text(rate), label) for rate, label in TAX_RATE_CHOICES]
# Service field names that the form calls differently.
SERVICE_TO_FORM = {"category_id": "category"}


def category_choices(nodes: Sequence[CategoryNode], blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank), *((str(node.category.pk), "　" * node.depth + node.category.name) for node in nodes)]


class ProductForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("产品编码"), max_length=60,
                           help_text=gettext_lazy("字母、数字、“-”和“_”，如 SRV-R740。"))
    name = forms.CharField(label=gettext_lazy("产品名称"), max_length=200)
    category = forms.ChoiceField(label=gettext_lazy("分类"), required=False)
    type = forms.ChoiceField(label=gettext_lazy("产品类型"), choices=ProductType.choices)
    unit = forms.CharField(label=gettext_lazy("单位"), max_length=20, initial="台")
    tax_rate = forms.ChoiceField(label=gettext_lazy("税率"), choices=TAX_CHOICES, initial="13%")
    status = forms.ChoiceField(label=gettext_lazy("状态"), choices=CatalogStatus.choices,
                               initial=CatalogStatus.ACTIVE)
    description = forms.CharField(label=gettext_lazy("说明"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput())

    def __init__(self, *args: Any, categories: Sequence[CategoryNode] = (), instance: Product | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.fields["category"].choices = category_choices(categories)
        if instance is not None:
            self.initial.update({
                "code": instance.code, "name": instance.name, "category": str(instance.category_id or ""),
                "type": instance.type, "unit": instance.unit, "tax_rate": tax_rate_text(instance.tax_rate),
                "status": instance.status, "description": instance.description, "version": instance.version})

    def to_data(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        return {"code": cleaned.get("code") or "", "name": cleaned.get("name") or "",
                "category_id": cleaned.get("category") or None, "type": cleaned.get("type"),
                "unit": cleaned.get("unit") or "", "tax_rate": cleaned.get("tax_rate"),
                "status": cleaned.get("status"), "description": cleaned.get("description") or ""}

    def expected_version(self) -> int | None:
        value = self.cleaned_data.get("version")
        return int(value) if value else None

    def apply(self, error: DomainError) -> None:
        """Put a service error on the form: each field error on its field, the rest on the form."""
        if not error.errors:
            self.add_error(None, error.detail)
        for item in error.errors:
            name = SERVICE_TO_FORM.get(item.field, item.field)
            if name in self.fields and not self.fields[name].widget.is_hidden:
                self.add_error(name, item.message)
            else:
                self.add_error(None, f"{item.field}: {item.message}")

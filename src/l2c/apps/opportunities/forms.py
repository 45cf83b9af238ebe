"""Forms of the opportunity pages. They only shape browser input into the `data` the services take;
the services' cleaners and rules decide, and their errors are mapped back onto the fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from l2c.apps.customers.forms import BLANK, RecordForm, split_tags
from l2c.apps.customers.rfm import clean_amount_minor
from l2c.apps.customers.validation import date as clean_date
from l2c.apps.customers.validation import text as clean_text
from l2c.apps.identity.models import User

from .models import Opportunity, SalesProcess, Stage, StageKind
from .page_helpers import yuan_text


def _amount(raw: Any) -> int:
    """The inline check of the amount field (元, the currency's decimals checked on save)."""
    return clean_amount_minor(raw if raw not in (None, "") else "0", "CNY")


OPPORTUNITY_FIELDS = {"name": clean_text(200, required=True), "amount": _amount, "close_date": clean_date,
                      "next_step": clean_text(300), "description": clean_text(5000)}


class OpportunityForm(RecordForm):
    """Create or edit a deal: name, account (visible ones), process and first stage (create only),
    amount in 元, currency, close date, competitors (comma-separated names), next step,
    description, owner (create, when the user may assign), custom fields."""

    object_type = "opportunity"
    spec = OPPORTUNITY_FIELDS
    model = Opportunity
    validate_url_name = "opportunities:opportunity_validate"

    def __init__(self, *args: Any, user: User, instance: Opportunity | None = None, accounts: Sequence[Any] = (),
                 processes: Sequence[SalesProcess] = (), stages: Sequence[Stage] = (), owners: Sequence[User] = (),
                 **kwargs: Any) -> None:
        base: dict[str, forms.Field] = {
            "name": forms.CharField(label=gettext_lazy("商机名称"), max_length=200),
            "account": forms.ChoiceField(label=gettext_lazy("客户"),
                                         choices=[BLANK, *((str(a.pk), a.name) for a in accounts)]),
        }
        if instance is None:
            base["process"] = forms.ChoiceField(label=gettext_lazy("销售流程"),
                                                choices=[(str(p.pk), p.name) for p in processes])
            base["stage"] = forms.ChoiceField(
                label=gettext_lazy("阶段"), required=False,
                help_text=gettext_lazy("留空则从流程的第一个阶段开始。"),
                choices=[("", gettext_lazy("第一个阶段")),
                         *((str(s.pk), f"{s.process.name} · {s.name}") for s in stages if s.kind == StageKind.OPEN)])
        base.update({
            "amount": forms.CharField(label=gettext_lazy("金额（元）"), max_length=30, required=False,
                                      widget=forms.TextInput(attrs={"inputmode": "decimal"})),
            "currency": forms.CharField(label=gettext_lazy("币种"), max_length=3, required=False, initial="CNY"),
            "close_date": forms.DateField(label=gettext_lazy("预计成交日期"), required=False,
                                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")),
            "competitors": forms.CharField(label=gettext_lazy("竞争对手"), max_length=1000, required=False,
                                           help_text=gettext_lazy("多个名称用逗号分隔。")),
            "next_step": forms.CharField(label=gettext_lazy("下一步"), max_length=300, required=False),
            "description": forms.CharField(label=gettext_lazy("备注"), max_length=5000, required=False,
                                           widget=forms.Textarea(attrs={"rows": 3})),
        })
        if instance is None and owners:
            base["owner"] = forms.ChoiceField(
                label=gettext_lazy("负责人"), required=False,
                choices=[("", gettext_lazy("我自己")), *((str(u.pk), str(u)) for u in owners if u.pk != user.pk)])
        self.base_fields = base  # type: ignore[misc]
        super().__init__(*args, user=user, instance=instance, **kwargs)
        self.fields["confirm_duplicates"].widget = forms.HiddenInput()  # deals have no duplicate control
        if instance is not None:
            self.initial.update({
                "name": instance.name, "account": str(instance.account_id),
                "amount": yuan_text(instance.amount, instance.currency), "currency": instance.currency,
                "close_date": instance.close_date, "next_step": instance.next_step,
                "description": instance.description,
                "competitors": ", ".join(instance.competitors.order_by("name").values_list("name", flat=True)),
            })

    def standard_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields
                if not name.startswith("custom_") and not self.fields[name].widget.is_hidden]

    def to_data(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        close_date = cleaned.get("close_date")
        data: dict[str, Any] = {
            "name": cleaned.get("name") or "", "account_id": cleaned.get("account") or None,
            "amount": (cleaned.get("amount") or "0").replace(",", "").strip(),
            "currency": (cleaned.get("currency") or "CNY").upper(),
            "close_date": close_date.isoformat() if close_date else None,
            "competitors": split_tags(cleaned.get("competitors") or ""),
            "next_step": cleaned.get("next_step") or "", "description": cleaned.get("description") or "",
            "custom": self.custom_data(),
        }
        if self.instance is None:
            data["process_id"] = cleaned.get("process") or None
            data["stage_id"] = cleaned.get("stage") or None
            if cleaned.get("owner"):
                data["owner_id"] = cleaned["owner"]
        return data

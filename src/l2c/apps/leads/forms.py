"""Forms of the lead pages. They only shape browser input into the `data` the services take; the
services' cleaners and rules decide, and their errors are mapped back onto the fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.customers.forms import BLANK, RecordForm
from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.identity.models import User

from .models import Lead, LeadSource
from .validation import LEAD_FIELDS


class LeadForm(RecordForm):
    """Create or edit a lead: the standard fields, campaign, owner (create only; later a transfer),
    custom fields."""

    object_type = "lead"
    spec = LEAD_FIELDS
    model = Lead
    validate_url_name = "leads:lead_validate"

    def __init__(self, *args: Any, user: User, instance: Lead | None = None, owners: Sequence[User] = (),
                 campaigns: Sequence[Any] = (), **kwargs: Any) -> None:
        base: dict[str, forms.Field] = {}
        for name in LEAD_FIELDS:
            if name == "industry":
                base[name] = forms.ChoiceField(label=Lead._meta.get_field(name).verbose_name,
                                               choices=[BLANK, *Industry.choices], required=False)
            elif name == "size":
                base[name] = forms.ChoiceField(label=Lead._meta.get_field(name).verbose_name,
                                               choices=[BLANK, *CompanySize.choices], required=False)
            elif name == "source":
                base[name] = forms.ChoiceField(label=Lead._meta.get_field(name).verbose_name,
                                               choices=[BLANK, *LeadSource.choices], required=False)
            elif name == "description":
                base[name] = forms.CharField(label=Lead._meta.get_field(name).verbose_name, max_length=2000,
                                             required=False, widget=forms.Textarea(attrs={"rows": 3}))
            else:
                base[name] = self.standard_field(name)
        base["email"].widget = forms.EmailInput(attrs={"maxlength": "254"})
        base["campaign"] = forms.ChoiceField(label=gettext_lazy("市场活动"), required=False,
                                             choices=[BLANK, *((str(c.pk), c.name) for c in campaigns)])
        if instance is None:
            base["owner"] = forms.ChoiceField(
                label=gettext_lazy("负责人"), required=False,
                choices=[("", gettext_lazy("我自己")), ("assign", gettext_lazy("按分配规则分配")),
                         *((str(u.pk), str(u)) for u in owners if u.pk != user.pk)])
        self.base_fields = base  # type: ignore[misc]
        super().__init__(*args, user=user, instance=instance, **kwargs)
        if instance is not None:
            self.standard_initial(instance)
            self.initial.setdefault("campaign", str(instance.campaign_id or ""))

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if not (self.data.get(self.add_prefix("name")) or "").strip() and \
                not (self.data.get(self.add_prefix("company")) or "").strip():
            self.add_error("name", _("请填写姓名或公司（至少一项）。"))
        return cleaned

    def standard_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name in self.spec or name in ("owner", "campaign")]

    def to_data(self) -> dict[str, Any]:
        data = self.standard_data()
        data["campaign_id"] = self.cleaned_data.get("campaign") or None
        owner = self.cleaned_data.get("owner") if "owner" in self.fields else ""
        if owner == "assign":
            data["assign"] = True
        elif owner:
            data["owner_id"] = owner
        data["custom"] = self.custom_data()
        return data


class DisqualifyForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("无效原因"), max_length=200)

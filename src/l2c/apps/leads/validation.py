"""Field cleaning of leads, shared by the API, the forms, capture and the importer. The cleaners
are those of accounts and contacts (`customers.validation`), so a phone or an e-mail is accepted
or refused the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from l2c.apps.customers.models import CompanySize, Industry
from l2c.apps.customers.validation import Cleaner, choice, clean_fields, email, phone, search_text, text
from l2c.kernel.errors import FieldError

from .models import Lead, LeadSource

LEAD_FIELDS: dict[str, Cleaner] = {
    "name": text(100),
    "company": text(200),
    "title": text(100),
    "mobile": phone,
    "phone": phone,
    "email": email,
    "wechat": text(100),
    "province": text(30),
    "city": text(30),
    "industry": choice(Industry),
    "size": choice(CompanySize),
    "source": choice(LeadSource),
    "description": text(2000),
}
# Fields a capture (registration, import, tender notice) may fill on an existing lead when empty.
CAPTURE_FILLABLE = ("name", "company", "title", "mobile", "phone", "email", "wechat", "province", "city",
                    "industry", "size", "description")
DISQUALIFY_REASON_MAX = 200


def clean_lead(data: Mapping[str, Any], *, partial: bool, current: Lead | None = None,
               row: int | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """Clean the lead fields in `data`; a lead needs a person or a company name (checked on the
    values it ends up with, so a partial update cannot blank both)."""
    cleaned, errors = clean_fields(LEAD_FIELDS, data, partial=partial, row=row)
    if not any(error.field in ("name", "company") for error in errors):
        name = cleaned.get("name", current.name if current else "")
        company = cleaned.get("company", current.company if current else "")
        if not name and not company:
            errors.append(FieldError("name", _("请填写姓名或公司（至少一项）。"), "required", row))
    return cleaned, errors


def lead_search_text(lead: Lead) -> str:
    return search_text(lead.name, lead.company, lead.mobile, lead.email)[:1000]

"""Business-registration data (工商信息) from a pluggable provider.

The interface (docs/registration.md): a provider is any object with a `name` and
`lookup(*, credit_code, name) -> RegistrationRecord | None`; `L2C_REGISTRATION_PROVIDER` names its
class by dotted path and `L2C_REGISTRATION_OPTIONS` (JSON) are its keyword arguments. The product
ships `FileRegistrationProvider`, which reads a CSV or JSON file of registration records (columns:
credit_code, name, legal_representative, registered_capital (万元), founded_on (YYYY-MM-DD),
business_status (operating, revoked, cancelled, moved_out, suspended or their Chinese labels),
address, industry (GB/T 4754 section letter)).

`registration_refresh` looks the account up, validates the provider's values with the account
cleaners, and writes only the changed registration fields through `account_update` (permissions,
duplicate control, audit, version). A value the provider does not give is never cleared.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import DomainError, ValidationFailed
from l2c.kernel.uscc import normalize_uscc

from .models import Account, BusinessStatus
from .services import account_update

REGISTRATION_FIELDS = ("legal_representative", "registered_capital", "founded_on", "business_status", "address",
                       "industry")


@dataclass(frozen=True)
class RegistrationRecord:
    credit_code: str
    name: str
    legal_representative: str = ""
    registered_capital: Decimal | None = None
    founded_on: dt.date | None = None
    business_status: str = ""
    address: str = ""
    industry: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class RegistrationProvider(Protocol):
    name: str

    def lookup(self, *, credit_code: str, name: str) -> RegistrationRecord | None: ...


_STATUS_LABELS = {str(label): value for value, label in BusinessStatus.choices} | {
    "存续": "operating", "在营": "operating", "开业": "operating", "在册": "operating"}


def _record(raw: dict[str, Any]) -> RegistrationRecord:
    """A record from one file row; unparseable numbers and dates become None (left unchanged)."""
    capital: Decimal | None
    try:
        capital = Decimal(str(raw.get("registered_capital") or "").replace(",", "")) if raw.get(
            "registered_capital") not in (None, "") else None
    except InvalidOperation:
        capital = None
    try:
        founded = dt.date.fromisoformat(str(raw["founded_on"])) if raw.get("founded_on") else None
    except ValueError:
        founded = None
    status = str(raw.get("business_status") or "").strip()
    return RegistrationRecord(
        credit_code=normalize_uscc(str(raw.get("credit_code") or "")), name=str(raw.get("name") or "").strip(),
        legal_representative=str(raw.get("legal_representative") or "").strip(), registered_capital=capital,
        founded_on=founded, business_status=_STATUS_LABELS.get(status, status),
        address=str(raw.get("address") or "").strip(), industry=str(raw.get("industry") or "").strip().upper(),
    )


class FileRegistrationProvider:
    """Registration records from a CSV (UTF-8, header row) or JSON (list of objects) file, looked up
    by credit code, else by exact company name. The file is read once per process."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by_code: dict[str, RegistrationRecord] | None = None
        self._by_name: dict[str, RegistrationRecord] = {}

    def _load(self) -> None:
        if self._by_code is not None:
            return
        text = self.path.read_text(encoding="utf-8-sig")
        rows = json.loads(text) if self.path.suffix.lower() == ".json" else list(csv.DictReader(text.splitlines()))
        records = [_record(row) for row in rows]
        self._by_code = {record.credit_code: record for record in records if record.credit_code}
        self._by_name = {record.name: record for record in records if record.name}

    def lookup(self, *, credit_code: str, name: str) -> RegistrationRecord | None:
        self._load()
        assert self._by_code is not None
        code = normalize_uscc(credit_code)
        return (self._by_code.get(code) if code else None) or self._by_name.get(name.strip())


_PROVIDER: RegistrationProvider | None = None
_PROVIDER_KEY: tuple[str, str] | None = None


def provider() -> RegistrationProvider | None:
    """The configured provider, built once per configuration; None when none is configured."""
    global _PROVIDER, _PROVIDER_KEY
    dotted = getattr(settings, "REGISTRATION_PROVIDER", "") or ""
    options = getattr(settings, "REGISTRATION_OPTIONS", {}) or {}
    key = (dotted, json.dumps(options, sort_keys=True))
    if not dotted:
        return None
    if key != _PROVIDER_KEY:
        _PROVIDER, _PROVIDER_KEY = import_string(dotted)(**options), key
    return _PROVIDER


@dataclass(frozen=True)
class RefreshResult:
    found: bool
    provider: str
    changes: dict[str, list[Any]]
    account: Account


def registration_refresh(*, actor: User, account_id: int) -> RefreshResult:
    """Refresh the account's registration fields from the provider (edit permission needed)."""
    account: Account = access.get_for_action(actor, "account", account_id, "edit")
    source = provider()
    if source is None:
        raise ValidationFailed(_("没有配置工商信息数据源，请联系管理员（L2C_REGISTRATION_PROVIDER）。"))
    try:
        record = source.lookup(credit_code=account.credit_code, name=account.name)
    except (OSError, ValueError) as error:
        raise DomainError(_("工商信息数据源“%(name)s”读取失败：%(error)s")
                          % {"name": source.name, "error": error}) from None
    if record is not None and record.credit_code and account.credit_code \
            and normalize_uscc(account.credit_code) != record.credit_code:
        record = None  # a namesake with another credit code is another company: never copy its data
    if record is None:
        return RefreshResult(found=False, provider=source.name, changes={}, account=account)
    data: dict[str, Any] = {}
    for name in REGISTRATION_FIELDS:
        value = getattr(record, name)
        if value in (None, ""):
            continue  # the provider does not know it: keep ours
        current = getattr(account, name)
        if isinstance(value, Decimal) and current is not None:
            if Decimal(current) != value:
                data[name] = value
        elif (str(current) if current is not None else "") != str(value):
            data[name] = value
    if record.credit_code and not account.credit_code:
        data["credit_code"] = record.credit_code
    updated, changes = account, {}
    if data:
        before = {name: getattr(account, name) for name in data}
        updated = account_update(actor=actor, account_id=account.pk, data={**data, "confirm_duplicates": True},
                                 expected_version=account.version)
        changes = {name: [_plain(before[name]), _plain(getattr(updated, name))] for name in data}
    # Recorded even without a change: the profile shows when the data was last checked.
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.OTHER, actor_id=actor.pk,
                 object_repr=updated.name, changes=changes, summary=f"registration refreshed from {source.name}")
    return RefreshResult(found=True, provider=source.name, changes=changes, account=updated)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value

"""Writes for accounts and contacts. Every write checks access, validates everything, passes
duplicate control (`duplicates.duplicates_guard`; `confirm_duplicates` in the data confirms a
warning), writes the audit event and the record's duplicate keys in the same transaction, and bumps
`version` (optimistic concurrency)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from l2c.apps.activity.audit import audit_bulk, audit_record, diff, snapshot
from l2c.apps.activity.custom_fields import clean_custom_values
from l2c.apps.activity.models import AuditEvent
from l2c.apps.activity.services import owner_assignable
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, PreconditionFailed, ValidationFailed

from . import duplicates
from . import pool as pool_service
from .models import Account, AccountStatus, AccountTeamMember, Contact, DuplicateCandidate, Pool, Tag
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS, clean_fields, search_text

ACCOUNT_AUDITED = [*ACCOUNT_FIELDS, "owner", "department", "pool", "custom"]
CONTACT_AUDITED = [*CONTACT_FIELDS, "account", "reports_to", "custom"]


def _raise(errors: list[FieldError], what: str) -> None:
    if errors:
        raise ValidationFailed(_("%(object)s信息填写有误。") % {"object": access.noun(what)}, errors=errors)


def _resolve_owner(*, actor: User, object_type: str, owner_id: Any, errors: list[FieldError]) -> User | None:
    """The owner named in input, if the actor may assign it; the actor when none is given."""
    if owner_id in (None, ""):
        return actor
    try:
        owner = User.objects.filter(pk=int(owner_id), is_active=True).first()
    except (TypeError, ValueError):
        owner = None
    if owner is None:
        errors.append(FieldError("owner_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": owner_id}, "not_found"))
        return None
    if not owner_assignable(actor=actor, object_type=object_type, owner=owner):
        errors.append(FieldError("owner_id", _("你不能把记录分配给这个用户。"), "forbidden"))
        return None
    return owner


def _tags(names: Sequence[str]) -> list[Tag]:
    clean = [name.strip()[:50] for name in names if name and name.strip()]
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=clean)}
    missing = [Tag(name=name) for name in dict.fromkeys(clean) if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=clean)}
    return [existing[name] for name in dict.fromkeys(clean)]


def _resolve_pool(*, actor: User, pool_id: Any, errors: list[FieldError]) -> Pool | None:
    """The pool named by `pool_id` (None/"" for none); it must be one of the actor's pools."""
    if pool_id in (None, ""):
        return None
    try:
        pool = pool_service.member_pools(actor).filter(pk=int(pool_id)).first()
    except (TypeError, ValueError):
        pool = None
    if pool is None:
        errors.append(FieldError("pool_id", _("没有 ID 为 %(id)s 的公海，或你不是它的成员。") % {"id": pool_id},
                                 "invalid"))
    return pool


def _check_version(current: int, expected: int | None, what: str) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            _("这个%(object)s已被其他人修改（当前版本 %(current)s，你的版本 %(expected)s），请刷新后重试。")
            % {"object": access.noun(what), "current": current, "expected": expected}
        )


# --- accounts -------------------------------------------------------------------------------------
@transaction.atomic
def account_create(*, actor: User, data: Mapping[str, Any]) -> Account:
    """Create an account owned by the actor, or by `owner_id` when the actor may assign it."""
    access.require(actor, "account", "create")
    cleaned, errors = clean_fields(ACCOUNT_FIELDS, data, partial=False)
    owner = _resolve_owner(actor=actor, object_type="account", owner_id=data.get("owner_id"), errors=errors)
    custom: dict[str, Any] = {}
    try:
        custom = clean_custom_values("account", data.get("custom") or {})
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    pool = _resolve_pool(actor=actor, pool_id=data.get("pool_id"), errors=errors)
    if pool is not None and owner is not None and not pool_service.member_pools(owner).filter(pk=pool.pk).exists():
        errors.append(FieldError("pool_id", _("负责人“%(user)s”不是公海“%(pool)s”的成员。")
                                 % {"user": owner, "pool": pool.name}, "not_member"))
    _raise(errors, "account")
    assert owner is not None
    duplicates.duplicates_guard(actor=actor, object_type="account", values=cleaned,
                                confirmed=bool(data.get("confirm_duplicates")))
    account = Account(**cleaned, owner=owner, department_id=owner.department_id, custom=custom, created_by=actor)
    account.search_text = search_text(account.name, account.short_name)
    account.save()
    duplicates.record_keys_write("account", account.pk, cleaned)
    if data.get("tags"):
        account.tags.set(_tags(list(data["tags"])))
    if pool is not None:
        # The owner now holds the account under the pool's rules (cap checked; deadline set).
        pool_service.holds_start(account_ids=[account.pk], owner=owner, pool=pool, actor=actor)
        account.refresh_from_db()
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=account.name, changes=diff({}, snapshot(account, ACCOUNT_AUDITED)))
    return account


@transaction.atomic
def account_update(*, actor: User, account_id: int, data: Mapping[str, Any],
                   expected_version: int | None = None) -> Account:
    """Partial update. `expected_version` (from If-Match or a form) must match or nothing changes."""
    account: Account = access.get_for_action(actor, "account", account_id, "edit")
    _check_version(account.version, expected_version, "account")
    cleaned, errors = clean_fields(ACCOUNT_FIELDS, data, partial=True)
    if "custom" in data:
        try:
            cleaned["custom"] = clean_custom_values(
                "account", data.get("custom") or {}, existing=account.custom, partial=True
            )
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    if "owner_id" in data and data["owner_id"] != account.owner_id:
        errors.append(FieldError("owner_id", _("请通过转移来更换负责人。"), "use_transfer"))
    new_pool: Pool | None = account.pool
    if "pool_id" in data and data["pool_id"] != account.pool_id:
        if not access.is_admin(actor) and "transfer" not in access.allowed_actions(actor, "account", account):
            errors.append(FieldError("pool_id", _("只有管理员或有转移权限的人可以更改所属公海。"), "forbidden"))
        else:
            new_pool = _resolve_pool(actor=actor, pool_id=data["pool_id"], errors=errors)
    _raise(errors, "account")
    if new_pool != account.pool:
        cleaned["pool"] = new_pool
    before = snapshot(account, ACCOUNT_AUDITED)
    for name, value in cleaned.items():
        setattr(account, name, value)
    after = snapshot(account, ACCOUNT_AUDITED)
    changes = diff(before, after)
    if "tags" in data and data["tags"] is not None:
        old_tags = sorted(account.tags.values_list("name", flat=True))
        new_tags = _tags(list(data["tags"]))
        if sorted(tag.name for tag in new_tags) != old_tags:
            account.tags.set(new_tags)
            changes["tags"] = [old_tags, sorted(tag.name for tag in new_tags)]
    if not changes:
        return account
    checked = duplicates.touches_checked_fields("account", changes)
    current = {name: getattr(account, name) for name in duplicates.FINGERPRINT_FIELDS["account"]}
    if checked:
        duplicates.duplicates_guard(actor=actor, object_type="account", values=current, record_id=account.pk,
                                    confirmed=bool(data.get("confirm_duplicates")))
    account.search_text = search_text(account.name, account.short_name)
    fields = {name: getattr(account, name) for name in cleaned}
    if "pool" in cleaned and new_pool is None:  # out of every pool: no hold, no deadline
        fields.update(held_since=None, reclaim_due_at=None, reclaim_reminded_at=None)
    # Compare-and-set on version: a concurrent writer between our read and this update loses.
    updated = Account.objects.filter(pk=account.pk, version=account.version).update(
        **fields, search_text=account.search_text, version=F("version") + 1, updated_at=_now()
    )
    if not updated:
        raise PreconditionFailed(_("这个%(object)s已被其他人修改，请刷新后重试。") % {"object": access.noun("account")})
    if checked:
        duplicates.record_keys_write("account", account.pk, current)
    if "pool" in cleaned and new_pool is not None and account.owner is not None:
        # Into another pool: a new hold under its rules, the owner's cap checked (else all rolls back).
        pool_service.holds_restart([(account.pk, new_pool.pk)], account.owner, actor)
    if changes.get("status", [None, None])[1] == AccountStatus.ACTIVE:
        pool_service.accounts_won(won={account.pk: _now()})
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=account.name, changes=changes)
    account.refresh_from_db()
    return account


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


@transaction.atomic
def account_delete(*, actor: User, account_id: int, expected_version: int | None = None) -> None:
    account: Account = access.get_for_action(actor, "account", account_id, "delete")
    _check_version(account.version, expected_version, "account")
    contact_count = account.contacts.count()
    if contact_count:
        raise Conflict(ngettext(
            "客户“%(name)s”还有 %(count)s 个联系人，请先删除或移走这些联系人。",
            "客户“%(name)s”还有 %(count)s 个联系人，请先删除或移走这些联系人。",
            contact_count,
        ) % {"name": account.name, "count": contact_count})
    transaction_count = account.transactions.count()
    if transaction_count:  # the order history is kept (PROTECT): it is the input of RFM and, later, revenue
        raise Conflict(ngettext(
            "客户“%(name)s”有 %(count)s 笔交易记录，不能删除。",
            "客户“%(name)s”有 %(count)s 笔交易记录，不能删除。",
            transaction_count,
        ) % {"name": account.name, "count": transaction_count})
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=account.name, changes=diff(snapshot(account, ACCOUNT_AUDITED), {}))
    duplicates.keys_delete("account", [account.pk])
    # Out of the review queue too (a group left with one record is no group).
    DuplicateCandidate.objects.filter(group__object_type="account", record_id=account.pk).delete()
    account.delete()


@transaction.atomic
def accounts_tag(*, actor: User, account_ids: Sequence[int], add: Sequence[str] = (),
                 remove: Sequence[str] = ()) -> int:
    """Add and remove tags on many accounts; all must be editable by the actor, else nothing changes."""
    ids = sorted({int(i) for i in account_ids})
    editable = set(access.restrict(Account.objects.filter(pk__in=ids), actor, "account", "edit")
                   .values_list("pk", flat=True))
    if not ids or editable != set(ids):
        missing = sorted(set(ids) - editable)
        raise PermissionDenied(_("你没有编辑这些客户的权限：%(ids)s；没有修改任何客户的标签。")
                               % {"ids": ", ".join(map(str, missing[:20]))})
    add_tags = _tags(list(add))
    through = Account.tags.through
    if add_tags:
        through.objects.bulk_create(
            [through(account_id=i, tag_id=tag.pk) for i in ids for tag in add_tags], ignore_conflicts=True
        )
    if remove:
        through.objects.filter(account_id__in=ids, tag__name__in=list(remove)).delete()
    Account.objects.filter(pk__in=ids).update(version=F("version") + 1, updated_at=_now())
    audit_bulk(actor_id=actor.pk, events=[
        {"object_type": "account", "object_id": i, "action": AuditEvent.Kind.UPDATE,
         "changes": {"tags": [{"removed": list(remove)}, {"added": [tag.name for tag in add_tags]}]}}
        for i in ids
    ])
    return len(ids)


@transaction.atomic
def account_team_set(*, actor: User, account_id: int, user_id: int, role: str = "",
                     access_level: str = AccountTeamMember.Access.READ) -> AccountTeamMember:
    account = access.get_for_action(actor, "account", account_id, "edit")
    if access_level not in AccountTeamMember.Access.values:
        raise ValidationFailed(_("未知的访问权限。"), errors=[FieldError("access", _("必须是 read 或 edit。"))])
    member_user = User.objects.filter(pk=user_id, is_active=True).first()
    if member_user is None:
        raise ValidationFailed(_("用户不存在或已停用。"), errors=[
            FieldError("user_id", _("没有 ID 为 %(id)s 的在职用户。") % {"id": user_id}, "not_found")])
    member, _created = AccountTeamMember.objects.update_or_create(
        account=account, user=member_user, defaults={"role": role[:50], "access": access_level}
    )
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=account.name,
                 changes={"team": [None, {"user_id": user_id, "role": role, "access": access_level}]})
    return member


@transaction.atomic
def account_team_remove(*, actor: User, account_id: int, user_id: int) -> None:
    account = access.get_for_action(actor, "account", account_id, "edit")
    deleted, _by_model = AccountTeamMember.objects.filter(account=account, user_id=user_id).delete()
    if not deleted:
        raise NotFound(_("用户 %(id)s 不在这个客户的团队中。") % {"id": user_id})
    audit_record(object_type="account", object_id=account.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=account.name, changes={"team": [{"user_id": user_id}, None]})


# --- contacts -------------------------------------------------------------------------------------
def _contact_links(*, actor: User, data: Mapping[str, Any], errors: list[FieldError],
                   current: Contact | None = None) -> dict[str, Any]:
    links: dict[str, Any] = {}
    if "account_id" in data or current is None:
        account_id = data.get("account_id")
        account = None
        if account_id not in (None, ""):
            try:
                account = access.restrict(Account.objects.filter(pk=int(account_id)), actor, "account", "edit").first()
            except (TypeError, ValueError):
                account = None
        if account is None:
            message = (_("此项为必填项：请选择一个你可以编辑的客户。") if account_id in (None, "")
                       else _("没有 ID 为 %(id)s 且你可以编辑的客户。") % {"id": account_id})
            errors.append(FieldError("account_id", message, "invalid"))
        else:
            links["account"] = account
    if "reports_to_id" in data:
        reports_to_id = data.get("reports_to_id")
        if reports_to_id in (None, ""):
            links["reports_to"] = None
        else:
            account = links.get("account") or (current.account if current else None)
            boss = Contact.objects.filter(pk=reports_to_id, account=account).first() if account else None
            if boss is None:
                errors.append(FieldError("reports_to_id", _("必须是同一客户的联系人。"), "invalid"))
            elif current is not None and _reports_chain_has(boss, current.pk):
                errors.append(FieldError("reports_to_id", _("会形成循环的汇报关系。"), "cycle"))
            else:
                links["reports_to"] = boss
    return links


def _reports_chain_has(start: Contact, contact_id: int) -> bool:
    seen: set[int] = set()
    node: Contact | None = start
    while node is not None and node.pk not in seen:
        if node.pk == contact_id:
            return True
        seen.add(node.pk)
        node = node.reports_to
    return False


@transaction.atomic
def contact_create(*, actor: User, data: Mapping[str, Any]) -> Contact:
    access.require(actor, "contact", "create")
    cleaned, errors = clean_fields(CONTACT_FIELDS, data, partial=False)
    links = _contact_links(actor=actor, data=data, errors=errors)
    custom: dict[str, Any] = {}
    try:
        custom = clean_custom_values("contact", data.get("custom") or {})
    except ValidationFailed as failure:
        errors.extend(failure.errors)
    _raise(errors, "contact")
    duplicates.duplicates_guard(actor=actor, object_type="contact", values=cleaned,
                                confirmed=bool(data.get("confirm_duplicates")))
    contact = Contact(**cleaned, **links, custom=custom, created_by=actor)
    contact.search_text = search_text(contact.name, contact.mobile, contact.email)
    contact.save()
    duplicates.record_keys_write("contact", contact.pk, cleaned)
    audit_record(object_type="contact", object_id=contact.pk, action=AuditEvent.Kind.CREATE, actor_id=actor.pk,
                 object_repr=contact.name, changes=diff({}, snapshot(contact, CONTACT_AUDITED)))
    return contact


@transaction.atomic
def contact_update(*, actor: User, contact_id: int, data: Mapping[str, Any],
                   expected_version: int | None = None) -> Contact:
    contact: Contact = access.get_for_action(actor, "contact", contact_id, "edit")
    _check_version(contact.version, expected_version, "contact")
    cleaned, errors = clean_fields(CONTACT_FIELDS, data, partial=True)
    links = _contact_links(actor=actor, data=data, errors=errors, current=contact)
    if "custom" in data:
        try:
            cleaned["custom"] = clean_custom_values("contact", data.get("custom") or {}, existing=contact.custom,
                                                    partial=True)
        except ValidationFailed as failure:
            errors.extend(failure.errors)
    _raise(errors, "contact")
    before = snapshot(contact, CONTACT_AUDITED)
    for name, value in {**cleaned, **links}.items():
        setattr(contact, name, value)
    changes = diff(before, snapshot(contact, CONTACT_AUDITED))
    if not changes:
        return contact
    checked = duplicates.touches_checked_fields("contact", changes)
    current = {name: getattr(contact, name) for name in duplicates.FINGERPRINT_FIELDS["contact"]}
    if checked:
        duplicates.duplicates_guard(actor=actor, object_type="contact", values=current, record_id=contact.pk,
                                    confirmed=bool(data.get("confirm_duplicates")))
    contact.search_text = search_text(contact.name, contact.mobile, contact.email)
    fields = {name: getattr(contact, name) for name in cleaned}
    fields.update(links)
    updated = Contact.objects.filter(pk=contact.pk, version=contact.version).update(
        **fields, search_text=contact.search_text, version=F("version") + 1, updated_at=_now()
    )
    if not updated:
        raise PreconditionFailed(_("这个%(object)s已被其他人修改，请刷新后重试。") % {"object": access.noun("contact")})
    if checked:
        duplicates.record_keys_write("contact", contact.pk, current)
    audit_record(object_type="contact", object_id=contact.pk, action=AuditEvent.Kind.UPDATE, actor_id=actor.pk,
                 object_repr=contact.name, changes=changes)
    contact.refresh_from_db()
    return contact


@transaction.atomic
def contact_delete(*, actor: User, contact_id: int, expected_version: int | None = None) -> None:
    contact: Contact = access.get_for_action(actor, "contact", contact_id, "delete")
    _check_version(contact.version, expected_version, "contact")
    audit_record(object_type="contact", object_id=contact.pk, action=AuditEvent.Kind.DELETE, actor_id=actor.pk,
                 object_repr=contact.name, changes=diff(snapshot(contact, CONTACT_AUDITED), {}))
    duplicates.keys_delete("contact", [contact.pk])
    contact.delete()

"""Merging duplicate accounts (合并, ADR 0003) and undoing a merge.

A merge folds one or more accounts into a survivor: the survivor takes the chosen field values,
every related row is re-pointed to it (contacts, follow-ups, notes, to-dos, shares, team, tags,
transactions, risk events, and whatever later modules register with `register_relation`), the
merged account row is deleted and everything undo needs is kept in one `RecordMerge` per merged
account: the merged row's full snapshot (fields, custom values, tags), the survivor's values before
the merge, the ids of every re-pointed row, and the rows that could not be moved (a team member
already on the survivor's team, a transaction whose reference the survivor already holds, the
merged account's RFM row) in full. Audit events stay keyed by (type, id), so the merged account's
history stays readable and comes back with it.

Undo (`merge_undo`) restores exactly that, as long as the survivor has not changed since: every
write bumps `Account.version`, and the merge stores the version it left. One merge operation (one
call with several merged ids) is undone as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from l2c.apps.activity.audit import audit_record, jsonable
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import OwnershipTransfer, User
from l2c.kernel.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed

from . import duplicates
from .models import Account, Contact, DuplicateCandidate, DuplicateGroup, DuplicateGroupStatus, RecordMerge
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS, search_text

# Fields a merge may take from any of the merged records ("custom.<key>" for custom fields); the
# foreign keys among them are compared and stored by id.
ACCOUNT_MERGE_FIELDS: tuple[str, ...] = (*ACCOUNT_FIELDS, "owner")
CONTACT_MERGE_FIELDS: tuple[str, ...] = (*CONTACT_FIELDS, "account")
MERGE_FIELDS = {"account": ACCOUNT_MERGE_FIELDS, "contact": CONTACT_MERGE_FIELDS}


def _pool_hold(object_type: str, survivor: Any, updates: Mapping[str, Any], actor: User,
               merged: Sequence[Any] = ()) -> None:
    """Keep the public-pool state right after a merge or its undo: an owner change goes through the
    pool rules like any other (cap, a new hold), an account left without an owner lies in its pool
    again, and a merge recomputes the deadline (the survivor took over the latest follow-up and won
    deal of the records folded in: `_activity_dates`)."""
    if object_type != "account":
        return
    from .pool import due_of, holds_restart

    if survivor.pool_id is None:
        return
    if "owner_id" in updates and updates["owner_id"] is None:
        Account.objects.filter(pk=survivor.pk).update(held_since=None, reclaim_due_at=None,
                                                      reclaim_reminded_at=None, pool_entered_at=timezone.now())
    elif updates.get("owner_id") is not None:
        holds_restart([(survivor.pk, survivor.pool_id)], User.objects.get(pk=updates["owner_id"]), actor)
    elif merged:
        account = Account.objects.select_related("pool").get(pk=survivor.pk)
        due = due_of(account, account.pool)
        if due != account.reclaim_due_at:
            Account.objects.filter(pk=account.pk).update(reclaim_due_at=due, reclaim_reminded_at=None)


def _activity_dates(survivor: Any, merged: Sequence[Any], before: dict[int, dict[str, Any]],
                    changes: dict[str, list[Any]], updates: dict[str, Any]) -> None:
    """The survivor takes the latest follow-up and won-deal dates of the merged accounts (their
    follow-ups and transactions move to it); recorded like a chosen field, so undo restores them."""
    for name in ("last_followed_up_at", "last_won_at"):
        current = getattr(survivor, name)
        latest = max((record for record in merged if getattr(record, name) is not None),
                     key=lambda record: getattr(record, name), default=None)
        if latest is None or (current is not None and getattr(latest, name) <= current):
            continue
        before[latest.pk][name] = jsonable(current)
        changes[name] = [jsonable(current), jsonable(getattr(latest, name))]
        updates[name] = getattr(latest, name)


def _is_foreign_key(model: type[models.Model], name: str) -> bool:
    try:
        return isinstance(model._meta.get_field(name), models.ForeignKey)
    except Exception:  # custom.<key> and unknown names
        return False
MODELS: dict[str, type[Account] | type[Contact]] = {"account": Account, "contact": Contact}


def _search_text(record: Any) -> str:
    if isinstance(record, Account):
        return search_text(record.name, record.short_name)
    return search_text(record.name, record.mobile, record.email)


class MergeUndone(Conflict):
    """The merge was already undone."""

    code = "merge_undone"
    title = "Merge already undone"


class SurvivorChanged(Conflict):
    """The surviving record changed after the merge, so undo would lose or mix up data."""

    code = "survivor_changed"
    title = "Survivor changed since the merge"


# --- the registry of relations ---------------------------------------------------------------------
@dataclass(frozen=True)
class Relation:
    """Rows of `model` that belong to a record of `object_type` through `field`: a foreign key, or,
    with `type_field`, a generic (object_type, object_id) pair. `unique_with` names fields that are
    unique together with the record: a merged record's row whose values of those equal a survivor
    row's is not moved but kept aside (and restored by undo); a value of "" never collides.
    `drop` rows are never moved: they are kept aside and deleted (e.g. a one-per-account result)."""

    object_type: str
    model: str  # "app_label.Model"
    field: str
    type_field: str | None = None
    unique_with: tuple[str, ...] = ()
    drop: bool = False

    @property
    def key(self) -> str:
        return f"{self.model}.{self.field}"

    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def rows_of(self, record_id: int) -> models.QuerySet[Any]:
        model = self.model_class()
        filters: dict[str, Any] = {self._column(model): record_id}
        if self.type_field:
            filters[self.type_field] = self.object_type
        return model._default_manager.filter(**filters)

    def _column(self, model: type[models.Model]) -> str:
        field = model._meta.get_field(self.field)
        return str(getattr(field, "attname", self.field))

    def column(self) -> str:
        return self._column(self.model_class())


_RELATIONS: dict[str, dict[str, Relation]] = {}


def register_relation(object_type: str, model: str, field: str, *, type_field: str | None = None,
                      unique_with: Sequence[str] = (), drop: bool = False) -> None:
    """Declare that rows of `model` ("app_label.Model") belong to a record of `object_type` through
    `field`, so a merge re-points them and undo moves them back. Later modules call this in their
    AppConfig.ready(): `merge.register_relation("account", "sales.Opportunity", "account")`."""
    relation = Relation(object_type=object_type, model=model, field=field, type_field=type_field,
                        unique_with=tuple(unique_with), drop=drop)
    _RELATIONS.setdefault(object_type, {})[relation.key] = relation


def relations(object_type: str) -> list[Relation]:
    return list(_RELATIONS.get(object_type, {}).values())


def register_builtin_relations() -> None:
    """The relations of the apps at or below customers (called from CustomersConfig.ready)."""
    for model in ("activity.FollowUp", "activity.Note", "activity.Todo"):
        register_relation("account", model, "object_id", type_field="object_type")
    register_relation("account", "identity.Share", "object_id", type_field="object_type",
                      unique_with=("user", "department"))
    register_relation("account", "customers.Contact", "account")
    register_relation("account", "customers.AccountTeamMember", "account", unique_with=("user",))
    register_relation("account", "customers.CustomerTransaction", "account", unique_with=("source", "reference"))
    register_relation("account", "customers.RiskEvent", "account")
    # RFM is one row per account computed from its transactions: the merged account's row is
    # dropped (kept for undo) and the survivor's is recomputed by the next RFM run.
    register_relation("account", "customers.AccountRfm", "account", drop=True)
    for model in ("activity.FollowUp", "activity.Note", "activity.Todo"):
        register_relation("contact", model, "object_id", type_field="object_type")
    register_relation("contact", "customers.Contact", "reports_to")  # colleagues reporting to the merged one


# --- helpers ----------------------------------------------------------------------------------------
def _row_dict(instance_values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): jsonable(value) for key, value in instance_values.items()}


def _insert_rows(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """Re-create rows from their snapshots with their ids, keeping auto_now(_add) values as stored."""
    rows = list(rows)
    if not rows:
        return 0
    pk = model._meta.pk.attname  # type: ignore[union-attr]
    existing = sorted(model._default_manager.filter(pk__in=[row[pk] for row in rows]).values_list("pk", flat=True))
    if existing:
        # A restored row keeps its id; another row holding it means the undo cannot be exact.
        raise Conflict(_("无法撤销：ID 为 %(ids)s 的%(model)s已被另一条记录使用。")
                       % {"ids": ", ".join(map(str, existing[:10])), "model": model._meta.verbose_name})
    objects = [model(**row) for row in rows]
    model._default_manager.bulk_create(objects)
    stamped = [field for field in model._meta.concrete_fields
               if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)]
    for row in rows:
        values = {field.attname: row[field.attname] for field in stamped if field.attname in row}
        if values:
            model._default_manager.filter(pk=row[pk]).update(**values)
    # No sequence reset: every restored id was handed out by the sequence before, so it lies below the
    # sequence's position; resetting to max(id) would rewind it when the newest row was merged away,
    # and the next new record would get a deleted record's id (and its audit history).
    return len(rows)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merged_into(object_type: str, record_id: int) -> RecordMerge | None:
    """The standing merge that folded `record_id` away, if any (for a redirect from its old URL)."""
    return (RecordMerge.objects.filter(object_type=object_type, merged_id=record_id, undone_at__isnull=True)
            .order_by("-created_at", "-id").first())


def _lock(queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
    # Row locks on PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers.
    return queryset.select_for_update() if connection.vendor == "postgresql" else queryset


def _risk_levels_recompute(account_ids: Sequence[int], actor: User) -> None:
    """Risk events moved: the risk badge follows them (the risk context's own service)."""
    from .risk import risk_levels_recompute

    risk_levels_recompute(account_ids=account_ids, actor=actor)


# --- merge ------------------------------------------------------------------------------------------
def _parse_choices(object_type: str, field_choices: Mapping[str, Any],
                   ids: Sequence[int]) -> tuple[dict[str, int], list[FieldError]]:
    chosen: dict[str, int] = {}
    errors: list[FieldError] = []
    for name, raw in (field_choices or {}).items():
        name = str(name)
        known = name in MERGE_FIELDS[object_type] or (name.startswith("custom.") and len(name) > 7)
        if not known:
            errors.append(FieldError(f"field_choices.{name}", _("没有可合并的字段“%(field)s”。") % {"field": name},
                                     "unknown_field"))
            continue
        try:
            record_id = int(raw)
        except (TypeError, ValueError):
            record_id = -1
        if record_id not in ids:
            errors.append(FieldError(f"field_choices.{name}",
                                     _("字段“%(field)s”取值的记录 %(id)s 不在这次合并中。")
                                     % {"field": name, "id": raw},
                                     "not_in_merge"))
            continue
        chosen[name] = record_id
    return chosen, errors


def _value(record: Any, name: str) -> Any:
    if name.startswith("custom."):
        return (record.custom or {}).get(name[7:])
    if _is_foreign_key(type(record), name):
        return getattr(record, f"{name}_id")
    return getattr(record, name)


@transaction.atomic
def accounts_merge(*, actor: User, survivor_id: int, merged_ids: Sequence[int],
                   field_choices: Mapping[str, Any] | None = None, group_id: int | None = None) -> list[RecordMerge]:
    """Fold `merged_ids` into `survivor_id`. `field_choices` maps a field name (or "custom.<key>")
    to the id of the record whose value wins; a field not named keeps the survivor's value, or takes
    the first non-empty value of the merged records (in the order given) when the survivor's is
    empty. Needs edit on the survivor and delete on every merged account; all or nothing."""
    return _merge("account", actor=actor, survivor_id=survivor_id, merged_ids=merged_ids,
                  field_choices=field_choices, group_id=group_id)


@transaction.atomic
def contacts_merge(*, actor: User, survivor_id: int, merged_ids: Sequence[int],
                   field_choices: Mapping[str, Any] | None = None, group_id: int | None = None) -> list[RecordMerge]:
    """`accounts_merge` for contacts: "account" may be chosen like any field; follow-ups, notes,
    to-dos and the colleagues reporting to a merged contact move to the survivor (a survivor that
    reported to a merged contact then reports to nobody; undo restores it)."""
    return _merge("contact", actor=actor, survivor_id=survivor_id, merged_ids=merged_ids,
                  field_choices=field_choices, group_id=group_id)


def _merge(object_type: str, *, actor: User, survivor_id: int, merged_ids: Sequence[int],
           field_choices: Mapping[str, Any] | None, group_id: int | None) -> list[RecordMerge]:
    model = MODELS[object_type]
    noun = {"object": access.noun(object_type)}
    ids = [int(record_id) for record_id in merged_ids]
    errors: list[FieldError] = []
    if not ids:
        errors.append(FieldError("merged_ids", _("请至少选择一个要合并掉的%(object)s。") % noun, "required"))
    if len(set(ids)) != len(ids):
        errors.append(FieldError("merged_ids", _("同一个%(object)s不能出现两次。") % noun, "duplicate"))
    if survivor_id in ids:
        errors.append(FieldError("merged_ids", _("保留的%(object)s不能同时被合并掉。") % noun, "survivor_in_merged"))
    chosen, choice_errors = _parse_choices(object_type, field_choices or {}, [survivor_id, *ids])
    errors.extend(choice_errors)
    if errors:
        raise ValidationFailed(_("合并请求有误，没有合并任何%(object)s。") % noun, errors=errors)
    survivor: Any = access.get_for_action(actor, object_type, survivor_id, "edit")
    merged_records = [access.get_for_action(actor, object_type, record_id, "delete") for record_id in ids]
    # All rows locked in one statement in id order, so two opposite merges cannot deadlock.
    locked = {record.pk: record for record in _lock(model._default_manager.filter(pk__in=[survivor.pk, *ids])
                                                    .order_by("pk"))}
    survivor = locked.pop(survivor.pk)
    by_id = locked
    merged_records = [by_id[record.pk] for record in merged_records]
    everyone = {survivor.pk: survivor, **by_id}

    # Winning values: the named record's, else the survivor's, else the first non-empty one.
    custom_keys = sorted({key for record in everyone.values() for key in (record.custom or {})})
    fields = [*MERGE_FIELDS[object_type], *(f"custom.{key}" for key in custom_keys)]
    source: dict[str, int] = {}
    for name in fields:
        if name in chosen:
            source[name] = chosen[name]
        elif name == "owner":
            # The owner changes only when asked (and then with the transfer right, below): an account
            # lying in a pool must not pass to the merged record's owner without a claim.
            source[name] = survivor.pk
        elif _empty(_value(survivor, name)):
            source[name] = next((record.pk for record in merged_records if not _empty(_value(record, name))),
                                survivor.pk)
        else:
            source[name] = survivor.pk
    taken = {name: record_id for name, record_id in source.items()
             if record_id != survivor.pk and _value(everyone[record_id], name) != _value(survivor, name)}
    if "owner" in taken:
        # Changing the owner is a transfer: edit on the survivor is not enough.
        access.get_for_action(actor, object_type, survivor.pk, "transfer")

    # The survivor's new values, and what each merged record contributed (restored by its undo).
    before: dict[int, dict[str, Any]] = {record.pk: {} for record in merged_records}
    changes: dict[str, list[Any]] = {}
    new_custom = dict(survivor.custom or {})
    updates: dict[str, Any] = {}
    for name, record_id in taken.items():
        old, new = _value(survivor, name), _value(everyone[record_id], name)
        before[record_id][name] = jsonable(old)
        changes[name] = [jsonable(old), jsonable(new)]
        if name.startswith("custom."):
            if new is None:
                new_custom.pop(name[7:], None)
            else:
                new_custom[name[7:]] = new
        elif name == "owner":
            updates["owner_id"] = new
            updates["department_id"] = everyone[record_id].department_id
            before[record_id]["owner_department"] = survivor.department_id
        elif _is_foreign_key(model, name):
            updates[f"{name}_id"] = new
        else:
            updates[name] = new
    if object_type == "account":
        _activity_dates(survivor, merged_records, before, changes, updates)
    if object_type == "contact" and survivor.reports_to_id in by_id:
        # The survivor reported to a merged contact: it would report to itself.
        first = survivor.reports_to_id
        before[first]["reports_to"] = first
        changes["reports_to"] = [first, None]
        updates["reports_to_id"] = None
    if new_custom != (survivor.custom or {}):
        updates["custom"] = new_custom
    if "owner_id" in updates:
        OwnershipTransfer.objects.create(object_type=object_type, object_id=survivor.pk, from_user_id=survivor.owner_id,
                                         to_user_id=updates["owner_id"], reason=_("合并客户"), via="merge",
                                         actor=actor)
    for name, value in updates.items():
        setattr(survivor, name, value)
    survivor.search_text = _search_text(survivor)
    updates["search_text"] = survivor.search_text
    next_version = survivor.version + 1
    updated = model._default_manager.filter(pk=survivor.pk, version=survivor.version).update(
        **updates, version=next_version, updated_at=timezone.now())
    if not updated:
        raise Conflict(_("保留的%(object)s刚被其他人修改，请刷新后重试。") % noun)
    _pool_hold(object_type, survivor, updates, actor, merged_records)

    merges: list[RecordMerge] = []
    tagged = object_type == "account"
    survivor_tags = set(survivor.tags.values_list("pk", flat=True)) if tagged else set()
    through = Account.tags.through
    for account in merged_records:
        snapshot = _row_dict(model._default_manager.filter(pk=account.pk).values()[0])
        tag_ids = sorted(account.tags.values_list("pk", flat=True)) if tagged else []
        added_tags = [tag_id for tag_id in tag_ids if tag_id not in survivor_tags]
        through.objects.bulk_create([through(account_id=survivor.pk, tag_id=tag_id) for tag_id in added_tags],
                                    ignore_conflicts=True)
        survivor_tags.update(added_tags)
        repointed, kept_aside = _repoint(object_type, account.pk, survivor.pk)
        candidates = _leave_groups(object_type, account.pk, actor)
        record = RecordMerge.objects.create(
            object_type=object_type, survivor_id=survivor.pk, merged_id=account.pk,
            merged_snapshot={"record": snapshot, "tags": tag_ids, "tags_added_to_survivor": added_tags,
                             "kept_aside": kept_aside, "candidates": candidates},
            survivor_before=before[account.pk], survivor_version=next_version, repointed=repointed,
            group_id=group_id if group_id and DuplicateGroup.objects.filter(pk=group_id).exists() else None,
            actor=actor,
        )
        merges.append(record)
        duplicates.keys_delete(object_type, [account.pk])
        if tagged:
            through.objects.filter(account_id=account.pk).delete()
        model._default_manager.filter(pk=account.pk).delete()
        moved = sum(len(row_ids) for row_ids in repointed.values())
        audit_record(object_type=object_type, object_id=account.pk, action=AuditEvent.Kind.MERGE, actor_id=actor.pk,
                     object_repr=account.name,
                     summary=_("已合并到%(object)s“%(name)s”（ID %(id)s），"
                               "转移了 %(count)s 条相关记录；合并记录 %(merge)s。")
                     % {**noun, "name": survivor.name, "id": survivor.pk, "count": moved, "merge": record.pk},
                     changes={"merge_id": [None, record.pk], "survivor_id": [None, survivor.pk]})
    duplicates.record_keys_write(object_type, survivor.pk, {name: getattr(survivor, name) for name in
                                                            duplicates.FINGERPRINT_FIELDS[object_type]})
    if any("customers.RiskEvent.account" in merge.repointed for merge in merges):
        _risk_levels_recompute([survivor.pk], actor)
    names = "、".join(f"{record.name}（ID {record.pk}）" for record in merged_records)
    audit_record(object_type=object_type, object_id=survivor.pk, action=AuditEvent.Kind.MERGE, actor_id=actor.pk,
                 object_repr=survivor.name,
                 summary=_("合并了%(object)s：%(names)s；合并记录 %(merges)s。")
                 % {**noun, "names": names, "merges": ", ".join(str(merge.pk) for merge in merges)},
                 changes={**changes, "merge_id": [None, merges[0].pk]})
    return merges


def _repoint(object_type: str, merged_id: int, survivor_id: int) -> tuple[dict[str, list[int]], dict[str, list[Any]]]:
    """Move every registered related row of `merged_id` to `survivor_id`. Returns the moved ids and
    the rows kept aside (colliding with a survivor row, or `drop` relations), which are deleted."""
    repointed: dict[str, list[int]] = {}
    kept_aside: dict[str, list[Any]] = {}
    for relation in relations(object_type):
        rows = relation.rows_of(merged_id)
        column = relation.column()
        if relation.drop:
            aside = [_row_dict(row) for row in rows.values()]
            if aside:
                kept_aside[relation.key] = aside
                rows.delete()
            continue
        aside_ids: list[int] = []
        if relation.unique_with:
            held = set(relation.rows_of(survivor_id).values_list(*relation.unique_with))
            model = relation.model_class()
            attnames = [str(getattr(model._meta.get_field(name), "attname", name)) for name in relation.unique_with]
            for row in rows.values("pk", *attnames):
                values = tuple(row[name] for name in attnames)
                if "" not in values and values in held:
                    aside_ids.append(row["pk"])
        if aside_ids:
            kept_aside[relation.key] = [_row_dict(row) for row in
                                        relation.model_class()._default_manager.filter(pk__in=aside_ids).values()]
            relation.model_class()._default_manager.filter(pk__in=aside_ids).delete()
        self_relation = relation.model_class() is MODELS[object_type]
        ids = sorted(pk for pk in rows.values_list("pk", flat=True)
                     if not (self_relation and pk == survivor_id))  # a record never points at itself
        if ids:
            relation.model_class()._default_manager.filter(pk__in=ids).update(**{column: survivor_id})
            repointed[relation.key] = ids
    return repointed, kept_aside


def _leave_groups(object_type: str, record_id: int, actor: User) -> list[dict[str, Any]]:
    """Take the merged record out of the open review groups it is in; a group left with fewer than
    two records is resolved as merged. Returns the removed candidate rows (for undo)."""
    rows = list(DuplicateCandidate.objects.filter(record_id=record_id, group__object_type=object_type,
                                                  group__status=DuplicateGroupStatus.OPEN)
                .values("group_id", "score", "reasons"))
    if not rows:
        return []
    group_ids = [row["group_id"] for row in rows]
    DuplicateCandidate.objects.filter(record_id=record_id, group_id__in=group_ids).delete()
    DuplicateGroup.objects.filter(pk__in=group_ids).update(size=F("size") - 1)
    resolved = DuplicateGroup.objects.filter(pk__in=group_ids, size__lt=2)
    resolved_ids = list(resolved.values_list("pk", flat=True))
    resolved.update(status=DuplicateGroupStatus.MERGED, resolved_at=timezone.now(), resolved_by=actor)
    return [{**row, "resolved": row["group_id"] in resolved_ids} for row in rows]


# --- undo -------------------------------------------------------------------------------------------
def merge_get(*, actor: User, merge_id: int) -> RecordMerge:
    """A merge the actor may look at: they may see its survivor (or, undone, its merged record), or
    they made it."""
    merge = RecordMerge.objects.filter(pk=merge_id).first()
    if merge is None:
        raise NotFound(_("没有 ID 为 %(id)s 的合并记录。") % {"id": merge_id})
    if merge.actor_id == actor.pk or access.is_admin(actor):
        return merge
    for record_id in (merge.survivor_id, merge.merged_id):
        if access.visible(actor, merge.object_type).filter(pk=record_id).exists():
            return merge
    raise NotFound(_("没有 ID 为 %(id)s 的合并记录。") % {"id": merge_id})


def operation_of(merge: RecordMerge) -> list[RecordMerge]:
    """The merges made by the same call (same survivor, same resulting version)."""
    return list(RecordMerge.objects.filter(object_type=merge.object_type, survivor_id=merge.survivor_id,
                                           survivor_version=merge.survivor_version, undone_at__isnull=True)
                .order_by("pk"))


@transaction.atomic
def merge_undo(*, actor: User, merge_id: int) -> list[RecordMerge]:
    """Undo a merge operation: re-create the merged accounts with their ids, fields, custom values
    and tags, move back exactly the rows the merge moved (rows since deleted stay deleted; rows
    since moved elsewhere stay there), restore the rows kept aside and the survivor's values from
    before the merge. Refused (409) when already undone or when the survivor changed since."""
    merge = merge_get(actor=actor, merge_id=merge_id)
    object_type = merge.object_type
    model = MODELS[object_type]
    noun = {"object": access.noun(object_type)}
    if merge.undone_at is not None:
        raise MergeUndone(_("合并记录 %(id)s 已于 %(at)s 撤销。")
                          % {"id": merge.pk, "at": timezone.localtime(merge.undone_at).strftime("%Y-%m-%d %H:%M")})
    survivor_exists = model._default_manager.filter(pk=merge.survivor_id).exists()
    if not survivor_exists:
        later = merged_into(object_type, merge.survivor_id)
        detail = (_("保留的%(object)s（ID %(id)s）后来又被合并到 %(into)s（合并记录 %(merge)s），请先撤销那次合并。")
                  % {**noun, "id": merge.survivor_id, "into": later.survivor_id, "merge": later.pk} if later
                  else _("保留的%(object)s（ID %(id)s）已被删除，无法撤销合并。") % {**noun, "id": merge.survivor_id})
        raise SurvivorChanged(detail)
    survivor: Any = access.get_for_action(actor, object_type, merge.survivor_id, "edit")
    if not access.can(actor, object_type, "delete"):
        raise PermissionDenied(_("你没有删除%(object)s的权限，不能撤销合并。") % noun)
    survivor = _lock(model._default_manager.filter(pk=survivor.pk)).get()
    if survivor.version != merge.survivor_version:
        raise SurvivorChanged(
            _("合并后保留的%(object)s“%(name)s”又被修改过（合并后版本 %(then)s，当前版本 %(now)s），"
              "撤销会覆盖这些修改，因此没有撤销。请手工拆分，或先还原这些修改。")
            % {**noun, "name": survivor.name, "then": merge.survivor_version, "now": survivor.version})
    merges = operation_of(merge)
    now = timezone.now()
    restored_fields: dict[str, Any] = {}
    for item in merges:
        restored_fields.update(item.survivor_before)
    if "owner" in restored_fields:  # giving the owner back is a transfer too
        access.get_for_action(actor, object_type, survivor.pk, "transfer")
    updates: dict[str, Any] = {}
    changes: dict[str, list[Any]] = {}
    custom = dict(survivor.custom or {})
    for name, value in restored_fields.items():
        if name.startswith("custom."):
            changes[name] = [jsonable(custom.get(name[7:])), value]
            if value is None:
                custom.pop(name[7:], None)
            else:
                custom[name[7:]] = value
        elif name == "owner":
            changes["owner"] = [survivor.owner_id, value]
            updates["owner_id"] = value
            OwnershipTransfer.objects.create(object_type=object_type, object_id=survivor.pk,
                                             from_user_id=survivor.owner_id, to_user_id=value,
                                             reason=_("撤销合并"), via="merge_undo", actor=actor)
        elif name == "owner_department":
            updates["department_id"] = value
        elif _is_foreign_key(model, name):
            changes[name] = [getattr(survivor, f"{name}_id"), value]
            updates[f"{name}_id"] = value
        else:
            changes[name] = [jsonable(getattr(survivor, name)), value]
            updates[name] = model._meta.get_field(name).to_python(value)
    if custom != (survivor.custom or {}):
        updates["custom"] = custom
    for name, value in updates.items():
        setattr(survivor, name, value)
    survivor.search_text = _search_text(survivor)
    # The merged records come back first: the survivor may point at one of them (reports_to).
    for item in merges:
        _insert_rows(model, [item.merged_snapshot["record"]])
    model._default_manager.filter(pk=survivor.pk).update(**updates, search_text=survivor.search_text,
                                                         version=F("version") + 1, updated_at=now)
    _pool_hold(object_type, survivor, updates, actor)
    through = Account.tags.through
    not_restored: dict[str, int] = {}
    for item in merges:
        snapshot = item.merged_snapshot
        added = snapshot.get("tags_added_to_survivor") or []
        if added:
            through.objects.filter(account_id=survivor.pk, tag_id__in=added).delete()
        through.objects.bulk_create([through(account_id=item.merged_id, tag_id=tag_id)
                                     for tag_id in snapshot.get("tags") or []], ignore_conflicts=True)
        by_key = {relation.key: relation for relation in relations(object_type)}
        for key, row_ids in item.repointed.items():
            relation = by_key.get(key)
            if relation is None:
                continue
            column = relation.column()
            filters: dict[str, Any] = {"pk__in": row_ids, column: survivor.pk}
            if relation.type_field:
                filters[relation.type_field] = object_type
            moved = relation.model_class()._default_manager.filter(**filters).update(**{column: item.merged_id})
            if moved != len(row_ids):
                not_restored[key] = not_restored.get(key, 0) + len(row_ids) - moved
        for key, rows in (snapshot.get("kept_aside") or {}).items():
            relation = by_key.get(key)
            if relation is not None:
                _insert_rows(relation.model_class(), rows)
        for row in snapshot.get("candidates") or []:
            group = DuplicateGroup.objects.filter(pk=row["group_id"]).first()
            if group is None or group.status == DuplicateGroupStatus.DISMISSED:
                continue
            _created = DuplicateCandidate.objects.get_or_create(group=group, record_id=item.merged_id,
                                                                defaults={"score": row["score"],
                                                                          "reasons": row["reasons"]})
            DuplicateGroup.objects.filter(pk=group.pk).update(
                size=DuplicateCandidate.objects.filter(group=group).count(),
                **({"status": DuplicateGroupStatus.OPEN, "resolved_at": None, "resolved_by": None}
                   if row.get("resolved") else {}))
        restored = model._default_manager.get(pk=item.merged_id)
        duplicates.record_keys_write(object_type, restored.pk, {name: getattr(restored, name) for name in
                                                                duplicates.FINGERPRINT_FIELDS[object_type]})
        RecordMerge.objects.filter(pk=item.pk).update(undone_at=now, undone_by=actor)
        audit_record(object_type=object_type, object_id=item.merged_id, action=AuditEvent.Kind.MERGE,
                     actor_id=actor.pk, object_repr=restored.name,
                     summary=_("撤销合并：从%(object)s“%(name)s”（ID %(id)s）恢复为独立记录；合并记录 %(merge)s。")
                     % {**noun, "name": survivor.name, "id": survivor.pk, "merge": item.pk},
                     changes={"undone_merge_id": [None, item.pk]})
    duplicates.record_keys_write(object_type, survivor.pk, {name: getattr(survivor, name) for name in
                                                            duplicates.FINGERPRINT_FIELDS[object_type]})
    if any("customers.RiskEvent.account" in item.repointed for item in merges):
        _risk_levels_recompute([survivor.pk, *(item.merged_id for item in merges)], actor)
    summary = _("撤销合并：恢复了%(object)s %(ids)s；合并记录 %(merges)s。") % {
        **noun, "ids": ", ".join(str(item.merged_id) for item in merges),
        "merges": ", ".join(str(item.pk) for item in merges)}
    if not_restored:
        count = sum(not_restored.values())
        summary += " " + _("有 %(count)s 条相关记录在合并后被删除或移走，未移回。") % {"count": count}
    audit_record(object_type=object_type, object_id=survivor.pk, action=AuditEvent.Kind.MERGE, actor_id=actor.pk,
                 object_repr=survivor.name, summary=summary, changes={**changes, "undone_merge_id": [None, merge.pk]})
    for item in merges:
        item.refresh_from_db()
    return merges

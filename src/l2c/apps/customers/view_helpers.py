"""Helpers shared by the account and contact pages: error mapping, paging, display, timeline."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.api.pagination import IdStream, Page, keyset_page
from l2c.apps.activity import selectors as activity_selectors
from l2c.apps.activity.custom_fields import clean_custom_values, definitions
from l2c.apps.activity.models import AuditEvent, CustomField, FollowUp
from l2c.apps.identity.models import Department, User
from l2c.kernel.errors import DomainError, DuplicateFound, NotFound, PermissionDenied, ValidationFailed

from .forms import (
    FollowUpForm,
    NoteForm,
    human_message,
)

PAGE_SIZE = 50
ACCOUNT_LIST_SORTS = {"-updated_at": "-updated_at", "name": "name", "-created_at": "-created_at", "-id": "-id"}
CONTACT_LIST_SORTS = ACCOUNT_LIST_SORTS
LIST_SORT_CHOICES = [("-updated_at", gettext_lazy("最近更新")), ("name", gettext_lazy("名称")),
                     ("-created_at", gettext_lazy("最近创建")), ("-id", gettext_lazy("最新录入"))]
COLUMNS_SESSION_KEY = "customers.account_columns"
PICKER_LIMIT = 200


def domain_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """NotFound → 404 and PermissionDenied → 403 for any service or selector call in the view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.detail) from None
        except PermissionDenied as error:
            raise DjangoPermissionDenied(error.detail) from None

    return wrapper


def inline_validation(request: HttpRequest, object_type: str, spec: Mapping[str, Any]) -> HttpResponse:
    """The error snippet of one field (htmx, on change), from the same cleaners the services use."""
    name = request.GET.get("field") or ""
    errors: list[str] = []
    if name in spec:
        try:
            spec[name](request.POST.get(name))
        except ValueError as error:
            errors.append(str(error))
    elif name.startswith("custom_"):
        key = name.removeprefix("custom_")
        fields = [field for field in definitions(object_type) if field.key == key]
        if fields:
            raw: Any = (request.POST.getlist(name) if fields[0].kind == CustomField.Kind.MULTI_CHOICE
                        else request.POST.get(name))
            try:
                clean_custom_values(object_type, {key: raw}, partial=True, fields=fields)
            except ValidationFailed as failure:
                errors.extend(human_message(error) for error in failure.errors)
    return render(request, "customers/_inline_errors.html", {"errors": errors})


def optional_url(name: str, *args: Any) -> str | None:
    """A route another part of the product provides; None while it does not exist yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def error_text(error: DomainError) -> str:
    details = "; ".join(f"{e.field}: {human_message(e)}" for e in error.errors)
    return f"{error.detail}{' — ' + details if details else ''}"


MAX_ID = 2**63 - 1


def int_or_none(raw: Any) -> int | None:
    """A database id from a query or form value; anything else (or out of range) is None."""
    text = str(raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def query_string(params: Mapping[str, Any]) -> str:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        if isinstance(value, list | tuple):
            query.setlist(key, [str(v) for v in value])
        elif value not in (None, ""):
            query[key] = str(value)
    return query.urlencode()


def page_urls(request: HttpRequest, page: Page) -> dict[str, str | None]:
    def url(cursor: str | None) -> str | None:
        if cursor is None:
            return None
        params = request.GET.copy()
        params["cursor"] = cursor
        return "?" + params.urlencode()

    return {"previous_url": url(page.previous_cursor), "next_url": url(page.next_cursor)}


def paginate(request: HttpRequest, queryset: QuerySet[Any], sort: str, sorts: Mapping[str, str],
             stream: IdStream | None = None) -> Page:
    cursor = request.GET.get("cursor") or None
    try:
        return keyset_page(queryset, sort=sort, allowed_sorts=sorts, cursor=cursor, limit=PAGE_SIZE, stream=stream)
    except ValidationFailed:
        messages.warning(request, _("分页参数无效，已回到第一页。"))
        return keyset_page(queryset, sort=sort, allowed_sorts=sorts, cursor=None, limit=PAGE_SIZE, stream=stream)


def duplicates_context(found: DuplicateFound | None, object_type: str) -> dict[str, Any] | None:
    """What the duplicates panel of a record form shows: the visible candidates with links, how many
    are hidden, and whether the user may confirm (warn) or not (block)."""
    if found is None:
        return None
    detail_url = "customers:account_detail" if object_type == "account" else "customers:contact_detail"
    levels: dict[int, str | None] = {}
    if object_type == "account" and found.duplicates:  # the risk badge next to each candidate: one query
        from .models import Account

        levels = dict(Account.objects.filter(pk__in=[candidate["id"] for candidate in found.duplicates])
                      .values_list("pk", "risk_level"))
    candidates = [{**candidate, "url": reverse(detail_url, args=[candidate["id"]]),
                   "risk_level": levels.get(candidate["id"])} for candidate in found.duplicates]
    return {"detail": found.detail, "candidates": candidates, "hidden": found.hidden_duplicates,
            "blocking": found.blocking, "claimable": getattr(found, "claimable_duplicates", [])}


# --- display helpers ------------------------------------------------------------------------------
def yes_no(value: bool) -> str:
    return _("是") if value else _("否")


def display(value: Any) -> Any:
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, list | tuple):
        return "、".join(str(display(item)) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {display(item)}" for key, item in value.items())
    return value


def field_rows(record: Model, names: Iterable[str]) -> list[dict[str, Any]]:
    """Label/value pairs of standard fields for dl.fields: choice labels, money and links marked."""
    rows = []
    for name in names:
        model_field = record._meta.get_field(name)
        value = getattr(record, name)
        kind = "text"
        link = None
        if model_field.choices:
            value = getattr(record, f"get_{name}_display")() if value else ""
        elif name == "registered_capital":
            kind = "money"
        elif name == "website" and str(value).lower().startswith(("http://", "https://")):
            kind, link = "url", value
        elif name == "email" and value:
            kind, link = "url", f"mailto:{value}"
        elif isinstance(value, bool):
            value = yes_no(value)
        rows.append({"label": model_field.verbose_name, "value": value, "kind": kind, "link": link})
    return rows


def custom_rows(object_type: str, record: Any, fields: list[CustomField] | None = None) -> list[dict[str, Any]]:
    fields = definitions(object_type) if fields is None else fields
    values = record.custom or {}
    return [{"label": field.label, "value": display(values.get(field.key))} for field in fields]


def change_value(model: type[Model], name: str, value: Any, users: Mapping[int, str],
                  departments: Mapping[int, str]) -> Any:
    if value is None or value == "":
        return value
    if name == "owner" and isinstance(value, int):
        return users.get(value, f"#{value}")
    if name == "department" and isinstance(value, int):
        return departments.get(value, f"#{value}")
    if name in ("risk_level", "risk_event_status"):  # risk alerts' audit entries (customers.risk)
        from .models import RiskEventStatus, RiskSeverity

        choices = RiskSeverity if name == "risk_level" else RiskEventStatus
        return dict(choices.choices).get(value, value)
    try:
        model_field = model._meta.get_field(name)
    except Exception:
        return display(value)
    if getattr(model_field, "choices", None):
        return dict(model_field.choices).get(value, value)
    return display(value)


def field_label(model: type[Model], name: str) -> Any:
    extra = {"next_step": _("下一步"), "team": _("团队成员"), "share": _("共享"), "risk_event": _("风险事件"),
             "risk_event_status": _("风险事件状态")}
    if name in extra:
        return extra[name]
    own: Mapping[str, Any] = getattr(model, "TIMELINE_LABELS", {})  # change keys that are no model field
    if name in own:
        return own[name]
    try:
        return model._meta.get_field(name).verbose_name
    except Exception:
        return name


def empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def custom_changes(old: Mapping[str, Any], new: Mapping[str, Any],
                    labels: Mapping[str, str]) -> list[tuple[Any, Any, Any]]:
    """One timeline change row per custom field whose value changed."""
    return [(labels.get(key, key), display(old.get(key)), display(new.get(key)))
            for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)]


MERGE_REFERENCES = frozenset({"merge_id", "survivor_id", "undone_merge_id"})


def _merge_reference(entry: Mapping[str, Any]) -> int | None:
    """The merge a merge audit entry of the survivor refers to (merge.accounts_merge writes it)."""
    if entry.get("kind") != "audit" or entry.get("action") != AuditEvent.Kind.MERGE:
        return None
    pair = (entry.get("changes") or {}).get("merge_id")
    return pair[1] if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[1], int) else None


def _standing_merges(entries: Sequence[Mapping[str, Any]]) -> set[int]:
    """Which merges named by these entries still stand (may be undone): one query, none without merges."""
    ids = {merge_id for entry in entries if (merge_id := _merge_reference(entry)) is not None}
    if not ids:
        return set()
    from .models import RecordMerge

    return set(RecordMerge.objects.filter(pk__in=ids, undone_at__isnull=True).values_list("pk", flat=True))


def _named_references(model: type[Model], entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, str]]:
    """Names of the configuration records (a sales process, a stage …) the entries' changes point at,
    for foreign keys to models that declare `NAMED_IN_TIMELINE = True`: one query per such field.
    Other references stay ids — a business record's name (an account) may be one the reader may not
    see."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        for name, pair in (entry.get("changes") or {}).items():
            if isinstance(pair, list | tuple):
                wanted.setdefault(name, set()).update(v for v in pair if isinstance(v, int))
    named: dict[str, dict[int, str]] = {}
    for name, ids in wanted.items():
        from django.core.exceptions import FieldDoesNotExist

        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a change key that is no model field (team, share, override …)
            continue
        related = getattr(field, "related_model", None)
        if ids and getattr(field, "many_to_one", False) and getattr(related, "NAMED_IN_TIMELINE", False):
            named[name] = {row.pk: str(row) for row in related._default_manager.filter(pk__in=ids)}
    return named


def timeline(object_type: str, record: Model,
             related: Mapping[str, tuple[type[Model], Collection[int]]] | None = None) -> list[dict[str, Any]]:
    """timeline_for entries in the shape web/components/timeline.html expects. `related`: object type →
    (model, ids) of parts whose audit events join the record's (a product's SKUs), labelled with
    the part's name."""
    entries = activity_selectors.timeline_for(
        object_type=object_type, object_id=record.pk,
        related={kind: ids for kind, (_model, ids) in related.items()} if related else None)
    part_models = {kind: part_model for kind, (part_model, _ids) in (related or {}).items()}
    audit_labels = dict(AuditEvent.Kind.choices)
    followup_labels = dict(FollowUp.Kind.choices)
    user_ids: set[int] = set()
    department_ids: set[int] = set()
    for entry in entries:
        for name, pair in (entry.get("changes") or {}).items():
            if isinstance(pair, list | tuple):
                target = user_ids if name == "owner" else department_ids if name == "department" else None
                if target is not None:
                    target.update(v for v in pair if isinstance(v, int))
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    departments = {d.pk: str(d) for d in Department.objects.filter(pk__in=department_ids)} if department_ids else {}
    model = type(record)
    named = _named_references(model, entries)
    custom_labels = {field.key: field.label for field in definitions(object_type)}
    undoable = _standing_merges(entries)
    events = []
    for entry in entries:
        if entry["kind"] == "followup":
            label = f"{_('跟进')} · {followup_labels.get(entry['action'], entry['action'])}"
        elif entry["kind"] == "note":
            label = _("备注")
        else:
            label = audit_labels.get(entry["action"], entry["action"])
        entry_model = model
        part = entry.get("object_type")
        if part is not None and part != object_type and part in part_models:
            entry_model = part_models[part]
            label = f"{label} · {entry_model._meta.verbose_name} {entry.get('object_repr') or ''}".rstrip()
        changes = []
        for name, pair in (entry.get("changes") or {}).items():
            if not isinstance(pair, list | tuple) or len(pair) != 2 or (empty(pair[0]) and empty(pair[1])):
                continue
            if name in MERGE_REFERENCES:  # shown as the undo button, not as a change
                continue
            if name == "custom" and all(isinstance(v, dict) or v is None for v in pair):
                changes.extend(custom_changes(pair[0] or {}, pair[1] or {}, custom_labels))
                continue
            if name in named and entry_model is model:
                old, new = (named[name].get(v, f"#{v}") if isinstance(v, int) else display(v) for v in pair)
            else:
                old, new = (change_value(entry_model, name, v, users, departments) for v in pair)
            changes.append((field_label(entry_model, name), old, new))
        event = {"created_at": entry["at"], "actor_name": entry["actor_name"], "action_label": label,
                 "summary": entry["summary"], "changes": changes}
        merge_id = _merge_reference(entry)
        if merge_id in undoable:
            event["post_actions"] = [{"url": reverse("customers:merge_undo", args=[merge_id]), "label": _("撤销合并"),
                                      "confirm": _("确定撤销这次合并吗？被合并的客户和它的相关记录会恢复。")}]
        events.append(event)
    return events


def activity_context(request: HttpRequest, object_type: str, record: Model) -> dict[str, Any]:
    """Follow-ups, notes and the timeline shown on every record page."""
    return {
        "object_type": object_type,
        "followups": activity_selectors.followups_for(object_type=object_type, object_id=record.pk),
        "timeline": timeline(object_type, record),
        "followup_form": FollowUpForm(),
        "note_form": NoteForm(),
        "here": request.get_full_path(),
    }

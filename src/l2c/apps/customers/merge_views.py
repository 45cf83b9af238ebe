"""UI of the duplicate review queue (疑似重复), the side-by-side compare and merge page, the merge
log with undo, and the redirect from a merged-away account to its survivor."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from l2c.apps.activity.custom_fields import definitions
from l2c.apps.activity.models import JobRun
from l2c.apps.identity import access
from l2c.kernel.errors import DomainError

from . import dedup_batch, merge
from .models import Account, DuplicateGroupStatus, DuplicateRule, RecordMerge
from .view_helpers import back, display, domain_errors, error_text, field_label, int_or_none

QUEUE_PAGE = 50
LOG_PAGE = 50


def merged_redirect(request: HttpRequest, account_id: int) -> HttpResponse | None:
    """The old URL of a merged-away account leads to its survivor (if the user may see it)."""
    found = merge.merged_into("account", account_id)
    if found is None or not access.visible(request.user, "account").filter(pk=found.survivor_id).exists():
        return None
    messages.info(request, _("客户 %(id)s 已合并到这个客户（合并记录 %(merge)s）。")
                  % {"id": account_id, "merge": found.pk})
    return redirect("customers:account_detail", account_id=found.survivor_id)


def merged_contact_redirect(request: HttpRequest, contact_id: int) -> HttpResponse | None:
    """The old URL of a merged-away contact leads to its survivor (if the user may see it)."""
    found = merge.merged_into("contact", contact_id)
    if found is None or not access.visible(request.user, "contact").filter(pk=found.survivor_id).exists():
        return None
    messages.info(request, _("%(object)s %(id)s 已合并到这条记录（合并记录 %(merge)s）。")
                  % {"object": access.noun("contact"), "id": contact_id, "merge": found.pk})
    return redirect("customers:contact_detail", contact_id=found.survivor_id)


@login_required
@domain_errors
def duplicate_queue(request: HttpRequest) -> HttpResponse:
    """Open duplicate groups the user may see two records of, strongest first (keyset pages)."""
    user = request.user
    access.require(user, "account", "view")
    queryset = dedup_batch.groups_visible(user=user, object_type="account")
    after = request.GET.get("after", "")
    if after:
        try:
            score, group_id = (int(part) for part in after.split(".", 1))
            queryset = queryset.filter(Q(score__lt=score) | Q(score=score, id__gt=group_id))
        except ValueError:
            after = ""
    page = list(queryset[:QUEUE_PAGE + 1])
    more = len(page) > QUEUE_PAGE
    page = page[:QUEUE_PAGE]
    labels = dict(DuplicateRule.objects.filter(object_type="account").values_list("key", "label"))
    context = {
        "groups": [{"view": view, "rule_label": labels.get(view.group.rule, view.group.rule)}
                   for view in dedup_batch.groups_view(user=user, groups=page)],
        "next_after": f"{page[-1].score}.{page[-1].pk}" if more and page else None,
        "first_page": not after,
        "may_run": dedup_batch.may_run_batch(user),
        "last_run": JobRun.objects.filter(name=dedup_batch.JOB_NAME).order_by("-pk").first(),
    }
    return render(request, "customers/duplicate_queue.html", context)


@login_required
@require_POST
@domain_errors
def duplicate_batch_start(request: HttpRequest) -> HttpResponse:
    try:
        run = dedup_batch.duplicates_batch_start(actor=request.user, object_type="account")
    except DomainError as error:
        messages.error(request, error_text(error))
        return redirect("customers:duplicate_queue")
    messages.success(request, _("批量查重已开始（任务 %(id)s），完成后刷新本页查看结果。") % {"id": run.pk})
    return redirect("customers:duplicate_queue")


def _compare_rows(accounts: list[Account], survivor_id: int) -> list[dict[str, Any]]:
    """One row per mergeable field: each record's shown value and which one is chosen by default
    (the survivor's, or the first non-empty when the survivor's is empty)."""
    survivor = next(account for account in accounts if account.pk == survivor_id)
    custom_labels = {field.key: field.label for field in definitions("account")}
    custom_keys = sorted({key for account in accounts for key in (account.custom or {})})
    names = [*merge.ACCOUNT_MERGE_FIELDS, *(f"custom.{key}" for key in custom_keys)]
    rows = []
    for name in names:
        values = [merge._value(account, name) for account in accounts]
        if name == "owner":
            shown = [str(account.owner) if account.owner_id else "" for account in accounts]
        elif name.startswith("custom."):
            shown = [display(value) if value is not None else "" for value in values]
        else:
            model_field = Account._meta.get_field(name)
            choices = dict(model_field.choices or [])
            shown = [choices.get(value, value) if choices else display(value) for value in values]
        default = survivor.pk
        if merge._empty(merge._value(survivor, name)):
            default = next((account.pk for account, value in zip(accounts, values, strict=True)
                            if not merge._empty(value)), survivor.pk)
        label = custom_labels.get(name[7:], name[7:]) if name.startswith("custom.") else field_label(Account, name)
        rows.append({"name": name, "label": label, "differ": len({str(value) for value in values}) > 1,
                     "cells": [{"id": account.pk, "value": "" if merge._empty(value) else value, "shown": shown_value,
                                "checked": account.pk == default}
                               for account, value, shown_value in zip(accounts, values, shown, strict=True)]})
    return rows


@login_required
@domain_errors
def duplicate_group(request: HttpRequest, group_id: int) -> HttpResponse:
    """Compare the group's visible records side by side; choose the survivor and each field's value; merge."""
    user = request.user
    view = dedup_batch.group_get(user=user, group_id=group_id)
    ids = [record.record_id for record in view.records]
    accounts = list(access.restrict(Account.objects.filter(pk__in=ids), user, "account")
                    .select_related("owner", "department"))
    accounts.sort(key=lambda account: ids.index(account.pk))
    survivor_id = int_or_none(request.POST.get("survivor") or request.GET.get("survivor")) or accounts[0].pk
    if survivor_id not in ids:
        survivor_id = accounts[0].pk
    errors: list[str] = []
    rendered_for = int_or_none(request.POST.get("rendered_for"))
    if request.method == "POST" and rendered_for is not None and rendered_for != survivor_id:
        # The field choices on the page were preset for another survivor: show them again for this one
        # instead of merging values the user did not see.
        errors.append(_("保留的客户已更改：各字段的取值已按新的保留客户重新预选，请确认后再合并。"))
    elif request.method == "POST" and view.group.status == DuplicateGroupStatus.OPEN:
        merged_ids = [int(value) for value in request.POST.getlist("merge") if value.isdigit()
                      and int(value) != survivor_id]
        choices = {key[6:]: value for key, value in request.POST.items() if key.startswith("field:")}
        try:
            merge.accounts_merge(actor=user, survivor_id=survivor_id, merged_ids=merged_ids, field_choices=choices,
                                 group_id=view.group.pk)
        except DomainError as error:
            errors.append(error_text(error))
        else:
            messages.success(request, _("已合并 %(count)s 个客户，可以在合并记录中撤销。") % {"count": len(merged_ids)})
            return redirect("customers:account_detail", account_id=survivor_id)
    allowed = {account.pk: access.allowed_actions(user, "account", account) for account in accounts}
    reasons = {record.record_id: [dedup_batch.reason_text(reason) for reason in record.reasons]
               for record in view.records}
    scores = {record.record_id: record.score for record in view.records}
    context = {
        "view": view, "group": view.group, "accounts": accounts, "survivor_id": survivor_id,
        "rows": _compare_rows(accounts, survivor_id), "allowed": allowed, "errors": errors,
        "columns": [{"account": account, "may_delete": "delete" in allowed[account.pk],
                     "score": scores.get(account.pk), "reasons": reasons.get(account.pk, [])} for account in accounts],
        "may_merge": "edit" in allowed.get(survivor_id, set())
        and all("delete" in allowed[account.pk] for account in accounts if account.pk != survivor_id),
    }
    return render(request, "customers/duplicate_group.html", context, status=422 if errors else 200)


@login_required
@require_POST
@domain_errors
def duplicate_group_dismiss(request: HttpRequest, group_id: int) -> HttpResponse:
    try:
        dedup_batch.duplicate_group_dismiss(actor=request.user, group_id=group_id)
    except DomainError as error:
        messages.error(request, error_text(error))
        return redirect("customers:duplicate_group", group_id=group_id)
    messages.success(request, _("已标记为不是重复，下次批量查重不会再把它们列为同一组。"))
    return redirect("customers:duplicate_queue")


def _merge_rows(user: Any, merges: list[RecordMerge]) -> list[dict[str, Any]]:
    ids = {record.survivor_id for record in merges} | {record.merged_id for record in merges}
    names = dict(access.visible(user, "account").filter(pk__in=ids).values_list("pk", "name"))
    rows = []
    for record in merges:
        snapshot_name = ((record.merged_snapshot or {}).get("record") or {}).get("name", "")
        rows.append({"merge": record, "survivor_name": names.get(record.survivor_id),
                     "merged_name": names.get(record.merged_id) or snapshot_name,
                     "moved": sum(len(row_ids) for row_ids in (record.repointed or {}).values())})
    return rows


@login_required
@domain_errors
def merge_log(request: HttpRequest) -> HttpResponse:
    """Merges of accounts whose survivor the user may see (or that they made), newest first."""
    user = request.user
    access.require(user, "account", "view")
    queryset = RecordMerge.objects.filter(object_type="account").select_related("actor", "undone_by")
    if not access.is_admin(user):
        visible = access.visible(user, "account").values("pk")
        queryset = queryset.filter(Q(survivor_id__in=visible) | Q(actor=user))
    before = int_or_none(request.GET.get("before"))
    if before:
        queryset = queryset.filter(pk__lt=before)
    page = list(queryset.order_by("-pk")[:LOG_PAGE + 1])
    more = len(page) > LOG_PAGE
    page = page[:LOG_PAGE]
    return render(request, "customers/merge_log.html", {
        "rows": _merge_rows(user, page), "next_before": page[-1].pk if more and page else None,
        "may_undo": access.can(user, "account", "delete"),
    })


@login_required
@domain_errors
def account_merges_panel(request: HttpRequest, account_id: int) -> HttpResponse:
    """The merges into one account, for its page (loaded by HTMX)."""
    account = access.get_for_action(request.user, "account", account_id, "view")
    merges = list(RecordMerge.objects.filter(object_type="account", survivor_id=account.pk)
                  .select_related("actor", "undone_by").order_by("-pk")[:20])
    return render(request, "customers/_merge_panel.html", {
        "account": account, "rows": _merge_rows(request.user, merges),
        "may_undo": "edit" in access.allowed_actions(request.user, "account", account)
        and access.can(request.user, "account", "delete"),
    })


@login_required
@require_POST
@domain_errors
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    try:
        undone = merge.merge_undo(actor=request.user, merge_id=merge_id)
    except DomainError as error:
        messages.error(request, error_text(error))
        return back(request, "customers:merge_log")
    messages.success(request, _("已撤销合并，恢复了客户：%(ids)s。")
                     % {"ids": ", ".join(str(item.merged_id) for item in undone)})
    return redirect(reverse("customers:account_detail", args=[undone[0].merged_id]))

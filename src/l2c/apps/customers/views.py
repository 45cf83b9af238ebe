"""UI pages of accounts (客户) and contacts (联系人).

Views parse the request, call selectors/services (which go through the access choke point) and
render. Domain errors become HTTP answers: NotFound → 404, PermissionDenied → 403, validation and
version conflicts → errors on the form. A denied or invalid request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from l2c.apps.activity import services as activity_services
from l2c.apps.activity.custom_fields import definitions
from l2c.apps.activity.models import CustomField
from l2c.apps.identity import access
from l2c.apps.identity.models import Share, User
from l2c.kernel.errors import (
    Conflict,
    DomainError,
    DuplicateFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationFailed,
)

from . import pool as pool_service
from . import selectors, services
from .forms import (
    STALE_MESSAGE,
    AccountForm,
    BulkForm,
    ContactForm,
    ShareForm,
    TeamMemberForm,
    active_users,
    apply_errors,
    assignable_users,
    tag_names,
)
from .models import Account, AccountLevel, AccountStatus, Contact, Industry, RiskSeverity
from .rfm import NO_SEGMENT, SEGMENT_CODES
from .rfm_views import rfm_segment_cell, rfm_segment_choices
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS
from .view_helpers import (
    ACCOUNT_LIST_SORTS,
    COLUMNS_SESSION_KEY,
    CONTACT_LIST_SORTS,
    LIST_SORT_CHOICES,
    PICKER_LIMIT,
    activity_context,
    back,
    custom_rows,
    display,
    domain_errors,
    duplicates_context,
    error_text,
    field_rows,
    inline_validation,
    int_or_none,
    optional_url,
    page_urls,
    paginate,
    query_string,
)

RISK_LEVEL_FILTERS = ("any", *RiskSeverity.values)


# --- account list ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    value: Callable[[Account], Any]


def _label(name: str) -> Any:
    return Account._meta.get_field(name).verbose_name


def _account_columns(custom_fields: list[CustomField]) -> list[Column]:
    columns = [
        Column("short_name", _label("short_name"), lambda a: a.short_name),
        Column("credit_code", _label("credit_code"), lambda a: a.credit_code),
        Column("industry", _label("industry"), lambda a: a.get_industry_display() if a.industry else ""),
        Column("size", _label("size"), lambda a: a.get_size_display() if a.size else ""),
        Column("region", _("地区"), lambda a: " ".join(p for p in (a.province, a.city, a.district) if p)),
        Column("phone", _label("phone"), lambda a: a.phone),
        Column("source", _label("source"), lambda a: a.get_source_display() if a.source else ""),
        Column("level", _label("level"), lambda a: a.get_level_display() if a.level else ""),
        Column("status", _label("status"), lambda a: a.get_status_display()),
        Column("owner", _label("owner"), lambda a: str(a.owner) if a.owner_id else ""),
        Column("department", _label("department"), lambda a: str(a.department) if a.department_id else ""),
        Column("tags", _label("tags"), lambda a: "、".join(tag.name for tag in a.tags.all())),
        Column("rfm_segment", _("RFM 分群"), rfm_segment_cell()),
        Column("last_followed_up_at", _label("last_followed_up_at"), lambda a: a.last_followed_up_at),
        Column("updated_at", _label("updated_at"), lambda a: a.updated_at),
        Column("created_at", _label("created_at"), lambda a: a.created_at),
    ]
    for field in custom_fields:
        columns.append(Column(f"custom_{field.key}", field.label,
                              lambda a, key=field.key: display((a.custom or {}).get(key))))
    return columns


DEFAULT_COLUMNS = ("industry", "region", "status", "level", "owner", "last_followed_up_at", "updated_at")


def _chosen_columns(request: HttpRequest, columns: list[Column]) -> list[str]:
    """The `cols` choice of this request (remembered in the session), else the remembered one."""
    known = [column.key for column in columns]
    if "cols_set" in request.GET:
        chosen = [key for key in request.GET.getlist("cols") if key in known]
        request.session[COLUMNS_SESSION_KEY] = chosen
        return chosen
    remembered = request.session.get(COLUMNS_SESSION_KEY)
    if isinstance(remembered, list):
        return [key for key in remembered if key in known]
    return [key for key in known if key in DEFAULT_COLUMNS or key.startswith("custom_")]


def _account_filters(params: QueryDict) -> dict[str, Any]:
    """Allow-listed filters of the account list; bad values are dropped, never an error."""
    filters: dict[str, Any] = {}
    q = (params.get("q") or "").strip()[:100]
    if q:
        filters["q"] = q
    for name, allowed in (("industry", Industry.values), ("status", AccountStatus.values),
                          ("level", AccountLevel.values)):
        value = params.get(name) or ""
        if value in allowed:
            filters[name] = value
    for name in ("province", "city", "tag"):
        value = (params.get(name) or "").strip()[:50]
        if value:
            filters[name] = value
    owner_id = int_or_none(params.get("owner_id"))
    if owner_id is not None:
        filters["owner_id"] = owner_id
    risk_level = params.get("risk_level") or ""
    if risk_level in RISK_LEVEL_FILTERS:
        filters["risk_level"] = risk_level
    segment = params.get("rfm_segment") or ""
    if segment in (*SEGMENT_CODES, NO_SEGMENT):
        filters["rfm_segment"] = segment
    return filters


@login_required
@domain_errors
def account_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = _account_filters(request.GET)
    sort = request.GET.get("sort") or selectors.default_sort(filters.get("q"))
    if sort not in ACCOUNT_LIST_SORTS:
        sort = selectors.default_sort(filters.get("q"))
    queryset, stream = selectors.account_page_source(user=user, filters=filters, sort=sort)
    page = paginate(request, queryset.select_related("owner", "department", "rfm").prefetch_related("tags"), sort,
                    ACCOUNT_LIST_SORTS, stream=stream)
    listed_custom = [field for field in definitions("account") if field.show_in_list]
    columns = _account_columns(listed_custom)
    chosen = _chosen_columns(request, columns)
    shown = [column for column in columns if column.key in chosen]
    rows = [{"account": account, "cells": [column.value(account) for column in shown]} for account in page.items]
    filter_query = query_string(filters)
    export_url = optional_url("activity:export") if access.can(user, "account", "export") else None
    import_url = optional_url("activity:import_start", "account") if access.can(user, "account", "import") else None
    may_transfer = access.can(user, "account", "transfer")
    may_edit = access.can(user, "account", "edit")
    context = {
        "rows": rows,
        "columns": columns,
        "shown_columns": shown,
        "chosen_columns": chosen,
        "page": page_urls(request, page),
        "filters": filters,
        "sort": sort,
        "sorts": LIST_SORT_CHOICES,
        "industries": Industry.choices,
        "statuses": AccountStatus.choices,
        "levels": AccountLevel.choices,
        "rfm_segments": rfm_segment_choices(),
        "risk_levels": [("any", _("有风险")), *reversed(RiskSeverity.choices)],
        "owners": active_users(),
        "tags": tag_names(),
        "may_create": access.can(user, "account", "create"),
        "may_bulk": may_transfer or may_edit,
        "may_transfer": may_transfer,
        "may_tag": may_edit,
        "transfer_users": assignable_users(user, "account") if may_transfer else [],
        "export_csv_url": f"{export_url}?{query_string({'object_type': 'account', 'format': 'csv'})}"
                          + (f"&{filter_query}" if filter_query else "") if export_url else None,
        "export_xlsx_url": f"{export_url}?{query_string({'object_type': 'account', 'format': 'xlsx'})}"
                           + (f"&{filter_query}" if filter_query else "") if export_url else None,
        "import_url": import_url,
        "here": request.get_full_path(),
    }
    return render(request, "customers/account_list.html", context)


@login_required
@require_POST
def account_bulk(request: HttpRequest) -> HttpResponse:
    """Transfer the ticked accounts to a user, or add a tag to them; all or nothing."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(" ".join(errors) for errors in form.errors.values())
        messages.error(request, _("批量操作未执行：%(problems)s") % {"problems": problems or _("请先勾选客户。")})
        return back(request, "customers:account_list")
    data = form.cleaned_data
    try:
        if data["op"] == "transfer":
            to_user = User.objects.filter(pk=data["to_user_id"], is_active=True).first()
            if to_user is None:
                raise ValidationFailed(_("接收人不存在或已停用。"))
            count = pool_service.accounts_transfer(actor=request.user, account_ids=data["ids"], to_user=to_user,
                                                   reason=data.get("reason") or "")
            messages.success(request, _("已转移 %(count)s 个客户。") % {"count": count})
        else:
            count = services.accounts_tag(actor=request.user, account_ids=data["ids"], add=[data["tag"].strip()])
            messages.success(request, _("已为 %(count)s 个客户添加标签。") % {"count": count})
    except DomainError as error:
        messages.error(request, error_text(error))
    return back(request, "customers:account_list")


# --- account detail and writes --------------------------------------------------------------------
@login_required
@domain_errors
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    user = request.user
    try:
        account = selectors.account_detail(user=user, account_id=account_id)
    except DomainError:
        from .merge_views import merged_redirect  # a merged-away account: go to the survivor

        found = merged_redirect(request, account_id)
        if found is None:
            raise
        return found
    allowed = access.allowed_actions(user, "account", account)
    may_edit = "edit" in allowed
    contacts = list(selectors.contact_list(user=user, filters={"account_id": account.pk})
                    .select_related("reports_to").order_by("-is_primary", "name", "id")[:PICKER_LIMIT])
    context = {
        "account": account,
        "allowed": allowed,
        "may_edit": may_edit,
        "may_create_contact": may_edit and access.can(user, "contact", "create"),
        "fields": field_rows(account, [name for name in ACCOUNT_FIELDS if name != "name"]),
        "custom_rows": custom_rows("account", account),
        "tags": [tag.name for tag in account.tags.all()],
        "contacts": contacts,
        "team": list(account.team.select_related("user").order_by("created_at")),
        "shares": list(Share.objects.filter(object_type="account", object_id=account.pk)
                       .select_related("user", "department").order_by("created_at")),
        "team_form": TeamMemberForm() if may_edit else None,
        "share_form": ShareForm() if may_edit else None,
        # Higher apps' panels by URL name (customers never imports them): the account's deals.
        "deals_panel_url": optional_url("opportunities:account_deals", account.pk),
        **activity_context(request, "account", account),
    }
    return render(request, "customers/account_detail.html", context)


@login_required
@domain_errors
def account_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "account", "create")
    form = AccountForm(request.POST or None, user=user)
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_create(actor=user, data=form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        except DuplicateFound as error:
            found = error
        else:
            messages.success(request, _("客户已创建。"))
            return redirect("customers:account_detail", account_id=account.pk)
    return render(request, "customers/account_form.html",
                  {"form": form, "account": None, "duplicates": duplicates_context(found, "account")})


@login_required
@domain_errors
def account_edit(request: HttpRequest, account_id: int) -> HttpResponse:
    user = request.user
    account = selectors.account_detail(user=user, account_id=account_id)
    if "edit" not in access.allowed_actions(user, "account", account):
        raise PermissionDenied(_("你可以查看但不能编辑这个客户。"))
    form = AccountForm(request.POST or None, user=user, instance=account)
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.account_update(actor=user, account_id=account.pk, data=form.to_data(),
                                        expected_version=form.expected_version())
                new_owner_id = form.new_owner_id()
                if new_owner_id is not None:
                    to_user = User.objects.filter(pk=new_owner_id, is_active=True).first()
                    if to_user is None:
                        raise ValidationFailed.for_field("owner_id", _("负责人不存在或已停用。"))
                    pool_service.accounts_transfer(actor=user, account_ids=[account.pk], to_user=to_user,
                                                   reason=_("编辑客户时更换负责人"))
        except PreconditionFailed:
            form.add_error(None, STALE_MESSAGE)
        except ValidationFailed as error:
            apply_errors(form, error)
        except PermissionDenied as error:
            form.add_error("owner" if "owner" in form.fields else None, error.detail)
        except DuplicateFound as error:
            found = error
        except DomainError as error:  # e.g. the new owner is at a pool's cap (409 held_cap_reached)
            form.add_error("owner" if "owner" in form.fields else None, error.detail)
        else:
            messages.success(request, _("客户已保存。"))
            return redirect("customers:account_detail", account_id=account.pk)
    return render(request, "customers/account_form.html",
                  {"form": form, "account": account, "duplicates": duplicates_context(found, "account")})


@login_required
@require_POST
@domain_errors
def account_delete(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        services.account_delete(actor=request.user, account_id=account_id,
                                expected_version=int_or_none(request.POST.get("version")))
    except (Conflict, PreconditionFailed, ValidationFailed) as error:
        messages.error(request, error_text(error))
        return redirect("customers:account_detail", account_id=account_id)
    messages.success(request, _("客户已删除。"))
    return redirect("customers:account_list")


@login_required
@require_POST
@domain_errors
def account_share(request: HttpRequest, account_id: int) -> HttpResponse:
    """Share the account with a user or department (op=add), or withdraw a share (op=remove)."""
    target = reverse("customers:account_detail", args=[account_id]) + "#shares"
    try:
        if request.POST.get("op") == "remove":
            share_id = int_or_none(request.POST.get("share_id"))
            if share_id is None:
                raise ValidationFailed(_("缺少共享记录。"))
            activity_services.record_unshare(actor=request.user, object_type="account", object_id=account_id,
                                             share_id=share_id)
            messages.success(request, _("已取消共享。"))
        else:
            form = ShareForm(request.POST)
            if not form.is_valid():
                messages.error(request, " ".join(" ".join(e) for e in form.errors.values()))
                return redirect(target)
            activity_services.record_share(actor=request.user, object_type="account", object_id=account_id,
                                           user_id=form.cleaned_data["user_id"],
                                           department_id=form.cleaned_data["department_id"],
                                           access_level=form.cleaned_data["access"])
            messages.success(request, _("已共享。"))
    except ValidationFailed as error:
        messages.error(request, error_text(error))
    return redirect(target)


@login_required
@require_POST
@domain_errors
def account_team(request: HttpRequest, account_id: int) -> HttpResponse:
    """Add or change a team member (op=add), or remove one (op=remove)."""
    target = reverse("customers:account_detail", args=[account_id]) + "#team"
    try:
        if request.POST.get("op") == "remove":
            member_id = int_or_none(request.POST.get("user_id"))
            if member_id is None:
                raise ValidationFailed(_("缺少成员。"))
            services.account_team_remove(actor=request.user, account_id=account_id, user_id=member_id)
            messages.success(request, _("已移除团队成员。"))
        else:
            form = TeamMemberForm(request.POST)
            if not form.is_valid():
                messages.error(request, " ".join(" ".join(e) for e in form.errors.values()))
                return redirect(target)
            services.account_team_set(actor=request.user, account_id=account_id,
                                      user_id=form.cleaned_data["user_id"], role=form.cleaned_data["role"],
                                      access_level=form.cleaned_data["access"])
            messages.success(request, _("团队成员已保存。"))
    except ValidationFailed as error:
        messages.error(request, error_text(error))
    return redirect(target)


@login_required
@require_POST
def account_validate(request: HttpRequest) -> HttpResponse:
    return inline_validation(request, "account", ACCOUNT_FIELDS)


@login_required
@require_POST
def contact_validate(request: HttpRequest) -> HttpResponse:
    return inline_validation(request, "contact", CONTACT_FIELDS)


# --- contacts -------------------------------------------------------------------------------------
@login_required
@domain_errors
def contact_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters: dict[str, Any] = {}
    q = (request.GET.get("q") or "").strip()[:100]
    if q:
        filters["q"] = q
    account_id = int_or_none(request.GET.get("account"))
    if account_id is not None:
        filters["account_id"] = account_id
    sort = request.GET.get("sort") or selectors.default_sort(q)
    if sort not in CONTACT_LIST_SORTS:
        sort = selectors.default_sort(q)
    queryset, stream = selectors.contact_page_source(user=user, filters=filters, sort=sort)
    page = paginate(request, queryset.select_related("account"), sort, CONTACT_LIST_SORTS, stream=stream)
    accounts = list(selectors.account_list(user=user).order_by("name", "id")[:PICKER_LIMIT])
    if account_id is not None and all(a.pk != account_id for a in accounts):
        accounts += list(selectors.account_list(user=user).filter(pk=account_id))
    context = {
        "contacts": page.items,
        "page": page_urls(request, page),
        "q": q,
        "account_id": account_id,
        "accounts": accounts,
        "sort": sort,
        "sorts": LIST_SORT_CHOICES,
        "may_create": access.can(user, "contact", "create"),
        "import_url": optional_url("activity:import_start", "contact") if access.can(user, "contact", "import")
        else None,
    }
    export_url = optional_url("activity:export") if access.can(user, "contact", "export") else None
    if export_url:
        for file_format in ("csv", "xlsx"):
            context[f"export_{file_format}_url"] = f"{export_url}?" + query_string(
                {"object_type": "contact", "format": file_format, **filters}
            )
    return render(request, "customers/contact_list.html", context)


@login_required
@domain_errors
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = request.user
    try:
        contact = selectors.contact_detail(user=user, contact_id=contact_id)
    except DomainError:
        from .merge_views import merged_contact_redirect  # a merged-away contact: go to the survivor

        found = merged_contact_redirect(request, contact_id)
        if found is None:
            raise
        return found
    context = {
        "contact": contact,
        "allowed": access.allowed_actions(user, "contact", contact),
        "fields": field_rows(contact, [name for name in CONTACT_FIELDS if name != "name"]),
        "custom_rows": custom_rows("contact", contact),
        "reports": list(contact.reports.order_by("name", "id")[:PICKER_LIMIT]),
        **activity_context(request, "contact", contact),
    }
    return render(request, "customers/contact_detail.html", context)


def _editable_accounts(user: User, include: Account | None) -> list[Account]:
    accounts = list(selectors.account_list(user=user, action="edit").order_by("name", "id")[:PICKER_LIMIT])
    if include is not None and all(a.pk != include.pk for a in accounts):
        accounts.insert(0, include)
    return accounts


def _editable_account(user: User, raw_id: Any) -> Account | None:
    account_id = int_or_none(raw_id)
    if account_id is None:
        return None
    return selectors.account_list(user=user, action="edit").filter(pk=account_id).first()


def _colleagues(user: User, account: Account | None) -> list[Contact]:
    if account is None:
        return []
    return list(selectors.contact_list(user=user, filters={"account_id": account.pk})
                .order_by("name", "id")[:PICKER_LIMIT])


@login_required
@domain_errors
def contact_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.require(user, "contact", "create")
    preselect = _editable_account(user, request.GET.get("account"))
    chosen = _editable_account(user, request.POST.get("account")) if request.method == "POST" else preselect
    form = ContactForm(request.POST or None, user=user, accounts=_editable_accounts(user, preselect),
                       colleagues=_colleagues(user, chosen or preselect), preselect_account=preselect)
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=user, data=form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        except DuplicateFound as error:
            found = error
        else:
            messages.success(request, _("联系人已创建。"))
            return redirect("customers:contact_detail", contact_id=contact.pk)
    return render(request, "customers/contact_form.html", {"form": form, "contact": None, "account": preselect,
                                                           "duplicates": duplicates_context(found, "contact")})


@login_required
@domain_errors
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    user = request.user
    contact = selectors.contact_detail(user=user, contact_id=contact_id)
    if "edit" not in access.allowed_actions(user, "contact", contact):
        raise PermissionDenied(_("你可以查看但不能编辑这个联系人。"))
    chosen = _editable_account(user, request.POST.get("account")) if request.method == "POST" else None
    form = ContactForm(request.POST or None, user=user, instance=contact,
                       accounts=_editable_accounts(user, contact.account),
                       colleagues=_colleagues(user, chosen or contact.account))
    found: DuplicateFound | None = None
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(actor=user, contact_id=contact.pk, data=form.to_data(),
                                    expected_version=form.expected_version())
        except PreconditionFailed:
            form.add_error(None, STALE_MESSAGE)
        except ValidationFailed as error:
            apply_errors(form, error)
        except DuplicateFound as error:
            found = error
        else:
            messages.success(request, _("联系人已保存。"))
            return redirect("customers:contact_detail", contact_id=contact.pk)
    return render(request, "customers/contact_form.html",
                  {"form": form, "contact": contact, "account": contact.account,
                   "duplicates": duplicates_context(found, "contact")})


@login_required
@require_POST
@domain_errors
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_detail(user=request.user, contact_id=contact_id)
    try:
        services.contact_delete(actor=request.user, contact_id=contact.pk,
                                expected_version=int_or_none(request.POST.get("version")))
    except PreconditionFailed as error:
        messages.error(request, error_text(error))
        return redirect("customers:contact_detail", contact_id=contact.pk)
    messages.success(request, _("联系人已删除。"))
    return redirect("customers:account_detail", account_id=contact.account_id)

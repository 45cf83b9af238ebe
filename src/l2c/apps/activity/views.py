"""UI: inbox, jobs, and the follow-up / note / to-do forms posted from record pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.kernel.errors import DomainError

from . import selectors, services
from .models import FollowUp


def _back(request: HttpRequest, fallback: str = "home") -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def _error_message(request: HttpRequest, error: DomainError) -> None:
    details = "; ".join(f"{e.field}: {e.message}" for e in error.errors)
    messages.error(request, f"{error.detail}{' — ' + details if details else ''}")


class FollowUpForm(forms.Form):
    object_type = forms.CharField(widget=forms.HiddenInput)
    object_id = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=gettext_lazy("方式"), choices=FollowUp.Kind.choices)
    content = forms.CharField(label=gettext_lazy("内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.CharField(label=gettext_lazy("结果"), max_length=500, required=False)
    next_step = forms.CharField(label=gettext_lazy("下一步"), max_length=500, required=False)
    next_step_at = forms.DateTimeField(
        label=gettext_lazy("下次跟进时间"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class NoteForm(forms.Form):
    object_type = forms.CharField(widget=forms.HiddenInput)
    object_id = forms.IntegerField(widget=forms.HiddenInput)
    body = forms.CharField(label=gettext_lazy("备注"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))


class TodoForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("待办事项"), max_length=200)
    due_at = forms.DateTimeField(label=gettext_lazy("截止时间"), required=False,
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


def _post_form(request: HttpRequest, form_class: type[forms.Form], action: Any, success: str) -> HttpResponse:
    form = form_class(request.POST)
    if not form.is_valid():
        for field, field_errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else field}: "
                                    f"{' '.join(field_errors)}")
        return _back(request)
    try:
        action(form.cleaned_data)
    except DomainError as error:
        _error_message(request, error)
    else:
        messages.success(request, success)
    return _back(request)


@login_required
@require_POST
def followup_create(request: HttpRequest) -> HttpResponse:
    return _post_form(request, FollowUpForm,
                      lambda data: services.followup_create(actor=request.user, **data), _("跟进记录已保存。"))


@login_required
@require_POST
def note_create(request: HttpRequest) -> HttpResponse:
    return _post_form(request, NoteForm, lambda data: services.note_create(actor=request.user, **data),
                      _("备注已保存。"))


@login_required
@require_POST
def todo_create(request: HttpRequest) -> HttpResponse:
    return _post_form(request, TodoForm, lambda data: services.todo_create(actor=request.user, **data),
                      _("待办已添加。"))


@login_required
@require_POST
def todo_complete(request: HttpRequest, todo_id: int) -> HttpResponse:
    try:
        services.todo_complete(actor=request.user, todo_id=todo_id)
    except DomainError as error:
        _error_message(request, error)
    return _back(request)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "activity/inbox.html", {"notifications": selectors.inbox(user=request.user, limit=200)})


@login_required
@require_POST
def inbox_mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()] or None
    services.notifications_mark_read(user=request.user, ids=ids)
    return redirect("activity:inbox")


@login_required
def jobs(request: HttpRequest) -> HttpResponse:
    return render(request, "activity/jobs.html", {"runs": list(selectors.job_runs(user=request.user)[:200])})


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    run = selectors.job_runs(user=request.user).filter(pk=job_id).first()
    if run is None:
        raise Http404
    template = "activity/_job_progress.html" if request.headers.get("HX-Request") else "activity/job_detail.html"
    return render(request, template, {"run": run, "now": dt.datetime.now(dt.UTC)})

"""UI: personal API tokens, and the admin page "why can user X see record Y"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from l2c.kernel.errors import DomainError

from . import access, services
from .models import ApiToken, User


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, _("令牌已创建。请立即复制，它只显示这一次。"))
        form = TokenForm()
    return render(request, "identity/tokens.html", {
        "form": form, "new_secret": new_secret, "tokens": ApiToken.objects.filter(user=request.user),
    })


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        services.api_token_revoke(token_id=token_id, user=request.user)
        messages.success(request, _("令牌已吊销。"))
    except DomainError as error:
        messages.error(request, error.detail)
    return redirect("identity:tokens")


class WhyForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("用户名"), max_length=150)
    object_type = forms.ChoiceField(label=gettext_lazy("对象类型"))
    object_id = forms.IntegerField(label=gettext_lazy("记录 ID"), min_value=1)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["object_type"].choices = [(spec.key, spec.label) for spec in access.object_types()]  # type: ignore[attr-defined]


@staff_member_required
def why(request: HttpRequest) -> HttpResponse:
    """Explain, action by action, whether a user may act on a record and why."""
    form = WhyForm(request.GET or None)
    explanation = None
    subject = record = None
    if form.is_bound and form.is_valid():
        subject = User.objects.filter(username=form.cleaned_data["username"]).first()
        spec = access.object_type(form.cleaned_data["object_type"])
        record = spec.model._default_manager.filter(pk=form.cleaned_data["object_id"]).first()
        if subject is None:
            form.add_error("username", _("没有这个用户。"))
        elif record is None:
            form.add_error("object_id", _("没有这条记录。"))
        else:
            explanation = access.explain(subject, spec.key, record)
    return render(request, "identity/why.html",
                  {"form": form, "explanation": explanation, "subject": subject, "record": record})

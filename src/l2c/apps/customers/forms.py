"""Forms of the account and contact pages.

The forms only shape browser input into the `data` dict the services take; every business rule
(credit code checksum, phone format, custom field limits, who may own what) lives in the services
and `validation` cleaners, whose `FieldError`s are mapped back onto the form fields here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.activity.custom_fields import definitions
from l2c.apps.activity.models import CustomField, FollowUp
from l2c.apps.identity import access
from l2c.apps.identity.models import Department, ShareAccess, User
from l2c.kernel.errors import DomainError, FieldError

from .models import Account, AccountTeamMember, Contact, Tag
from .validation import ACCOUNT_FIELDS, CONTACT_FIELDS

BLANK = ("", "—")
CHOICE_LIMIT = 200
USER_LIMIT = 500
# Form field names of the service's input keys that differ from them.
SERVICE_TO_FORM = {"owner_id": "owner", "account_id": "account", "reports_to_id": "reports_to"}
STALE_MESSAGE = gettext_lazy("该记录已被他人修改，请刷新页面后重试。")


# --- option lists for pickers ---------------------------------------------------------------------
def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("display_name", "username")[:USER_LIMIT]


def assignable_users(actor: User, object_type: str) -> list[User]:
    """Users the actor may make owners of `object_type` records (the service checks again)."""
    users = access.assignable_owners(actor, object_type).order_by("display_name", "username")
    result = list(users[:USER_LIMIT])
    if actor not in result:
        result.insert(0, actor)
    return result


def user_choices(users: Iterable[User], blank: bool = True) -> list[tuple[str, str]]:
    choices = [(str(user.pk), str(user)) for user in users]
    return [BLANK, *choices] if blank else choices


def department_choices() -> list[tuple[str, str]]:
    return [BLANK, *((str(d.pk), str(d)) for d in Department.objects.order_by("path")[:USER_LIMIT])]


def tag_names() -> list[str]:
    return list(Tag.objects.order_by("name").values_list("name", flat=True)[:USER_LIMIT])


def split_tags(raw: str) -> list[str]:
    """"a, b，c；d" → ["a", "b", "c", "d"] (ASCII and full-width separators)."""
    for separator in ("，", "；", ";", "、"):
        raw = raw.replace(separator, ",")
    return [part.strip() for part in raw.split(",") if part.strip()]


# --- error mapping --------------------------------------------------------------------------------
def form_field_name(service_field: str) -> str:
    if service_field.startswith("custom."):
        return "custom_" + service_field.split(".", 1)[1]
    return SERVICE_TO_FORM.get(service_field, service_field)


def human_message(error: FieldError) -> str:
    """The message to show for a field error: any "required" error reads the same everywhere (some
    services still phrase it tersely); other messages come translated from the cleaners."""
    return str(_("此项为必填项。")) if error.code == "required" else error.message


def apply_errors(form: forms.Form, error: DomainError) -> None:
    """Put a service error on the form: each FieldError on its field, the rest as form errors."""
    if not error.errors:
        form.add_error(None, error.detail)
        return
    for field_error in error.errors:
        name = form_field_name(field_error.field)
        message = human_message(field_error)
        if name in form.fields and not form.fields[name].widget.is_hidden:
            form.add_error(name, message)
        else:
            form.add_error(None, f"{field_error.field}: {message}")


# --- custom fields --------------------------------------------------------------------------------
def _custom_form_field(definition: CustomField) -> forms.Field:
    kind = definition.kind
    common: dict[str, Any] = {"label": definition.label, "required": definition.is_required}
    if kind == CustomField.Kind.NUMBER:
        return forms.IntegerField(**common)
    if kind == CustomField.Kind.DECIMAL:
        return forms.DecimalField(**common)
    if kind == CustomField.Kind.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    if kind == CustomField.Kind.CHOICE:
        return forms.ChoiceField(choices=[BLANK, *((str(c), str(c)) for c in definition.choices)], **common)
    if kind == CustomField.Kind.MULTI_CHOICE:
        return forms.MultipleChoiceField(choices=[(str(c), str(c)) for c in definition.choices],
                                         widget=forms.CheckboxSelectMultiple, **common)
    if kind == CustomField.Kind.BOOLEAN:
        return forms.BooleanField(label=definition.label, required=False)
    return forms.CharField(max_length=definition.max_length or 1000, **common)


def _custom_value(definition: CustomField, value: Any) -> Any:
    """A form's cleaned value as the JSON value the custom-field cleaner expects (None = clear)."""
    if value is None or value == "":
        return None
    if definition.kind == CustomField.Kind.DECIMAL:
        return str(value)
    if definition.kind == CustomField.Kind.DATE:
        return value.isoformat()
    if definition.kind == CustomField.Kind.MULTI_CHOICE:
        return list(value)
    return value


def _inline(widget: forms.Widget, url: str, name: str, auto_id: str) -> None:
    """htmx attributes that post the field on change and show its error under it."""
    widget.attrs.update({
        "hx-post": f"{url}?field={name}", "hx-trigger": "change", "hx-target": f"#{auto_id}_inline",
        "hx-swap": "innerHTML",
    })


class RecordForm(forms.Form):
    """Shared machinery: standard fields from a cleaner spec, custom fields, inline validation."""

    object_type = ""
    spec: dict[str, Any] = {}
    model: type[Any] = Account
    validate_url_name = ""

    def __init__(self, *args: Any, user: User, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance = instance
        self.custom_definitions = definitions(self.object_type)
        for definition in self.custom_definitions:
            self.fields[f"custom_{definition.key}"] = _custom_form_field(definition)
            if instance is not None and definition.key in (instance.custom or {}):
                stored = instance.custom[definition.key]
                self.initial[f"custom_{definition.key}"] = stored
        if instance is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
            self.initial.setdefault("version", instance.version)
        # Shown with the candidates when duplicate control warns (see _duplicates.html).
        self.fields["confirm_duplicates"] = forms.BooleanField(
            label=_("我已核对，这不是重复记录，仍然保存"), required=False)
        url = reverse(self.validate_url_name)
        for name, field in self.fields.items():
            if name in self.spec or name.startswith("custom_"):
                if isinstance(field.widget, forms.Select | forms.CheckboxSelectMultiple | forms.CheckboxInput):
                    continue  # nothing to check as you type: the choices are the allowed values
                _inline(field.widget, url, name, self.auto_id % name if self.auto_id else name)

    @classmethod
    def standard_field(cls, name: str) -> forms.Field:
        """A plain optional field labelled like the model field; a select when the model has choices."""
        model_field = cls.model._meta.get_field(name)
        label = model_field.verbose_name
        if model_field.choices:
            return forms.ChoiceField(label=label, choices=[BLANK, *model_field.choices], required=False)
        return forms.CharField(label=label, max_length=model_field.max_length, required=False)

    def clean(self) -> dict[str, Any] | None:
        """Run the services' cleaners on every standard field as well, so one submit shows every
        problem (Django alone would stop at "required" and the service at its first pass)."""
        cleaned = super().clean()
        for name, cleaner in self.spec.items():
            if name not in self.fields or name in self.errors or self.fields[name].widget.is_hidden:
                continue
            try:
                cleaner(self.data.get(self.add_prefix(name)))
            except ValueError as error:
                if getattr(error, "code", "invalid") != "required":  # Django already said it
                    self.add_error(name, str(error))
        return cleaned

    def custom_data(self) -> dict[str, Any]:
        return {definition.key: _custom_value(definition, self.cleaned_data.get(f"custom_{definition.key}"))
                for definition in self.custom_definitions}

    def expected_version(self) -> int | None:
        return self.cleaned_data.get("version") if self.instance is not None else None

    def standard_initial(self, instance: Any) -> None:
        for name in self.spec:
            if name in self.fields:
                value = getattr(instance, name)
                self.initial.setdefault(name, "" if value is None else value)

    def standard_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.spec:
            value = self.cleaned_data.get(name)
            data[name] = "" if value is None else value
        data["confirm_duplicates"] = bool(self.cleaned_data.get("confirm_duplicates"))
        return data

    def standard_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name in self.spec or name in ("owner", "tags", "account",
                                                                                     "reports_to")]

    def custom_fields(self) -> list[forms.BoundField]:
        return [self[f"custom_{definition.key}"] for definition in self.custom_definitions]


# --- accounts -------------------------------------------------------------------------------------
class AccountForm(RecordForm):
    """Create or edit an account: the standard fields, owner (with transfer rights), tags, custom."""

    object_type = "account"
    spec = ACCOUNT_FIELDS
    model = Account
    validate_url_name = "customers:account_validate"

    def __init__(self, *args: Any, user: User, instance: Account | None = None, **kwargs: Any) -> None:
        base: dict[str, forms.Field] = {}
        for name in ACCOUNT_FIELDS:
            if name == "registered_capital":
                base[name] = forms.DecimalField(label=Account._meta.get_field(name).verbose_name, required=False,
                                                max_digits=16, decimal_places=2, min_value=0)
            elif name == "founded_on":
                base[name] = forms.DateField(label=Account._meta.get_field(name).verbose_name, required=False,
                                             widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
            else:
                base[name] = self.standard_field(name)
        base["name"].required = True
        base["credit_code"].max_length = 30
        base["credit_code"].widget.attrs["maxlength"] = "30"
        base["address"].widget = forms.TextInput(attrs={"maxlength": "255"})
        base["status"].choices = list(Account._meta.get_field("status").choices or [])
        base["status"].required = True
        self.base_fields = base  # type: ignore[misc]
        super().__init__(*args, user=user, instance=instance, **kwargs)
        may_assign = access.can(user, "account", "transfer") and (
            instance is None or "transfer" in access.allowed_actions(user, "account", instance)
        )
        if may_assign:
            self.fields["owner"] = forms.ChoiceField(
                label=Account._meta.get_field("owner").verbose_name, required=False,
                choices=user_choices(assignable_users(user, "account")),
            )
        self.fields["tags"] = forms.CharField(
            label=gettext_lazy("标签"), required=False, max_length=500,
            help_text=gettext_lazy("多个标签用逗号分隔"),
        )
        if instance is not None:
            self.standard_initial(instance)
            self.initial.setdefault("tags", ", ".join(tag.name for tag in instance.tags.all()))
            self.initial.setdefault("owner", str(instance.owner_id or ""))
        else:
            self.initial.setdefault("status", "potential")
            self.initial.setdefault("owner", str(user.pk))

    def to_data(self) -> dict[str, Any]:
        data = self.standard_data()
        data["tags"] = split_tags(self.cleaned_data.get("tags") or "")
        data["custom"] = self.custom_data()
        if "owner" in self.fields and self.instance is None:
            data["owner_id"] = self.cleaned_data.get("owner") or None
        return data

    def new_owner_id(self) -> int | None:
        """On edit: the owner picked when it differs from the current one (done as a transfer)."""
        if "owner" not in self.fields or self.instance is None:
            return None
        picked = self.cleaned_data.get("owner")
        if picked and int(picked) != self.instance.owner_id:
            return int(picked)
        return None


# --- contacts -------------------------------------------------------------------------------------
class ContactForm(RecordForm):
    """Create or edit a contact: account (one the user may edit), reports-to (same account), custom."""

    object_type = "contact"
    spec = CONTACT_FIELDS
    model = Contact
    validate_url_name = "customers:contact_validate"

    def __init__(self, *args: Any, user: User, instance: Contact | None = None,
                 accounts: Sequence[Account] = (), colleagues: Sequence[Contact] = (),
                 preselect_account: Account | None = None, **kwargs: Any) -> None:
        base: dict[str, forms.Field] = {}
        base["account"] = forms.ChoiceField(
            label=Contact._meta.get_field("account").verbose_name,
            choices=[BLANK, *((str(a.pk), a.name) for a in accounts)],
        )
        for name in CONTACT_FIELDS:
            if name == "is_primary":
                base[name] = forms.BooleanField(label=Contact._meta.get_field(name).verbose_name, required=False)
            else:
                base[name] = self.standard_field(name)
        base["name"].required = True
        base["email"].widget = forms.EmailInput(attrs={"maxlength": "254"})
        base["reports_to"] = forms.ChoiceField(
            label=Contact._meta.get_field("reports_to").verbose_name, required=False,
            choices=[BLANK, *((str(c.pk), c.name) for c in colleagues if instance is None or c.pk != instance.pk)],
        )
        if not colleagues:
            base["reports_to"].help_text = gettext_lazy("可选的汇报对象是所选客户的联系人；选好客户保存后再设置。")
        self.base_fields = base  # type: ignore[misc]
        super().__init__(*args, user=user, instance=instance, **kwargs)
        if instance is not None:
            self.standard_initial(instance)
            self.initial.setdefault("account", str(instance.account_id))
            self.initial.setdefault("reports_to", str(instance.reports_to_id or ""))
        elif preselect_account is not None:
            self.initial.setdefault("account", str(preselect_account.pk))

    def to_data(self) -> dict[str, Any]:
        data = self.standard_data()
        data["account_id"] = self.cleaned_data.get("account") or None
        data["reports_to_id"] = self.cleaned_data.get("reports_to") or None
        data["custom"] = self.custom_data()
        return data


# --- small forms on the record pages --------------------------------------------------------------
class FollowUpForm(forms.Form):
    """Rendered on record pages; posted to `activity:followup_create` (same field names)."""

    kind = forms.ChoiceField(label=gettext_lazy("方式"), choices=FollowUp.Kind.choices)
    content = forms.CharField(label=gettext_lazy("内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.CharField(label=gettext_lazy("结果"), max_length=500, required=False)
    next_step = forms.CharField(label=gettext_lazy("下一步"), max_length=500, required=False)
    next_step_at = forms.DateTimeField(label=gettext_lazy("下次跟进时间"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args: Any, prefix_id: str = "followup", **kwargs: Any) -> None:
        super().__init__(*args, auto_id=f"{prefix_id}-%s", **kwargs)


class NoteForm(forms.Form):
    """Rendered on record pages; posted to `activity:note_create`."""

    body = forms.CharField(label=gettext_lazy("备注"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, auto_id="note-%s", **kwargs)


def _is_id(value: Any) -> bool:
    """Digits that fit a 64-bit database id (anything longer cannot be a row and breaks SQLite)."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 18


class BulkForm(forms.Form):
    """The bulk bar of the account list: transfer the ticked rows, or add a tag to them."""

    OPERATIONS = (("transfer", "transfer"), ("tag", "tag"))

    op = forms.ChoiceField(choices=OPERATIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)
    to_user_id = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    reason = forms.CharField(max_length=255, required=False)
    tag = forms.CharField(max_length=50, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Ids are checked by the services against the choke point; here they only need to be ints.
        raw_ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(value, value) for value in raw_ids if _is_id(value)]
        raw_user = self.data.get("to_user_id") or ""
        self.fields["to_user_id"].choices = [(raw_user, raw_user)] if _is_id(raw_user) else []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("op") == "transfer" and not cleaned.get("to_user_id"):
            self.add_error("to_user_id", _("请选择接收人。"))
        if cleaned.get("op") == "tag" and not (cleaned.get("tag") or "").strip():
            self.add_error("tag", _("请输入标签。"))
        return cleaned


class TeamMemberForm(forms.Form):
    user_id = forms.TypedChoiceField(label=gettext_lazy("成员"), coerce=int)
    role = forms.CharField(label=gettext_lazy("团队角色"), max_length=50, required=False)
    access = forms.ChoiceField(label=gettext_lazy("权限"), choices=AccountTeamMember.Access.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, auto_id="team-%s", **kwargs)
        self.fields["user_id"].choices = user_choices(active_users())


class ShareForm(forms.Form):
    user_id = forms.TypedChoiceField(label=gettext_lazy("用户"), coerce=int, required=False, empty_value=None)
    department_id = forms.TypedChoiceField(label=gettext_lazy("部门"), coerce=int, required=False,
                                           empty_value=None)
    access = forms.ChoiceField(label=gettext_lazy("权限"), choices=ShareAccess.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, auto_id="share-%s", **kwargs)
        self.fields["user_id"].choices = user_choices(active_users())
        self.fields["department_id"].choices = department_choices()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (cleaned.get("user_id") is None) == (cleaned.get("department_id") is None):
            raise forms.ValidationError(_("请选择一个用户或一个部门（二选一）。"))
        return cleaned

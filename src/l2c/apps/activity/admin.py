"""Administration of custom fields; read-only views of audit events and job runs."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, CustomField, JobRun

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class CustomFieldForm(forms.ModelForm):
    class Meta:
        model = CustomField
        fields = ("object_type", "key", "label", "kind", "choices", "is_required", "max_length", "min_value",
                  "max_value", "show_in_list", "position", "is_active")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("key") and not KEY_PATTERN.match(cleaned["key"]):
            self.add_error("key", _("以小写字母开头，只含小写字母、数字和下划线。"))
        kind = cleaned.get("kind")
        choices = cleaned.get("choices")
        valid_choices = isinstance(choices, list) and choices and all(isinstance(c, str) and c for c in choices)
        if kind in (CustomField.Kind.CHOICE, CustomField.Kind.MULTI_CHOICE) and not valid_choices:
            self.add_error("choices", _("单选/多选字段需要选项列表，如 [\"A\", \"B\"]。"))
        return cleaned


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldForm
    list_display = ("object_type", "key", "label", "kind", "is_required", "show_in_list", "is_active", "position")
    list_filter = ("object_type", "kind", "is_active")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "object_repr", "source")
    list_filter = ("action", "object_type", "source")
    search_fields = ("object_repr", "request_id")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "status", "progress", "total", "created_at", "finished_at")
    list_filter = ("status", "name")

"""Accounts and contacts in the admin are read-only: daily work happens in the product UI, where
every write goes through the services (visibility, validation, audit)."""

from __future__ import annotations

from django.contrib import admin

from l2c.apps.activity.admin import ReadOnlyAdmin

from .models import Account, Contact, DuplicateRule, Tag


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("name", "credit_code", "owner", "department", "status", "updated_at")
    search_fields = ("name", "credit_code")
    list_filter = ("status", "industry")


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "title", "mobile", "email")
    search_fields = ("name", "mobile", "email")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(DuplicateRule)
class DuplicateRuleAdmin(admin.ModelAdmin):
    """Duplicate rules (查重规则): several active per object type; the model's clean() checks that
    the field suits the kind. Changes apply to the next check; stored keys need no rebuild."""

    list_display = ("label", "object_type", "kind", "field", "threshold", "action", "is_active", "position")
    list_editable = ("is_active", "position")
    list_filter = ("object_type", "action", "is_active")

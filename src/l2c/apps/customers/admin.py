"""Accounts and contacts in the admin are read-only: daily work happens in the product UI, where
every write goes through the services (visibility, validation, audit)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import Account, Contact, Tag


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


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

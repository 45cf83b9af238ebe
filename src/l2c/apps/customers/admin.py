"""Accounts and contacts in the admin are read-only: daily work happens in the product UI, where
every write goes through the services (visibility, validation, audit)."""

from __future__ import annotations

from django.contrib import admin

from l2c.apps.activity.admin import ReadOnlyAdmin

from .models import Account, Contact, Tag


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

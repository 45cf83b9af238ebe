"""Administration of users, departments, roles, permissions and scopes (Django admin, translated)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, Department, Role, RolePermission, Share, User
from .services import department_path_fix

admin.site.site_header = _("L2C 系统管理")
admin.site.site_title = _("L2C 系统管理")
admin.site.index_title = _("用户、部门、角色与权限")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "department", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "department", "roles")
    search_fields = ("username", "display_name", "email")
    filter_horizontal = ("roles",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("组织"), {"fields": ("display_name", "department", "roles", "mobile", "language")}),
    )


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "manager", "path")
    search_fields = ("name",)
    readonly_fields = ("path",)

    def save_model(self, request: Any, obj: Department, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not obj.path:
            obj.path = f"{obj.parent.path if obj.parent else '/'}{obj.pk}/"
            obj.save(update_fields=["path"])
        else:
            department_path_fix(department=obj)


class RolePermissionInline(admin.TabularInline):
    model = RolePermission
    extra = 1


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "is_builtin")
    inlines = [RolePermissionInline]


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ("object_type", "object_id", "user", "department", "access", "created_at")
    list_filter = ("object_type", "access")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "prefix", "token_hash", "created_at", "last_used_at", "expires_at")
    exclude = ("token_hash",)

    def has_add_permission(self, request: Any) -> bool:
        return False

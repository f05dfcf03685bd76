"""Django admin: people (roles come from Entra, so read-only there) and the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from portal.models import AuditEvent, User


class ReadOnlyAdminMixin:
    """Rows written only by the portal: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "email", "role", "home_tenant", "is_active", "last_login")
    list_filter = ("role", "home_tenant", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    readonly_fields = ("entra_tenant_id", "entra_object_id", "role", "home_tenant", "last_login", "date_joined")
    filter_horizontal = ("served_tenants",)
    fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "is_active")}),
        ("Entra ID", {"fields": ("entra_tenant_id", "entra_object_id", "home_tenant", "role")}),
        ("Tenants served (IT staff)", {"fields": ("served_tenants", "selected_tenant")}),
        ("Django admin", {"fields": ("is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: audit entries are written by the portal and never changed."""

    list_display = ("created_at", "action", "person", "tenant_name", "source_ip", "detail")
    list_filter = ("action", "tenant")
    search_fields = ("person", "detail", "tenant_name")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)

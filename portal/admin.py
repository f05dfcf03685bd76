"""Django admin: people (roles come from Entra, so read-only there) and the audit log, each
scoped to the organisation an admin administers (tenants.admin_scoping)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from audit.models import AuditEvent
from core.admin import ReadOnlyAdminMixin
from core.roles import is_operator
from portal.models import User
from tenants.admin_scoping import TenantScopedAdmin, tenant_filter


@admin.register(User)
class PortalUserAdmin(TenantScopedAdmin, UserAdmin):
    """People. An organisation's admin may only switch its people's access on or off; roles
    come from Entra, and tenants served, Django admin flags and passwords are operators'."""

    tenant_field = "home_tenant"
    admins_may_change = True
    list_display = (
        "username",
        "first_name",
        "email",
        "role",
        "home_tenant",
        "is_active",
        "last_login",
    )
    list_filter = ("role", tenant_filter("home_tenant"), "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    readonly_fields = (
        "entra_tenant_id",
        "entra_object_id",
        "role",
        "home_tenant",
        "last_login",
        "date_joined",
    )
    filter_horizontal = ("served_tenants",)
    fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "is_active")}),
        ("Entra ID", {"fields": ("entra_tenant_id", "entra_object_id", "home_tenant", "role")}),
        ("Tenants served (IT staff)", {"fields": ("served_tenants", "selected_tenant")}),
        ("Django admin", {"fields": ("is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_operator(request.user):
            return self.readonly_fields
        return [f for section in self.fieldsets for f in section[1]["fields"] if f != "is_active"]

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        # An admin never changes an operator, nor locks themselves out.
        return (
            is_operator(request.user)
            or obj is None
            or (not is_operator(obj) and obj.pk != request.user.pk)
        )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # A local password would let an organisation's admin sign in as one of its people.
        if not is_operator(request.user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            from audit.models import AuditAction
            from audit.services import audit_record

            audit_record(
                action=AuditAction.ACCESS_CHANGED,
                request=request,
                tenant=obj.home_tenant,
                detail=f"{obj.get_full_name() or obj.username}: changed {', '.join(form.changed_data)} in Django admin.",
            )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Read-only: audit entries are written by the portal and never changed."""

    list_display = (
        "created_at",
        "action",
        "person",
        "actor_role",
        "tenant_name",
        "source_ip",
        "detail",
    )
    list_filter = ("action", "actor_role", tenant_filter())
    search_fields = ("person", "detail", "tenant_name")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)

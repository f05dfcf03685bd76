"""Django admin: people (roles come from Entra, so read-only there) and the audit log.

Admins of an organisation use Django admin too, scoped to their own tenant by
``TenantScopedAdminMixin``; operators see and change everything (they are superusers).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from portal.models import AuditEvent, User
from portal.roles import is_admin, is_operator
from portal.selectors import admin_tenants_for_user


class ReadOnlyAdminMixin:
    """Rows written only by the portal: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TenantScopedAdminMixin:
    """An organisation's admin sees the rows of the tenants they administer, and nothing else.

    ``tenant_field`` is the lookup from the model to its Tenant. Operators (superusers) get
    Django's normal behaviour. An organisation's admin may view; change only where
    ``admins_may_change`` (and only the fields the ModelAdmin leaves editable); never add or
    delete. An object id of another organisation is a 404, as on the portal's own pages.
    """

    tenant_field = "tenant"
    admins_may_change = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if is_operator(request.user):
            return queryset
        return queryset.filter(**{f"{self.tenant_field}__in": admin_tenants_for_user(request.user)})

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        found = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if found is None:
            raise Http404("No such object.")
        return found

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return bool(super().has_view_permission(request, obj))  # type: ignore[misc]
        return is_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return bool(super().has_change_permission(request, obj))  # type: ignore[misc]
        return self.admins_may_change and is_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator(request.user) and bool(super().has_add_permission(request, *args))  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_operator(request.user) and bool(super().has_delete_permission(request, obj))  # type: ignore[misc]


def tenant_filter(field: str = "tenant") -> tuple[str, type[admin.RelatedOnlyFieldListFilter]]:
    """A tenant filter listing only tenants of the visible rows (never other organisations)."""
    return (field, admin.RelatedOnlyFieldListFilter)


@admin.register(User)
class PortalUserAdmin(TenantScopedAdminMixin, UserAdmin):
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
            from portal.audit import AuditAction, audit_record

            audit_record(
                action=AuditAction.ACCESS_CHANGED,
                request=request,
                tenant=obj.home_tenant,
                detail=f"{obj.get_full_name() or obj.username}: changed {', '.join(form.changed_data)} in Django admin.",
            )


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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

"""Django admin for API clients: an organisation's admin registers and manages its own
tenant's clients; operators all. A client holds no secret (its tokens come from its own Entra
ID), so there is nothing to hide here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import ForeignKey, Model
from django.http import HttpRequest

from api.models import API_ROLES, ApiClient
from core.roles import is_admin, is_operator
from tenants.admin_scoping import TenantScopedAdmin, tenant_filter
from tenants.selectors import admin_tenants_for_user


class ApiClientForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=[(role, role) for role in API_ROLES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="API roles the portal allows this client; its token must carry them too "
        "(app roles of the portal's app registration in Entra ID).",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "tenant", "app_id", "roles", "allowed_networks", "rate_limit", "enabled"]


@admin.register(ApiClient)
class ApiClientAdmin(TenantScopedAdmin):
    form = ApiClientForm
    admins_may_change = True
    list_display = ["name", "tenant", "app_id", "roles", "enabled", "last_used_at"]
    list_filter = ["enabled", tenant_filter()]
    search_fields = ["name"]
    readonly_fields = ["user", "created_at", "last_used_at"]
    fieldsets = [
        (None, {"fields": ["name", "tenant", "app_id", "enabled"]}),
        ("Access", {"fields": ["roles", "allowed_networks", "rate_limit"]}),
        ("Use", {"fields": ["user", "created_at", "last_used_at"]}),
    ]

    # Unlike most tenant data, an organisation's admin registers and removes its own clients
    # (the API's "Client not registered" answer sends them here).
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_operator(request.user):
            return super().has_add_permission(request, *args)
        return is_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return super().has_delete_permission(request, obj)
        return is_admin(request.user)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "tenant":
            # Only the organisations this person administers can be chosen (or posted).
            kwargs["queryset"] = admin_tenants_for_user(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

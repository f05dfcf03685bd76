"""Django admin scoped to the tenants a person administers (tenants.selectors).

Admins of an organisation use Django admin too; every ModelAdmin of tenant data derives from
``TenantScopedAdmin`` so that they see their own organisation's rows and nothing else, while
operators (superusers) get Django's normal behaviour.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from core.roles import is_admin, is_operator
from tenants.selectors import admin_tenants_for_user


class TenantScopedAdmin(admin.ModelAdmin):
    """An organisation's admin sees the rows of the tenants they administer, and nothing else.

    ``tenant_field`` is the lookup from the model to its Tenant. Operators (superusers) get
    Django's normal behaviour. An organisation's admin may view; change only where
    ``admins_may_change`` (and only the fields the ModelAdmin leaves editable); never add or
    delete. An object id of another organisation is a 404, as on the portal's own pages.
    """

    tenant_field = "tenant"
    admins_may_change = False
    # SQLite refuses a LIKE pattern over 50,000 bytes (a 500); no one searches with more.
    search_max = 1000

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if is_operator(request.user):
            return queryset
        return queryset.filter(**{f"{self.tenant_field}__in": admin_tenants_for_user(request.user)})

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        return super().get_search_results(request, queryset, search_term[: self.search_max])

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("No such object.")
        return found

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return bool(super().has_view_permission(request, obj))
        return is_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return bool(super().has_change_permission(request, obj))
        return self.admins_may_change and is_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_operator(request.user) and bool(super().has_add_permission(request, *args))

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_operator(request.user) and bool(super().has_delete_permission(request, obj))


def tenant_filter(field: str = "tenant") -> tuple[str, type[admin.RelatedOnlyFieldListFilter]]:
    """A tenant filter listing only tenants of the visible rows (never other organisations)."""
    return (field, admin.RelatedOnlyFieldListFilter)

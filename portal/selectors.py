"""Reads filtered by what the user may see: the tenants a person serves, the current tenant."""

from __future__ import annotations

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from portal.models import Role, User
from portal.roles import is_operator, is_staff
from tenants.models import Tenant

SESSION_TENANT_KEY = "portal_tenant_id"


def tenants_for_user(user: User | object) -> QuerySet[Tenant]:
    """The tenants a person works in (requests, directory, tenant pages).

    A role applies to the organisation that granted it. Requesters: their home tenant (the
    one they signed in from). IT staff and admins: the home tenant plus the tenants an
    operator assigned to them. Operators: every tenant. Anyone else, or an anonymous user:
    none.
    """
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if is_operator(user):
        return Tenant.objects.all()
    active = Tenant.objects.filter(is_active=True)
    if user.role in (Role.IT_STAFF, Role.ADMIN):
        served = user.served_tenants.values("pk")
        return active.filter(Q(pk__in=served) | Q(pk=user.home_tenant_id or 0))
    if user.role == Role.REQUESTER and user.home_tenant_id:
        return active.filter(pk=user.home_tenant_id)
    return Tenant.objects.none()


def admin_tenants_for_user(user: User | object) -> QuerySet[Tenant]:
    """The tenants a person administers (audit log, Django admin, tenant settings).

    An admin administers their own organisation only, never a tenant they merely serve as
    IT staff; operators administer every tenant.
    """
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if is_operator(user):
        return Tenant.objects.all()
    if user.role == Role.ADMIN and user.home_tenant_id:
        return Tenant.objects.filter(pk=user.home_tenant_id)
    return Tenant.objects.none()


def scope_to_user[M: Model](
    queryset: QuerySet[M], user: User | object, tenant_field: str = "tenant"
) -> QuerySet[M]:
    """``queryset`` narrowed to rows whose ``tenant_field`` is a tenant the user serves."""
    return queryset.filter(**{f"{tenant_field}__in": tenants_for_user(user)})


def selectable_tenants(user: User | object) -> QuerySet[Tenant]:
    """Tenants offered in the header's tenant selector (IT staff and admins only)."""
    if not is_staff(user):
        return Tenant.objects.none()
    return tenants_for_user(user).filter(is_active=True).order_by("name")


def current_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant the user is working in: the one chosen in the selector (session, then the
    user's remembered choice) if they still serve it, else their home tenant."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    served = tenants_for_user(user)
    for candidate in (
        request.session.get(SESSION_TENANT_KEY),
        user.selected_tenant_id,
        user.home_tenant_id,
    ):
        if candidate:
            tenant = served.filter(pk=candidate).first()
            if tenant is not None:
                return tenant
    return served.order_by("name").first()


def request_tenant(request: HttpRequest) -> Tenant | None:
    """``request.tenant`` as portal.middleware set it (looked up when the middleware did not run)."""
    return request.tenant if hasattr(request, "tenant") else current_tenant(request)

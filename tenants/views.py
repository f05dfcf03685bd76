"""Tenant pages for IT staff and admins: settings at a glance and "Test connection"."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.decorators import role_required
from portal.models import Role, User
from tenants import selectors, services

_staff_only = role_required(Role.IT_STAFF, Role.ADMIN)


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@_staff_only
def tenant_list(request: HttpRequest) -> HttpResponse:
    tenants = selectors.tenants_served_by(_user(request)).distinct().order_by("name")
    rows = [{"tenant": t, "check": selectors.latest_check(t)} for t in tenants]
    return render(request, "tenants/tenant_list.html", {"rows": rows})


@require_GET
@_staff_only
def tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=_user(request), slug=slug)
    return render(request, "tenants/tenant_detail.html", {
        "tenant": tenant, "check": selectors.latest_check(tenant),
        "expiry_text": selectors.secret_expiry_text(tenant),
    })


@require_POST
@_staff_only
def tenant_check_start(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=_user(request), slug=slug)
    check = services.connection_check_start(tenant=tenant, user=_user(request))
    if getattr(request, "htmx", False):
        check.refresh_from_db()
        return render(request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check})
    return redirect("tenants:detail", slug=tenant.slug)


@require_GET
@_staff_only
def tenant_check_result(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The check fragment; htmx polls it while the check runs."""
    tenant = selectors.tenant_get_for_user(user=_user(request), slug=slug)
    check = selectors.check_get_for_tenant(tenant=tenant, pk=pk)
    return render(request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check})

"""Tenant pages for IT staff and admins: settings at a glance and "Test connection"."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.decorators import staff_required
from core.htmx import is_htmx_partial
from core.http import PortalRequest
from tenants import selectors, services


@require_GET
@staff_required
def tenant_list(request: PortalRequest) -> HttpResponse:
    tenants = list(selectors.tenants_served_by(request.user).distinct().order_by("name"))
    checks = selectors.latest_checks(tenants)
    rows = [{"tenant": t, "check": checks.get(t.pk)} for t in tenants]
    return render(request, "tenants/tenant_list.html", {"rows": rows})


@require_GET
@staff_required
def tenant_detail(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    return render(
        request,
        "tenants/tenant_detail.html",
        {
            "tenant": tenant,
            "check": selectors.latest_check(tenant),
            "expiry_text": selectors.secret_expiry_text(tenant),
            "notices": list(tenant.notices.all()[:20]),
        },
    )


@require_POST
@staff_required
def tenant_check_start(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    check = services.connection_check_start(tenant=tenant, user=request.user)
    if is_htmx_partial(request):
        check.refresh_from_db()
        return render(
            request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check}
        )
    return redirect("tenants:detail", slug=tenant.slug)


@require_GET
@staff_required
def tenant_check_result(request: PortalRequest, slug: str, pk: int) -> HttpResponse:
    """The check fragment; htmx polls it while the check runs."""
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    check = selectors.check_get_for_tenant(tenant=tenant, pk=pk)
    return render(request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check})

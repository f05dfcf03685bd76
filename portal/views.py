"""Portal-wide pages: home and the health endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from api.problems import problem
from core.decorators import role_required
from core.http import PortalRequest
from core.roles import is_staff
from portal.health import collect_warnings, run_checks
from portal.middleware import API_PREFIX
from provisioning import selectors as provisioning_selectors
from tenants.models import Tenant

# The kinds of workspace on the home page: each card leads to its templates in the catalogue.
HOME_KINDS = [
    (
        "team",
        "Team",
        "Microsoft Teams team",
        "Channels, chat and files for a project or department.",
    ),
    (
        "group",
        "Group",
        "Microsoft 365 group",
        "A shared mailbox, calendar and files without Teams.",
    ),
    (
        "site",
        "Site",
        "SharePoint site",
        "A communication or team site for publishing and documents.",
    ),
    (
        "community",
        "Community",
        "Viva Engage community",
        "An open conversation space around a topic.",
    ),
]


def _kinds(tenant: Tenant | None) -> list[tuple[str, str, str, str]]:
    """What the tenant's upstream makes (GT365: groups and teams only)."""
    if tenant is None:
        return HOME_KINDS
    makes = tenant.capabilities.workloads
    return [kind for kind in HOME_KINDS if kind[0] in makes]


@require_GET
@role_required()
def home(request: PortalRequest) -> HttpResponse:
    """Everyone's start page; IT staff find their queues (failed, stuck, waiting) on top."""
    queues = (
        provisioning_selectors.it_queues(user=request.user, tenant=request.tenant)
        if is_staff(request.user)
        else []
    )
    return render(
        request,
        "portal/home.html",
        {"kinds": _kinds(request.tenant), "queues": queues, "tenant": request.tenant},
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when database, queue and worker are healthy; 503 naming what failed otherwise.

    `warnings` (e.g. a client secret expiring soon) never change the status.
    """
    checks = run_checks()
    failing = [name for name, check in checks.items() if not check.ok]
    body = {
        "status": "ok" if not failing else "unhealthy",
        "failing": failing,
        "checks": {name: {"ok": c.ok, **c.detail} for name, c in checks.items()},
        "warnings": collect_warnings() if checks["database"].ok else [],
    }
    return JsonResponse(body, status=503 if failing else 200)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An address no route matches (an id holding "/", a typo): on the API a problem document,
    as every API error is; elsewhere the portal's 404 page."""
    if request.path.startswith(API_PREFIX):
        return problem(404, "Not found", "No such address in this API: see /api/v1/docs.")
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a Host header it does not accept, a request it cannot read): on the API
    a problem document, as every API error is; elsewhere Django's page."""
    if request.path.startswith(API_PREFIX):
        return problem(
            400, "Bad request", "The request could not be read: check its Host header and encoding."
        )
    return defaults.bad_request(request, exception)

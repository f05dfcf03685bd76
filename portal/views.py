"""Portal-wide pages: home and the health endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.decorators import role_required
from portal.health import collect_warnings, run_checks


@require_GET
@role_required()
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")


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

"""Webhooks: the receiver the upstream posts to, and the deliveries page for IT staff.

The receiver is deliberately outside sign-in and CSRF: the upstream is no browser and has no
session. What proves a delivery is its signature (verified before anything reads the body) and
the tenant comes from the URL's token, never from the body. docs/webhooks.md and
docs/security.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.csv_export import cell, csv_response
from core.decorators import staff_required
from core.htmx import page_or_fragment, query_without_page
from core.http import PortalRequest
from provisioning import selectors, services
from provisioning.forms import DeliveryFilterForm
from provisioning.models import WebhookDelivery

PAGE_SIZE = 50


def _body(request: HttpRequest) -> tuple[bytes | None, int]:
    """The raw body, or None when it is over WEBHOOK_MAX_BODY (then not read beyond the limit);
    and its size as declared or read."""
    limit = settings.WEBHOOK_MAX_BODY
    declared = request.META.get("CONTENT_LENGTH") or ""
    size = int(declared) if declared.isdigit() else 0
    if size > limit:
        return None, size
    body = request.read(limit + 1)
    if len(body) > limit:
        return None, max(size, len(body))
    return body, len(body)


@csrf_exempt
@require_POST
def receive(request: HttpRequest, token: uuid.UUID) -> HttpResponse:
    """POST /hooks/<token>: 200 stored (or a copy), 401 bad or missing signature, 413 too
    large, 404 no such receiver (or webhooks off). Answers at once: processing is a task."""
    body, size = _body(request)
    receipt = services.webhook_receive(token=token, body=body, size=size, headers=request.headers)
    return HttpResponse(status=receipt.status)


def _filtered(
    request: PortalRequest,
) -> tuple[DeliveryFilterForm, QuerySet[WebhookDelivery]]:
    user = request.user
    form = DeliveryFilterForm.for_request(request)
    if not form.is_valid():
        return form, WebhookDelivery.objects.none()
    deliveries = selectors.deliveries_for_staff(
        user=user,
        tenant=form.cleaned_data.get("tenant"),
        problems=form.cleaned_data.get("show") == DeliveryFilterForm.SHOW_PROBLEMS,
    )
    return form, deliveries


@never_cache
@require_GET
@staff_required
def deliveries(request: PortalRequest) -> HttpResponse:
    form, found = _filtered(request)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "query": query_without_page(request),
        "health": selectors.webhook_health_for(user=request.user),
    }
    return render(request, page_or_fragment(request, "provisioning/deliveries.html"), context)


HEADER = [
    "received",
    "tenant",
    "verification",
    "event",
    "kind",
    "workspace",
    "event time (UTC)",
    "copies",
    "outcome",
    "request",
    "detail",
    "event key",
]


def _rows(found: QuerySet[WebhookDelivery]) -> Iterator[list[str]]:
    yield HEADER
    for d in found.iterator(chunk_size=500):
        yield [
            cell(value)
            for value in (
                timezone.localtime(d.received_at).strftime("%Y-%m-%d %H:%M:%S"),
                d.tenant.name,
                d.get_verdict_display(),
                d.event_type,
                d.workload,
                d.workspace_name,
                d.occurred_at.strftime("%Y-%m-%d %H:%M:%S") if d.occurred_at else "",
                d.copies,
                d.get_outcome_display(),
                d.request_id or "",
                d.detail,
                d.event_key,
            )
        ]


@never_cache
@require_GET
@staff_required
def deliveries_export(request: PortalRequest) -> HttpResponseBase:
    _form, found = _filtered(request)
    return csv_response(_rows(found), "webhook-deliveries.csv")

"""The audit log page for admins: filters, paging and a CSV export of the same selection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit.models import AuditAction, AuditEvent
from core.csv_export import cell, csv_response
from core.decorators import role_required
from core.forms import DateRangeForm, within_dates
from core.htmx import page_or_fragment, query_without_page
from core.http import PortalRequest
from core.roles import Role, is_operator
from portal.models import User
from tenants.models import Tenant
from tenants.selectors import admin_tenants_for_user, people_matching

PAGE_SIZE = 50


class AuditFilterForm(DateRangeForm):
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, empty_label="Any tenant"
    )
    person = forms.CharField(required=False, max_length=100, label="Person contains")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["tenant"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = admin_tenants_for_user(user).order_by("name")


def audit_events_visible_to(user: User) -> QuerySet[AuditEvent]:
    """The entries a person may read: their own organisation's; every entry for operators
    (entries of no tenant, such as refused sign-ins of unknown organisations, included)."""
    # No joins: the page and the CSV show the names stored on the entry itself.
    events = AuditEvent.objects.order_by("-created_at", "-id")
    if is_operator(user):
        return events
    return events.filter(tenant__in=admin_tenants_for_user(user))


def audit_events_for(form: AuditFilterForm, user: User) -> QuerySet[AuditEvent]:
    """The audit entries the person may read matching a (validated) filter form, newest first."""
    events = audit_events_visible_to(user)
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if data["action"]:
        events = events.filter(action=data["action"])
    if data["tenant"]:
        events = events.filter(tenant=data["tenant"])
    if data["person"]:
        # The people first: an OR across the join would read every entry (tenants/selectors.py).
        people = people_matching(data["person"])
        events = events.filter(Q(person__icontains=data["person"]) | Q(user__in=people))
    return within_dates(events, data["since"], data["until"])


@never_cache
@require_GET
@role_required(Role.ADMIN)
def audit_log(request: PortalRequest) -> HttpResponse:
    user = request.user
    form = AuditFilterForm(request.GET or {}, user=user)
    page = Paginator(audit_events_for(form, user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "query": query_without_page(request)}
    return render(request, page_or_fragment(request, "portal/audit_log.html"), context)


@never_cache
@require_GET
@role_required(Role.ADMIN)
def audit_export(request: PortalRequest) -> StreamingHttpResponse:
    """The filtered audit entries as CSV (UTF-8), streamed."""
    user = request.user
    events = audit_events_for(AuditFilterForm(request.GET or {}, user=user), user)

    def rows() -> Iterator[list[str]]:
        yield ["time (UTC)", "action", "person", "role", "tenant", "source IP", "detail"]
        for event in events.iterator(chunk_size=500):
            yield [
                event.created_at.astimezone(UTC).isoformat(timespec="seconds"),
                event.get_action_display(),
                cell(event.person),
                event.get_actor_role_display() if event.actor_role else "",
                cell(event.tenant_name),
                event.source_ip or "",
                cell(event.detail),
            ]

    return csv_response(rows(), "audit-log.csv")

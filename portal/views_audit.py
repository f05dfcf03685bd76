"""The audit log page for admins: filters, paging and a CSV export of the same selection."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.decorators import role_required
from portal.models import AuditAction, AuditEvent, Role
from tenants.models import Tenant

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "Any action"), *AuditAction.choices], required=False)
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.order_by("name"), required=False, empty_label="Any tenant"
    )
    person = forms.CharField(required=False, max_length=100, label="Person contains")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if isinstance(since, date) and isinstance(until, date) and since > until:
            self.add_error("until", "The end date must not be before the start date.")
        return data


def audit_events_for(form: AuditFilterForm) -> QuerySet[AuditEvent]:
    """The audit entries matching a (validated) filter form, newest first."""
    events = AuditEvent.objects.select_related("tenant", "user").order_by("-created_at", "-id")
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if data["action"]:
        events = events.filter(action=data["action"])
    if data["tenant"]:
        events = events.filter(tenant=data["tenant"])
    if data["person"]:
        events = events.filter(Q(person__icontains=data["person"]) | Q(user__email__icontains=data["person"]))
    zone = timezone.get_current_timezone()
    if data["since"]:
        events = events.filter(created_at__gte=datetime.combine(data["since"], time.min, zone))
    if data["until"]:
        events = events.filter(created_at__lte=datetime.combine(data["until"], time.max, zone))
    return events


@never_cache
@require_GET
@role_required(Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if not request.GET:
        form = AuditFilterForm({})
    page = Paginator(audit_events_for(form), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "portal/audit_log.html#results" if getattr(request, "htmx", False) else "portal/audit_log.html"
    return render(request, template, context)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@never_cache
@require_GET
@role_required(Role.ADMIN)
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered audit entries as CSV (UTF-8), streamed."""
    form = AuditFilterForm(request.GET or {})
    events = audit_events_for(form)
    writer = csv.writer(_Echo())

    def rows():  # type: ignore[no-untyped-def]
        yield writer.writerow(["time (UTC)", "action", "person", "tenant", "source IP", "detail"])
        for event in events.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    event.created_at.astimezone(UTC).isoformat(timespec="seconds"),
                    event.get_action_display(),
                    _cell(event.person),
                    _cell(event.tenant_name),
                    event.source_ip or "",
                    _cell(event.detail),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response

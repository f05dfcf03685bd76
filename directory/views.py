"""Directory pages for IT staff and admins: groups, sites, and the reports kept as snapshots.

Every page is under /directory/<tenant slug>/ and resolves the tenant for the user first (a
tenant the user does not serve is a 404). Lists come live from Point; reports are read from
the latest stored snapshot while a refresh runs in the background (see docs/directory.md).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from core.decorators import staff_required
from core.htmx import is_htmx_partial, page_or_fragment, query_without_page
from core.http import PortalRequest
from directory import services as directory
from directory.models import ReportKind, ReportRun
from tenants import selectors as tenant_selectors
from tenants.models import Tenant

DONE_EVENT = "directory-report-done"
TEMPLATES = "directory"


def _tenant(request: PortalRequest, slug: str) -> Tenant:
    return tenant_selectors.tenant_get_for_user(user=request.user, slug=slug)


# --- Forms -------------------------------------------------------------------------------------


class ListFilterForm(forms.Form):
    search = forms.CharField(required=False, max_length=200, label="Search")


class GroupFilterForm(ListFilterForm):
    type = forms.ChoiceField(
        required=False, label="Type", choices=[("", "Any type"), *directory.GROUP_TYPES]
    )


class RowFilterForm(forms.Form):
    """Filters of a report snapshot; the kind (and role) choices depend on the report."""

    search = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(required=False, label="Kind")
    role = forms.ChoiceField(
        required=False, label="Role", choices=[("", "Owners and members"), *directory.ROLES]
    )

    def __init__(self, *args: Any, report: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", "Any kind"), *directory.ROW_KINDS[report]]
        if report == ReportKind.GROUP_MEMBERSHIPS:
            kind.label = "Member kind"
        else:
            del self.fields["role"]
            kind.label = "Principal" if report == ReportKind.SITE_PERMISSIONS else "Workspace type"

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class UserAccessForm(forms.Form):
    upn = forms.EmailField(
        label="User principal name (UPN)",
        max_length=254,
        widget=forms.EmailInput(
            attrs={"placeholder": "name@contoso.onmicrosoft.com", "autocomplete": "off"}
        ),
        error_messages={
            "invalid": "Enter a user principal name such as name@contoso.onmicrosoft.com."
        },
    )


# ReportRun.subject and subject_label hold this much.
SUBJECT_MAX = 500


class SiteForm(forms.Form):
    site = forms.URLField(
        required=False, max_length=SUBJECT_MAX, assume_scheme="https", label="Site URL"
    )


class RefreshForm(forms.Form):
    kind = forms.ChoiceField(choices=ReportKind.choices)
    subject = forms.CharField(required=False, max_length=SUBJECT_MAX)
    label = forms.CharField(required=False, max_length=SUBJECT_MAX)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, subject = data.get("kind"), (data.get("subject") or "").strip()
        if kind == ReportKind.USER_ACCESS:
            try:
                subject = forms.EmailField(max_length=254).clean(subject)
            except forms.ValidationError:
                self.add_error(
                    "subject", "Enter a user principal name such as name@contoso.onmicrosoft.com."
                )
        elif kind == ReportKind.SITE_PERMISSIONS and subject:
            try:
                subject = forms.URLField(assume_scheme="https").clean(subject)
            except forms.ValidationError:
                self.add_error("subject", "Enter a site URL.")
        if len(subject) > SUBJECT_MAX:
            # The site URL gains "https://" when typed without it: check what will be stored.
            self.add_error(
                "subject", f"At most {SUBJECT_MAX} characters; this one has {len(subject)}."
            )
        data["subject"] = subject
        return data


# --- The report panel (shared by the group, site permissions and user access pages) -----------


def _report_page_url(tenant: Tenant, kind: str, subject: str, label: str) -> str:
    if kind == ReportKind.GROUP_MEMBERSHIPS and label:
        return reverse("directory:group", args=[tenant.slug, label])
    if kind == ReportKind.USER_ACCESS:
        return (
            reverse("directory:user_access", args=[tenant.slug]) + "?" + urlencode({"upn": subject})
        )
    url = reverse("directory:site_permissions", args=[tenant.slug])
    return url + ("?" + urlencode({"site": subject}) if subject else "")


def _report_context(
    request: PortalRequest, tenant: Tenant, kind: str, subject: str, label: str = ""
) -> dict[str, Any]:
    snapshot = directory.latest_snapshot(tenant=tenant, kind=kind, subject=subject)
    latest = directory.latest_run(tenant=tenant, kind=kind, subject=subject)
    form = RowFilterForm(request.GET or {}, report=kind)
    page = None
    if snapshot is not None:
        rows = directory.snapshot_rows(snapshot, **form.filters())
        page = Paginator(rows, settings.DIRECTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    keep = {"upn": subject} if kind == ReportKind.USER_ACCESS else {}
    if kind == ReportKind.SITE_PERMISSIONS and subject:
        keep = {"site": subject}
    return {
        "tenant": tenant,
        "kind": kind,
        "subject": subject,
        "label": label,
        "snapshot": snapshot,
        "stale": directory.is_stale(snapshot),
        "run": latest,
        "row_form": form,
        "page": page,
        "query": query_without_page(request),
        "export_query": urlencode(form.filters()),
        "keep": keep,
        "page_url": request.path,
        "max_age_text": _duration(settings.DIRECTORY_SNAPSHOT_MAX_AGE),
    }


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _render_report_page(
    request: PortalRequest, template: str, context: dict[str, Any]
) -> HttpResponse:
    if is_htmx_partial(request):
        return render(request, f"{TEMPLATES}/report.html#results", context)
    return render(request, template, context)


# --- Views ---------------------------------------------------------------------------------------


@require_GET
@staff_required
def index(request: PortalRequest) -> HttpResponse:
    """The directory of the tenant chosen in the header."""
    tenant = request.tenant  # always one the user serves (portal.selectors)
    if tenant is None:
        messages.warning(request, "You serve no tenant yet, so there is no directory to show.")
        return redirect("home")
    return redirect("directory:groups", slug=tenant.slug)


@require_GET
@staff_required
def groups(request: PortalRequest, slug: str) -> HttpResponse:
    """Groups, live from Point: type filter, search, paging."""
    tenant = _tenant(request, slug)
    form = GroupFilterForm(request.GET or {})
    data = form.cleaned_data if form.is_valid() else {}
    page = directory.groups_page(
        tenant=tenant,
        page=request.GET.get("page"),
        group_type=data.get("type", ""),
        search=data.get("search", ""),
    )
    rows = [
        {"group": g, "type_label": directory.GROUP_TYPE_LABELS.get(g.group_type, g.group_type)}
        for g in page.items
    ]
    context = {
        "tenant": tenant,
        "form": form,
        "page": page,
        "rows": rows,
        "query": query_without_page(request),
    }
    return render(request, page_or_fragment(request, f"{TEMPLATES}/groups.html"), context)


@require_GET
@staff_required
def group(request: PortalRequest, slug: str, name: str) -> HttpResponse:
    """One group (GET /v1.0/groups/{name}) with its memberships snapshot."""
    tenant = _tenant(request, slug)
    found, problem = directory.group_get(tenant=tenant, name=name)
    context: dict[str, Any] = {"tenant": tenant, "group": found, "problem": problem, "name": name}
    if found is not None:
        context["type_label"] = directory.GROUP_TYPE_LABELS.get(found.group_type, found.group_type)
        context.update(
            _report_context(request, tenant, ReportKind.GROUP_MEMBERSHIPS, found.id, found.name)
        )
        return _render_report_page(request, f"{TEMPLATES}/group.html", context)
    return render(request, f"{TEMPLATES}/group.html", context)


@require_GET
@staff_required
def sites(request: PortalRequest, slug: str) -> HttpResponse:
    """SharePoint sites, live from Point: search, paging."""
    tenant = _tenant(request, slug)
    form = ListFilterForm(request.GET or {})
    data = form.cleaned_data if form.is_valid() else {}
    page = directory.sites_page(
        tenant=tenant, page=request.GET.get("page"), search=data.get("search", "")
    )
    context = {"tenant": tenant, "form": form, "page": page, "query": query_without_page(request)}
    return render(request, page_or_fragment(request, f"{TEMPLATES}/sites.html"), context)


@require_GET
@staff_required
def site_permissions(request: PortalRequest, slug: str) -> HttpResponse:
    """The site permissions report of one site (?site=<url>) or of every site."""
    tenant = _tenant(request, slug)
    form = SiteForm(request.GET or {})
    site = form.cleaned_data.get("site", "") if form.is_valid() else ""
    context: dict[str, Any] = {"tenant": tenant, "site_form": form}
    if form.is_valid():
        context.update(_report_context(request, tenant, ReportKind.SITE_PERMISSIONS, site, site))
    return _render_report_page(request, f"{TEMPLATES}/site_permissions.html", context)


@require_GET
@staff_required
def user_access(request: PortalRequest, slug: str) -> HttpResponse:
    """ "What can this person reach?": the user access report of a UPN."""
    tenant = _tenant(request, slug)
    form = UserAccessForm(request.GET if "upn" in request.GET else None)
    context: dict[str, Any] = {"tenant": tenant, "upn_form": form}
    if form.is_bound and form.is_valid():
        upn = form.cleaned_data["upn"].lower()
        context.update(_report_context(request, tenant, ReportKind.USER_ACCESS, upn, upn))
    return _render_report_page(request, f"{TEMPLATES}/user_access.html", context)


@require_POST
@staff_required
def report_refresh(request: PortalRequest, slug: str) -> HttpResponseBase:
    """Start a report (or join the one running) and show its progress."""
    tenant = _tenant(request, slug)
    form = RefreshForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        if is_htmx_partial(request):
            return render(
                request,
                f"{TEMPLATES}/report.html#progress",
                {"tenant": tenant, "run": None, "refresh_error": errors},
                status=400,
            )
        messages.error(request, f"The report could not be refreshed: {errors}")
        return redirect("directory:groups", slug=tenant.slug)
    data = form.cleaned_data
    refresh = directory.report_refresh(
        tenant=tenant,
        kind=data["kind"],
        subject=data["subject"],
        subject_label=data["label"],
        user=request.user,
    )
    run = refresh.run
    run.refresh_from_db()
    if is_htmx_partial(request):
        response = render(
            request,
            f"{TEMPLATES}/report.html#progress",
            {"tenant": tenant, "run": run, "joined": refresh.joined, "announce": True},
        )
        if not run.is_running:
            trigger_client_event(response, DONE_EVENT)
        return response
    if refresh.joined:
        messages.info(request, "A refresh of this report is already running; you are following it.")
    return redirect(
        _report_page_url(tenant, run.kind, run.subject, run.subject_label or data["label"])
    )


@never_cache
@require_GET
@staff_required
def report_progress(request: PortalRequest, slug: str, pk: int) -> HttpResponse:
    """The progress fragment; htmx polls it while the run runs (286 stops it when done)."""
    tenant = _tenant(request, slug)
    run = directory.run_get_for_tenant(tenant=tenant, pk=pk)
    if not run.is_running and is_htmx_partial(request):
        response = render(
            request,
            f"{TEMPLATES}/report.html#progress",
            {"tenant": tenant, "run": run, "announce": True},
            status=286,
        )
        return trigger_client_event(response, DONE_EVENT)
    return render(request, f"{TEMPLATES}/report.html#progress", {"tenant": tenant, "run": run})


@never_cache
@require_GET
@staff_required
def report_export(request: PortalRequest, slug: str, pk: int) -> StreamingHttpResponse:
    """A stored snapshot (with the page's filters) as CSV, streamed."""
    tenant = _tenant(request, slug)
    run = directory.run_get_for_tenant(tenant=tenant, pk=pk)
    if run.state != ReportRun.State.SUCCEEDED:
        raise Http404("This report has no stored result.")
    form = RowFilterForm(request.GET or {}, report=run.kind)
    rows = directory.snapshot_rows(run, **form.filters())
    response = StreamingHttpResponse(
        directory.csv_lines(run, rows), content_type="text/csv; charset=utf-8"
    )
    stamp = run.finished_at.strftime("%Y%m%d-%H%M") if run.finished_at else "snapshot"
    response["Content-Disposition"] = (
        f'attachment; filename="{run.kind.replace("_", "-")}-{stamp}.csv"'
    )
    return response

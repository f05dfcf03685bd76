"""Directory pages for IT staff and admins: groups, sites, and the reports kept as snapshots.

Every page is under /directory/<tenant slug>/ and resolves the tenant for the user first (a
tenant the user does not serve is a 404). Lists come from the tenant's upstream, kept briefly
in the list cache (the page says how old; ?fresh=1 reads again); reports are read from the
latest stored snapshot while a refresh runs in the background (see docs/directory.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from directory import selectors, services
from directory.forms import (
    GroupFilterForm,
    RefreshForm,
    RowFilterForm,
    SiteFilterForm,
    SiteForm,
    UserAccessForm,
)
from directory.models import ReportKind, ReportRun
from tenants import selectors as tenant_selectors
from tenants.models import Tenant

DONE_EVENT = "directory-report-done"
TEMPLATES = "directory"
# ?fresh=1 on a live list: read it again from the upstream, past the list cache.
FRESH = "fresh"


def _tenant(request: PortalRequest, slug: str) -> Tenant:
    return tenant_selectors.tenant_get_for_user(user=request.user, slug=slug)


def _unsupported(request: PortalRequest, tenant: Tenant, what: str) -> HttpResponse:
    """The page of something the tenant's upstream cannot do (GT365 lists nothing; Graph makes
    no reports): said plainly, with what is there instead."""
    return render(request, f"{TEMPLATES}/unsupported.html", {"tenant": tenant, "what": what})


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
    snapshot = selectors.latest_snapshot(tenant=tenant, kind=kind, subject=subject)
    latest = selectors.latest_run(tenant=tenant, kind=kind, subject=subject)
    form = RowFilterForm(request.GET or {}, report=kind)
    page = None
    if snapshot is not None:
        rows = selectors.snapshot_rows(snapshot, **form.filters())
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
        "stale": selectors.is_stale(snapshot),
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


def _list_queries(request: PortalRequest) -> dict[str, str]:
    """The queries a live list's links need, never carrying ``fresh`` on: ``query`` (filters
    and sort, no page: the pager's), ``here_query`` (this page: the address a refresh leaves
    in the browser) and ``refresh_query`` (this page read again, past the list cache)."""
    here = request.GET.copy()
    here.pop(FRESH, None)
    query = here.copy()
    query.pop("page", None)
    refresh = here.copy()
    refresh[FRESH] = "1"
    return {
        "query": query.urlencode(),
        "here_query": here.urlencode(),
        "refresh_query": refresh.urlencode(),
    }


def _sort_headers(
    request: PortalRequest, sorts: Mapping[str, selectors.SortKey[Any]], sort: str
) -> dict[str, dict[str, str]]:
    """Per sortable column: the query of its header link (the page's filters kept, the page
    dropped), its current state for ``aria-sort`` ("" when not sorted by it), and the
    direction a click sorts in (the other one when already sorted by it)."""
    current = selectors.parse_sort(sort, sorts)
    base = request.GET.copy()
    for name in ("page", "sort", FRESH):
        base.pop(name, None)
    headers = {}
    for key, spec in sorts.items():
        if current is not None and current[0] == key:
            state = "descending" if current[1] else "ascending"
            descending = not current[1]
        else:
            state, descending = "", spec.descending_first
        query = base.copy()
        query["sort"] = f"-{key}" if descending else key
        headers[key] = {
            "query": query.urlencode(),
            "state": state,
            "next": "descending" if descending else "ascending",
        }
    return headers


@require_GET
@staff_required
def groups(request: PortalRequest, slug: str) -> HttpResponse:
    """Groups from the tenant's upstream: type filter, search, "ownerless only", sorting,
    paging. Sorting and the ownerless filter work on the portal's side (selectors.READ_MAX).
    The answer may come from the list cache; ?fresh=1 reads it again (selectors.groups_page)."""
    tenant = _tenant(request, slug)
    if not tenant.capabilities.directory:
        return _unsupported(request, tenant, "groups")
    form = GroupFilterForm(request.GET or {})
    data = form.cleaned_data if form.is_valid() else {}
    sort, ownerless = data.get("sort", ""), bool(data.get("ownerless"))
    page = selectors.groups_page(
        tenant=tenant,
        page=request.GET.get("page"),
        group_type=data.get("type", ""),
        search=data.get("search", ""),
        sort=sort,
        ownerless=ownerless,
        fresh=request.GET.get(FRESH) == "1",
    )
    rows = [
        {
            "group": g,
            "type_label": selectors.GROUP_TYPE_LABELS.get(g.group_type, g.group_type),
            "ownerless": selectors.is_ownerless(g),
        }
        for g in page.items
    ]
    context = {
        "tenant": tenant,
        "form": form,
        "page": page,
        "rows": rows,
        "sort": sort,
        "ownerless": ownerless,
        "sorts": _sort_headers(request, selectors.GROUP_SORTS, sort),
        **_list_queries(request),
    }
    return render(request, page_or_fragment(request, f"{TEMPLATES}/groups.html"), context)


@require_GET
@staff_required
def group(request: PortalRequest, slug: str, name: str) -> HttpResponse:
    """One group (GET /v1.0/groups/{name}) with its memberships snapshot."""
    tenant = _tenant(request, slug)
    if not tenant.capabilities.directory:
        return _unsupported(request, tenant, "groups")
    found, problem = selectors.group_get(tenant=tenant, name=name)
    context: dict[str, Any] = {"tenant": tenant, "group": found, "problem": problem, "name": name}
    if found is not None:
        context["type_label"] = selectors.GROUP_TYPE_LABELS.get(found.group_type, found.group_type)
        if ReportKind.GROUP_MEMBERSHIPS not in tenant.capabilities.report_kinds:
            return render(request, f"{TEMPLATES}/group.html", context)
        context.update(
            _report_context(request, tenant, ReportKind.GROUP_MEMBERSHIPS, found.id, found.name)
        )
        return _render_report_page(request, f"{TEMPLATES}/group.html", context)
    return render(request, f"{TEMPLATES}/group.html", context)


@require_GET
@staff_required
def sites(request: PortalRequest, slug: str) -> HttpResponse:
    """SharePoint sites from the tenant's upstream: search, sorting (on the portal's side),
    paging; from the list cache unless ?fresh=1, as groups are."""
    tenant = _tenant(request, slug)
    if not tenant.capabilities.directory:
        return _unsupported(request, tenant, "sites")
    form = SiteFilterForm(request.GET or {})
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort", "")
    page = selectors.sites_page(
        tenant=tenant,
        page=request.GET.get("page"),
        search=data.get("search", ""),
        sort=sort,
        fresh=request.GET.get(FRESH) == "1",
    )
    context = {
        "tenant": tenant,
        "form": form,
        "page": page,
        "sort": sort,
        "sorts": _sort_headers(request, selectors.SITE_SORTS, sort),
        **_list_queries(request),
    }
    return render(request, page_or_fragment(request, f"{TEMPLATES}/sites.html"), context)


@require_GET
@staff_required
def site_permissions(request: PortalRequest, slug: str) -> HttpResponse:
    """The site permissions report of one site (?site=<url>) or of every site."""
    tenant = _tenant(request, slug)
    if ReportKind.SITE_PERMISSIONS not in tenant.capabilities.report_kinds:
        return _unsupported(request, tenant, "site permissions")
    form = SiteForm(request.GET or {})
    site = form.cleaned_data.get("site", "") if form.is_valid() else ""
    group_name = form.cleaned_data.get("group", "").strip() if form.is_valid() and site else ""
    context: dict[str, Any] = {"tenant": tenant, "site_form": form, "group_name": group_name}
    if form.is_valid():
        context.update(_report_context(request, tenant, ReportKind.SITE_PERMISSIONS, site, site))
        if group_name:
            context["keep"] = {**context["keep"], "group": group_name}
    return _render_report_page(request, f"{TEMPLATES}/site_permissions.html", context)


@require_GET
@staff_required
def user_access(request: PortalRequest, slug: str) -> HttpResponse:
    """ "What can this person reach?": the user access report of a UPN."""
    tenant = _tenant(request, slug)
    if ReportKind.USER_ACCESS not in tenant.capabilities.report_kinds:
        return _unsupported(request, tenant, "access reports")
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
    if not tenant.capabilities.reports:
        raise Http404("reports")
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
    if data["kind"] not in tenant.capabilities.report_kinds:
        raise Http404("This upstream makes no such report.")
    refresh = services.report_refresh(
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
    if not tenant.capabilities.reports:
        raise Http404("reports")
    run = selectors.run_get_for_tenant(tenant=tenant, pk=pk)
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
    if not tenant.capabilities.reports:
        raise Http404("reports")
    run = selectors.run_get_for_tenant(tenant=tenant, pk=pk)
    if run.state != ReportRun.State.SUCCEEDED:
        raise Http404("This report has no stored result.")
    form = RowFilterForm(request.GET or {}, report=run.kind)
    rows = selectors.snapshot_rows(run, **form.filters())
    response = StreamingHttpResponse(
        selectors.csv_lines(run, rows), content_type="text/csv; charset=utf-8"
    )
    stamp = run.finished_at.strftime("%Y%m%d-%H%M") if run.finished_at else "snapshot"
    response["Content-Disposition"] = (
        f'attachment; filename="{run.kind.replace("_", "-")}-{stamp}.csv"'
    )
    return response

"""Reads of the directory browser: live lists of groups and sites from the tenant's upstream,
and the stored report snapshots, filtered for a page or a CSV export."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core import csv_export
from core.csv_export import cell as csv_cell
from directory.models import ReportKind, ReportRow, ReportRun
from tenants import upstream
from tenants.models import Tenant
from upstreams.contract import Group, NotFound, Page, Site, UpstreamError

logger = logging.getLogger(__name__)

# Group types people can filter on, and what they are called. The values are the ones the
# upstream contract passes through (Point's groupType words, docs/point-contract.md §5.1).
GROUP_TYPES = [
    ("DistributionList", "Distribution list"),
    ("UnifiedGroup", "Microsoft 365 group"),
    ("SecurityGroup", "Security group"),
    ("MailEnabledSecurityGroup", "Mail-enabled security group"),
]
GROUP_TYPE_LABELS = dict(GROUP_TYPES)

# Filter values of the snapshot rows' `kind` column, per report.
ROW_KINDS: dict[str, list[tuple[str, str]]] = {
    ReportKind.GROUP_MEMBERSHIPS: [("user", "User"), ("guest", "Guest"), ("group", "Group")],
    ReportKind.SITE_PERMISSIONS: [("user", "User"), ("guest", "Guest"), ("group", "Group")],
    ReportKind.USER_ACCESS: [
        ("site", "Site"),
        ("team", "Team"),
        ("group", "Microsoft 365 group"),
        ("onedrive", "OneDrive"),
    ],
}
ROLES = [("owner", "Owner"), ("member", "Member")]

# CSV columns per report: header and the field of the stored (neutral) row, contract.ReportRow.
CSV_COLUMNS: dict[str, list[tuple[str, str]]] = {
    ReportKind.GROUP_MEMBERSHIPS: [
        ("Group", "group_name"),
        ("Group ID", "group_id"),
        ("Member", "name"),
        ("E-mail or UPN", "upn"),
        ("Member kind", "kind_text"),
        ("Role", "role"),
    ],
    ReportKind.SITE_PERMISSIONS: [
        ("Site URL", "site_url"),
        ("Principal", "name"),
        ("Principal type", "kind_text"),
        ("Permission level", "permission"),
        ("Scope", "scope"),
        ("Scope URL", "scope_url"),
        ("Access via", "access_via"),
    ],
    ReportKind.USER_ACCESS: [
        ("Workspace", "name"),
        ("URL", "site_url"),
        ("Workspace type", "kind_text"),
        ("Permission", "permission"),
        ("Access via", "access_via"),
    ],
}

EXPORT_CHUNK = 2000  # rows per database fetch while streaming a CSV


# --- Live inventory ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListPage[T]:
    """One page of a live list, or the upstream problem that stopped it."""

    items: list[T]
    number: int
    size: int
    total: int | None = None
    has_next: bool = False
    error: str = ""

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.size))


def _page_number(value: object) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 100_000)


def _live_page[T](fetch: Callable[[int, int], Page[T]], page: object) -> ListPage[T]:
    number = _page_number(page)
    size = settings.DIRECTORY_PAGE_SIZE
    try:
        found = fetch(size, (number - 1) * size)
    except UpstreamError as error:
        logger.info("Directory list failed: %s", type(error).__name__)
        return ListPage([], number, size, error=error.text)
    return ListPage(found.items, number, size, found.total, found.has_more)


def groups_page(
    *, tenant: Tenant, page: object = 1, group_type: str = "", search: str = ""
) -> ListPage[Group]:
    """One page of the tenant's groups (the upstream pages; we ask for one page)."""
    provider = upstream.provider_for(tenant)
    return _live_page(
        lambda top, skip: provider.groups_page(
            top=top, skip=skip, group_type=group_type, search=search
        ),
        page,
    )


def sites_page(*, tenant: Tenant, page: object = 1, search: str = "") -> ListPage[Site]:
    """One page of the tenant's SharePoint sites."""
    provider = upstream.provider_for(tenant)
    return _live_page(
        lambda top, skip: provider.sites_page(top=top, skip=skip, search=search), page
    )


def group_get(*, tenant: Tenant, name: str) -> tuple[Group | None, str]:
    """A group by name: (group, "") or (None, the problem); 404 if the upstream has none."""
    try:
        return upstream.provider_for(tenant).get_group(name), ""
    except NotFound:
        raise Http404("No such group.") from None
    except UpstreamError as error:
        return None, error.text


# --- Report snapshots ----------------------------------------------------------------------------


def run_get_for_tenant(*, tenant: Tenant, pk: int) -> ReportRun:
    """A run of this tenant (the caller resolved the tenant for the user), else 404."""
    run = ReportRun.objects.filter(tenant=tenant, pk=pk).first()
    if run is None:
        raise Http404("No such report.")
    return run


def runs_of(tenant: Tenant, kind: str, subject: str) -> QuerySet[ReportRun]:
    """Every run of one report (a tenant, a kind, a subject), in any state."""
    return ReportRun.objects.filter(tenant=tenant, kind=kind, subject=subject)


def latest_snapshot(*, tenant: Tenant, kind: str, subject: str) -> ReportRun | None:
    """The newest succeeded run: the snapshot pages show."""
    return (
        runs_of(tenant, kind, subject)
        .filter(state=ReportRun.State.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def latest_run(*, tenant: Tenant, kind: str, subject: str) -> ReportRun | None:
    """The newest run in any state (running, or a failure newer than the snapshot)."""
    return runs_of(tenant, kind, subject).order_by("-started_at", "-id").first()


def is_stale(run: ReportRun | None) -> bool:
    """A snapshot older than DIRECTORY_SNAPSHOT_MAX_AGE seconds."""
    if run is None or run.finished_at is None:
        return False
    return timezone.now() - run.finished_at > timedelta(seconds=settings.DIRECTORY_SNAPSHOT_MAX_AGE)


def snapshot_rows(
    run: ReportRun, *, search: str = "", kind: str = "", role: str = ""
) -> QuerySet[ReportRow]:
    """The rows of a snapshot matching the filters, in the upstream's order."""
    rows = ReportRow.objects.filter(run=run)
    if kind:
        rows = rows.filter(kind=kind)
    if role:
        rows = rows.filter(role=role)
    if search:
        rows = rows.filter(
            Q(name__icontains=search)
            | Q(upn__icontains=search)
            | Q(group_name__icontains=search)
            | Q(site_url__icontains=search)
            | Q(permission__icontains=search)
        )
    return rows.order_by("position")


def _shown(key: str, value: object) -> object:
    """A stored value as people read it: roles are stored lower-case ("owner")."""
    return value.capitalize() if key == "role" and isinstance(value, str) else value


def csv_lines(run: ReportRun, rows: QuerySet[ReportRow]) -> Iterator[str]:
    """The snapshot as CSV lines, header first; reads the database in chunks (constant memory)."""
    columns = CSV_COLUMNS[run.kind]

    def cells() -> Iterator[list[str]]:
        yield [header for header, _ in columns]
        for data in rows.values_list("data", flat=True).iterator(chunk_size=EXPORT_CHUNK):
            row = data if isinstance(data, dict) else {}
            yield [csv_cell(_shown(key, row.get(key))) for _, key in columns]

    return csv_export.csv_lines(cells())

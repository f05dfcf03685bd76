"""Reads of the directory browser: live lists of groups and sites from the tenant's upstream,
and the stored report snapshots, filtered for a page or a CSV export."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core import csv_export
from core.caching import kept, seconds_since
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

# Sorting and the "ownerless only" filter happen on the portal's side, over what was read: a
# sorted or filtered list is read from its start, READ_PAGE items a call, up to READ_MAX items
# (the upstream layer's own bound on a list it reads through, upstreams/point/provider.py
# MAX_SCAN_ITEMS), then sorted, filtered and paged here. A list longer than that is sorted over
# its first READ_MAX items, and the page says so (ListPage.partial). Without a sort or that
# filter, a page is one page asked of the upstream, in the upstream's order.
READ_MAX = 5000
READ_PAGE = 1000


@dataclass(frozen=True)
class ListPage[T]:
    """One page of a live list, or the upstream problem that stopped it.

    ``local``: the page was cut here from a bounded read of the list (sorted or filtered on
    the portal's side); ``read``: how many items that read held; ``partial``: the read stopped
    at READ_MAX with more left, so sorting and filtering covered only the first ``read`` items;
    ``unknown``: items the filter could not judge (the upstream gave no value) and left out;
    ``read_at``: when the upstream answered what the page shows (None with an error);
    ``cached``: that answer came from the list cache (DIRECTORY_CACHE_SECONDS)."""

    items: list[T]
    number: int
    size: int
    total: int | None = None
    has_next: bool = False
    error: str = ""
    local: bool = False
    read: int = 0
    partial: bool = False
    unknown: int = 0
    read_at: datetime | None = None
    cached: bool = False

    @property
    def age(self) -> int | None:
        """Whole seconds since the upstream answered what the page shows."""
        return None if self.read_at is None else seconds_since(self.read_at)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        return None if self.total is None else max(1, math.ceil(self.total / self.size))


@dataclass(frozen=True)
class SortKey[T]:
    """A sortable column: its value per item (None: not given, always sorted last) and the
    direction of a first click (names A to Z; counts, sizes and dates biggest or newest first)."""

    value: Callable[[T], Any]
    descending_first: bool = False


def _name_key(text: str) -> str | None:
    return text.casefold() or None


GROUP_SORTS: dict[str, SortKey[Group]] = {
    "name": SortKey(lambda g: _name_key(g.name)),
    "owners": SortKey(lambda g: g.owners_count, descending_first=True),
    "members": SortKey(lambda g: g.members_count, descending_first=True),
    "guests": SortKey(lambda g: g.guests_count, descending_first=True),
}
SITE_SORTS: dict[str, SortKey[Site]] = {
    "name": SortKey(lambda s: _name_key(s.title or s.url)),
    "storage": SortKey(lambda s: s.storage_used_bytes, descending_first=True),
    "activity": SortKey(lambda s: s.last_activity_on, descending_first=True),
}


def parse_sort(value: object, sorts: Mapping[str, object]) -> tuple[str, bool] | None:
    """``"members"`` -> ("members", False), ``"-members"`` -> ("members", True); an unknown
    column is None (the upstream's order)."""
    text = str(value or "").strip()
    descending = text.startswith("-")
    key = text.removeprefix("-")
    return (key, descending) if key in sorts else None


def sort_items[T](items: list[T], key: SortKey[T], *, descending: bool) -> list[T]:
    """Items sorted by ``key``; items without a value keep their order, after the others, in
    either direction (an unknown count is not a small one)."""
    known = [item for item in items if key.value(item) is not None]
    unknown = [item for item in items if key.value(item) is None]
    known.sort(key=key.value, reverse=descending)
    return known + unknown


def is_ownerless(group: Group) -> bool:
    """No owner, as the upstream counts them; a group whose owners are not counted is not."""
    return group.owners_count == 0


# --- The list cache ----------------------------------------------------------------------------

# A list's upstream answer (one page, or a bounded read) is kept in Django's cache for
# DIRECTORY_CACHE_SECONDS: in each process by default, in Redis when REDIS_URL is set (then
# shared by every web process and node). The answer is the tenant's, never a user's: the views
# check the user's role and tenant before they ask a selector, which alone reads the cache. The
# key names the tenant, its upstream (kind, URL, Point app), the moment the tenant was last
# edited (so a re-pointed or re-configured tenant never sees its old upstream's list), the list
# and everything that changes the upstream's answer; sorting, the ownerless filter and paging
# of a bounded read happen after, over the cached read. Nothing is stored when the upstream
# fails. Bump LIST_CACHE_VERSION when what is stored changes shape.
LIST_CACHE_VERSION = 1

type ReadKey = Callable[[Mapping[str, object]], str]


def list_cache_key(tenant: Tenant, list_name: str, read: Mapping[str, object]) -> str:
    """The cache key of one read of one of the tenant's lists (hashed: searches are free text)."""
    parts = {
        "version": LIST_CACHE_VERSION,
        "tenant": tenant.pk,
        "upstream": tenant.provider,
        "url": tenant.api_url,
        "app": str(tenant.point_app_id or ""),
        "edited": tenant.updated_at.isoformat() if tenant.updated_at else "",
        "list": list_name,
        "read": dict(read),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return f"directory-list:{tenant.pk}:{digest}"


def _cached[V](key: str, read: Callable[[], V], *, fresh: bool) -> tuple[V, datetime, bool]:
    """A list answer kept for DIRECTORY_CACHE_SECONDS (core.caching.kept)."""
    return kept(key, read, seconds=settings.DIRECTORY_CACHE_SECONDS, fresh=fresh)


def _page_number(value: object) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 100_000)


def _live_page[T](
    fetch: Callable[[int, int], Page[T]], page: object, *, key: ReadKey, fresh: bool
) -> ListPage[T]:
    number = _page_number(page)
    size = settings.DIRECTORY_PAGE_SIZE
    skip = (number - 1) * size
    try:
        found, read_at, hit = _cached(
            key({"top": size, "skip": skip}), lambda: fetch(size, skip), fresh=fresh
        )
    except UpstreamError as error:
        logger.info("Directory list failed: %s", type(error).__name__)
        return ListPage([], number, size, error=error.text)
    return ListPage(
        found.items, number, size, found.total, found.has_more, read_at=read_at, cached=hit
    )


def read_bounded[T](fetch: Callable[[int, int], Page[T]]) -> tuple[list[T], bool]:
    """The list from its start, READ_PAGE items a call, up to READ_MAX items; and whether more
    were left. The upstream's own paging rules apply to each call (UpstreamError passes)."""
    items: list[T] = []
    while len(items) < READ_MAX:
        top = min(READ_PAGE, READ_MAX - len(items))
        found = fetch(top, len(items))
        items.extend(found.items[:top])
        if not found.items or not found.has_more:
            return items, False
        if found.total is not None and len(items) >= found.total:
            return items, False
    return items, True


def _local_page[T](
    fetch: Callable[[int, int], Page[T]],
    page: object,
    *,
    sort: tuple[str, bool] | None,
    sorts: dict[str, SortKey[T]],
    keep: Callable[[T], bool | None] | None = None,
    key: ReadKey,
    fresh: bool,
) -> ListPage[T]:
    """A page cut here from a bounded read: filtered by ``keep`` (None: cannot tell, left out
    and counted), sorted by ``sort``. The bounded read is what is cached, so every sort, the
    ownerless filter and every page of it come from one read of the upstream."""
    number = _page_number(page)
    size = settings.DIRECTORY_PAGE_SIZE
    try:
        (items, partial), read_at, hit = _cached(
            key({"read_page": READ_PAGE, "read_max": READ_MAX}),
            lambda: read_bounded(fetch),
            fresh=fresh,
        )
    except UpstreamError as error:
        logger.info("Directory list failed: %s", type(error).__name__)
        return ListPage([], number, size, error=error.text, local=True)
    read, unknown = len(items), 0
    if keep is not None:
        verdicts = [(item, keep(item)) for item in items]
        unknown = sum(1 for _, verdict in verdicts if verdict is None)
        items = [item for item, verdict in verdicts if verdict]
    if sort is not None:
        column, descending = sort
        items = sort_items(items, sorts[column], descending=descending)
    start = (number - 1) * size
    return ListPage(
        items[start : start + size],
        number,
        size,
        total=len(items),
        has_next=len(items) > start + size,
        local=True,
        read=read,
        partial=partial,
        unknown=unknown,
        read_at=read_at,
        cached=hit,
    )


def groups_page(
    *,
    tenant: Tenant,
    page: object = 1,
    group_type: str = "",
    search: str = "",
    sort: str = "",
    ownerless: bool = False,
    fresh: bool = False,
) -> ListPage[Group]:
    """One page of the tenant's groups. Unsorted and unfiltered: one page asked of the
    upstream. Sorted, or ownerless only: cut here from a bounded read (READ_MAX). Either read
    comes from the list cache when it holds it, unless ``fresh`` (read again and kept).
    The caller has checked that the user may see this tenant's directory."""
    provider = upstream.provider_for(tenant)

    def fetch(top: int, skip: int) -> Page[Group]:
        return provider.groups_page(top=top, skip=skip, group_type=group_type, search=search)

    def key(read: Mapping[str, object]) -> str:
        return list_cache_key(tenant, "groups", {"type": group_type, "search": search, **read})

    order = parse_sort(sort, GROUP_SORTS)
    if order is None and not ownerless:
        return _live_page(fetch, page, key=key, fresh=fresh)

    def keep(group: Group) -> bool | None:
        return None if group.owners_count is None else is_ownerless(group)

    return _local_page(
        fetch,
        page,
        sort=order,
        sorts=GROUP_SORTS,
        keep=keep if ownerless else None,
        key=key,
        fresh=fresh,
    )


def sites_page(
    *, tenant: Tenant, page: object = 1, search: str = "", sort: str = "", fresh: bool = False
) -> ListPage[Site]:
    """One page of the tenant's SharePoint sites; sorted ones are cut here from a bounded read.
    Cached as groups_page is."""
    provider = upstream.provider_for(tenant)

    def fetch(top: int, skip: int) -> Page[Site]:
        return provider.sites_page(top=top, skip=skip, search=search)

    def key(read: Mapping[str, object]) -> str:
        return list_cache_key(tenant, "sites", {"search": search, **read})

    order = parse_sort(sort, SITE_SORTS)
    if order is None:
        return _live_page(fetch, page, key=key, fresh=fresh)
    return _local_page(fetch, page, sort=order, sorts=SITE_SORTS, key=key, fresh=fresh)


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

"""The directory browser: live inventory reads, and Point's async reports kept as snapshots.

Reads (selectors): one page of groups or sites straight from Point, a group by name, the latest
snapshot of a report and its rows filtered for a page or a CSV export.

Writes (services): ``report_refresh`` saves a running ReportRun (or joins the one already
running for the same tenant, kind and subject: a conditional unique constraint lets only one
run, so concurrent refreshes share one upstream job) and enqueues ``run_report`` on commit.
The task claims the run, starts Point's job (``report_start``), polls it (``report_poll``)
and stores the result rows in batches (``_store``). A failed job or call keeps Point's words
in ``error``. Reference: syskit-point-api.md sections 4, 5 and 7; docs/directory.md.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django_q.tasks import async_task

from core import csv_export
from core.csv_export import cell as csv_cell
from directory.models import ReportKind, ReportRow, ReportRun
from portal.models import User
from provisioning import point
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Point's groupType values and what people call them (syskit-point-api.md 5.2).
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

# CSV columns per report: header and the key in Point's row.
CSV_COLUMNS: dict[str, list[tuple[str, str]]] = {
    ReportKind.GROUP_MEMBERSHIPS: [
        ("Group", "groupName"),
        ("Group ID", "groupId"),
        ("Member", "displayName"),
        ("E-mail or UPN", "email"),
        ("Member kind", "memberType"),
        ("Role", "role"),
    ],
    ReportKind.SITE_PERMISSIONS: [
        ("Site URL", "siteUrl"),
        ("Principal", "principalName"),
        ("Principal type", "principalType"),
        ("Permission level", "permissionLevel"),
        ("Scope", "scope"),
        ("Scope URL", "scopeUrl"),
        ("Access via", "accessVia"),
    ],
    ReportKind.USER_ACCESS: [
        ("Workspace", "workspaceName"),
        ("URL", "url"),
        ("Workspace type", "workspaceType"),
        ("Permission", "permission"),
        ("Access via", "accessVia"),
    ],
}

STORE_BATCH = 1000  # rows per INSERT
RESULT_PAGE_SIZE = 1000  # rows per page asked of Point's result endpoint
EXPORT_CHUNK = 2000  # rows per database fetch while streaming a CSV

# Tests patch this to avoid real waits.
_sleep = time.sleep


# --- Live inventory (selectors) ------------------------------------------------------------------


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


def _live_page[T](fetch: Callable[[int, int], point.Page[T]], page: object) -> ListPage[T]:
    number = _page_number(page)
    size = settings.DIRECTORY_PAGE_SIZE
    try:
        found = fetch(size, (number - 1) * size)
    except point.PointError as error:
        logger.info("Directory list failed: %s", type(error).__name__)
        return ListPage([], number, size, error=point.problem_text(error))
    return ListPage(found.items, number, size, found.total, found.has_more)


def groups_page(
    *, tenant: Tenant, page: object = 1, group_type: str = "", search: str = ""
) -> ListPage[point.Group]:
    """One page of the tenant's groups from GET /v1.0/groups (Point pages; we ask one page)."""
    return _live_page(
        lambda top, skip: point.list_groups_page(
            tenant, top=top, skip=skip, group_type=group_type or None, search=search or None
        ),
        page,
    )


def sites_page(*, tenant: Tenant, page: object = 1, search: str = "") -> ListPage[point.Site]:
    """One page of the tenant's SharePoint sites from GET /v1.0/sites."""
    return _live_page(
        lambda top, skip: point.list_sites_page(tenant, top=top, skip=skip, search=search or None),
        page,
    )


def group_get(*, tenant: Tenant, name: str) -> tuple[point.Group | None, str]:
    """A group by name from GET /v1.0/groups/{name}: (group, "") or (None, the problem); 404 if unknown."""
    try:
        return point.get_group(tenant, name), ""
    except point.NotFound:
        raise Http404("No such group.") from None
    except point.PointError as error:
        return None, point.problem_text(error)


# --- Report snapshots (selectors) ----------------------------------------------------------------


def run_get_for_tenant(*, tenant: Tenant, pk: int) -> ReportRun:
    """A run of this tenant (the caller resolved the tenant for the user), else 404."""
    run = ReportRun.objects.filter(tenant=tenant, pk=pk).first()
    if run is None:
        raise Http404("No such report.")
    return run


def _runs(tenant: Tenant, kind: str, subject: str) -> QuerySet[ReportRun]:
    return ReportRun.objects.filter(tenant=tenant, kind=kind, subject=subject)


def latest_snapshot(*, tenant: Tenant, kind: str, subject: str) -> ReportRun | None:
    """The newest succeeded run: the snapshot pages show."""
    return (
        _runs(tenant, kind, subject)
        .filter(state=ReportRun.State.SUCCEEDED)
        .order_by("-finished_at", "-id")
        .first()
    )


def latest_run(*, tenant: Tenant, kind: str, subject: str) -> ReportRun | None:
    """The newest run in any state (running, or a failure newer than the snapshot)."""
    return _runs(tenant, kind, subject).order_by("-started_at", "-id").first()


def is_stale(run: ReportRun | None) -> bool:
    """A snapshot older than DIRECTORY_SNAPSHOT_MAX_AGE seconds."""
    if run is None or run.finished_at is None:
        return False
    return timezone.now() - run.finished_at > timedelta(seconds=settings.DIRECTORY_SNAPSHOT_MAX_AGE)


def snapshot_rows(
    run: ReportRun, *, search: str = "", kind: str = "", role: str = ""
) -> QuerySet[ReportRow]:
    """The rows of a snapshot matching the filters, in Point's order."""
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


def csv_lines(run: ReportRun, rows: QuerySet[ReportRow]) -> Iterator[str]:
    """The snapshot as CSV lines, header first; reads the database in chunks (constant memory)."""
    columns = CSV_COLUMNS[run.kind]

    def cells() -> Iterator[list[str]]:
        yield [header for header, _ in columns]
        for data in rows.values_list("data", flat=True).iterator(chunk_size=EXPORT_CHUNK):
            row = data if isinstance(data, dict) else {}
            yield [csv_cell(row.get(key)) for _, key in columns]

    return csv_export.csv_lines(cells())


# --- Report runs (services) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Refresh:
    run: ReportRun
    joined: bool  # True: a run was already going; no second upstream job was started


def _timed_out() -> str:
    return f"The report did not finish within {settings.DIRECTORY_REPORT_TIMEOUT // 60} minutes; gave up."


def _worker_gone() -> str:
    return (
        "The report stopped making progress: the background worker running it stopped. "
        "Refresh to start it again."
    )


def worker_silence_limit() -> int:
    """Seconds without a sign of life after which a claimed run's worker is presumed dead.

    A live run shows one at least every poll (``last_polled_at``, set on every status check,
    failed ones included, and per stored batch); a task runs at most Q_TIMEOUT seconds and a
    task whose worker died is delivered again after Q_RETRY. Past both, nothing will carry on.
    """
    return max(settings.Q_CLUSTER_TIMEOUT, settings.Q_CLUSTER_RETRY) + 60


def _give_up(runs: QuerySet[ReportRun], message: str) -> None:
    ids = list(runs.values_list("pk", flat=True))
    if not ids:
        return
    ReportRun.objects.filter(pk__in=ids, state=ReportRun.State.RUNNING).update(
        state=ReportRun.State.FAILED, finished_at=timezone.now(), error=message
    )
    ReportRow.objects.filter(run_id__in=ids).delete()  # half-stored rows of a dead store


def _give_up_stuck(tenant: Tenant, kind: str, subject: str) -> None:
    """Runs that will never finish stop blocking a refresh: one past DIRECTORY_REPORT_TIMEOUT
    (Point never finished), or one claimed by a worker that has shown no sign of life for
    longer than a task may run (it died or was killed): a refresh then starts a new run
    instead of joining a dead one for an hour."""
    now = timezone.now()
    running = _runs(tenant, kind, subject).filter(state=ReportRun.State.RUNNING)
    limit = now - timedelta(seconds=settings.DIRECTORY_REPORT_TIMEOUT)
    _give_up(running.filter(started_at__lt=limit), _timed_out())
    silent = now - timedelta(seconds=worker_silence_limit())
    dead = running.filter(start_claimed_at__lt=silent).filter(
        Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=silent),
        Q(fetch_claimed_at__isnull=True) | Q(fetch_claimed_at__lt=silent),
    )
    _give_up(dead, _worker_gone())


def report_refresh(
    *,
    tenant: Tenant,
    kind: str,
    subject: str = "",
    subject_label: str = "",
    user: User | None = None,
) -> Refresh:
    """Start the report, or join the run already going for the same tenant, kind and subject."""
    if kind not in ReportKind.values:
        raise ValueError(f"Unknown report kind {kind!r}.")
    _give_up_stuck(tenant, kind, subject)
    for _ in range(3):
        try:
            with transaction.atomic():
                run = ReportRun.objects.create(
                    tenant=tenant,
                    kind=kind,
                    subject=subject,
                    subject_label=subject_label,
                    requested_by=user,
                )
        except IntegrityError:
            # The database allows one running run per subject: join it.
            running = _runs(tenant, kind, subject).filter(state=ReportRun.State.RUNNING).first()
            if running is not None:
                return Refresh(running, joined=True)
            continue  # it finished in between: try to create ours again
        transaction.on_commit(functools.partial(_enqueue_run, run.pk))
        return Refresh(run, joined=False)
    raise RuntimeError("Could not start or join the report; try again.")


def _enqueue_run(run_id: int) -> None:
    async_task("directory.tasks.run_report", run_id, task_name="directory report")


def _fail(run: ReportRun, message: str) -> None:
    ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING).update(
        state=ReportRun.State.FAILED, error=message[:4000], finished_at=timezone.now()
    )
    ReportRow.objects.filter(run=run).delete()
    run.refresh_from_db()


def _fail_unexpected(run_id: int, error: Exception) -> ReportRun | None:
    """End a run that an error nobody planned for interrupted, so it never stays "running".

    The page shows the error's type, never its message (it could hold anything a library put
    there); the traceback goes to the server log.
    """
    logger.exception("Report %s stopped by an unexpected error", run_id)
    run = ReportRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is not None:
        _fail(
            run,
            f"The report stopped because of an unexpected error ({type(error).__name__}). "
            "Refresh to try again; if it happens again, the server log has the details.",
        )
    return run


def _heartbeat(run: ReportRun) -> None:
    """The worker is alive and on this run (see worker_silence_limit)."""
    ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING).update(
        last_polled_at=timezone.now()
    )


def _start_upstream(run: ReportRun) -> point.AsyncJob:
    tenant = run.tenant
    if run.kind == ReportKind.GROUP_MEMBERSHIPS:
        return point.start_group_memberships(tenant, [run.subject] if run.subject else None)
    if run.kind == ReportKind.SITE_PERMISSIONS:
        return point.start_site_permissions(tenant, [run.subject] if run.subject else None)
    return point.start_user_access(tenant, run.subject)


def report_start(*, run_id: int) -> ReportRun | None:
    """Start Point's job for a running run, once (a second delivery finds it claimed).

    Never raises for a failure of the run itself: an upstream error (an Entra outage
    included: the token error arrives as a point.AuthenticationError) or any unexpected one
    ends the run failed with a message the page shows.
    """
    try:
        return _report_start(run_id)
    except Exception as error:
        return _fail_unexpected(run_id, error)


def _report_start(run_id: int) -> ReportRun | None:
    claimed = ReportRun.objects.filter(
        pk=run_id, state=ReportRun.State.RUNNING, start_claimed_at__isnull=True
    ).update(start_claimed_at=timezone.now())
    run = ReportRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None or not claimed:
        return run
    try:
        job = _start_upstream(run)
    except point.PointError as error:
        logger.info("Report %s could not start: %s", run.pk, type(error).__name__)
        _fail(run, point.problem_text(error))
        return run
    run.upstream_job_id = job.id
    run.processed, run.total = job.processed, job.total
    run.save(update_fields=["upstream_job_id", "processed", "total"])
    return run


def report_poll(*, run_id: int, budget: float | None = None) -> ReportRun | None:
    """Ask Point about the job until it is done (then store it), fails, or ``budget`` seconds pass
    (then a new poll task carries on, so no task outlives the worker's timeout).

    Like report_start, an unexpected error ends the run failed instead of leaving it running.
    """
    try:
        return _report_poll(run_id, budget)
    except Exception as error:
        return _fail_unexpected(run_id, error)


def _report_poll(run_id: int, budget: float | None) -> ReportRun | None:
    budget = float(max(5, settings.Q_CLUSTER_TIMEOUT // 2)) if budget is None else budget
    started = time.monotonic()
    interval = settings.DIRECTORY_POLL_INTERVAL_MS / 1000
    while True:
        run = ReportRun.objects.select_related("tenant").filter(pk=run_id).first()
        if run is None or not run.is_running or not run.upstream_job_id:
            return run
        if timezone.now() - run.started_at > timedelta(seconds=settings.DIRECTORY_REPORT_TIMEOUT):
            _fail(run, _timed_out())
            return run
        try:
            job = point.get_job(run.tenant, run.upstream_job_id)
        except point.PointError as error:
            if not error.retryable:
                _fail(run, point.problem_text(error))
                return run
            logger.info(
                "Report %s: status check failed (%s); trying again", run.pk, type(error).__name__
            )
            _heartbeat(run)  # a failed check is still a live worker: not a dead run
        else:
            if job.result_ready or job.status == "Succeeded":
                return _store(run)
            if job.status == "Failed":
                _fail(run, f"Point could not produce the report: {job.error or 'no reason given'}")
                return run
            ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING).update(
                processed=job.processed, total=job.total, last_polled_at=timezone.now()
            )
        if time.monotonic() - started + interval > budget:
            async_task(
                "directory.tasks.poll_report",
                run.pk,
                task_name="directory report poll",
            )
            return run
        _sleep(interval)


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


_PRINCIPAL_KINDS = {
    "user": "user",
    "guest": "guest",
    "sharepointgroup": "group",
    "securitygroup": "group",
    "group": "group",
}
_WORKSPACE_KINDS = {
    "site": "site",
    "microsoftteam": "team",
    "microsoftteams": "team",
    "m365group": "group",
    "onedrive": "onedrive",
}


def _row(run: ReportRun, position: int, data: dict[str, Any]) -> ReportRow:
    """Point's row as a ReportRow: the columns we filter on, plus the row itself."""
    row = ReportRow(run=run, position=position, data=data)
    if run.kind == ReportKind.GROUP_MEMBERSHIPS:
        row.group_id = _text(data.get("groupId"), 100)
        row.group_name = _text(data.get("groupName"), 500)
        row.name = _text(data.get("displayName"), 500)
        row.upn = _text(data.get("email"), 500)
        row.kind = _text(data.get("memberType"), 30).lower()
        row.role = _text(data.get("role"), 100).lower()
    elif run.kind == ReportKind.SITE_PERMISSIONS:
        row.site_url = _text(data.get("siteUrl"), 1000)
        row.name = _text(data.get("principalName"), 500)
        principal_type = _text(data.get("principalType"), 30).lower()
        row.kind = _PRINCIPAL_KINDS.get(principal_type, principal_type)
        row.role = _text(data.get("accessVia"), 100)
        row.permission = _text(data.get("permissionLevel"), 200)
    else:
        row.name = _text(data.get("workspaceName"), 500)
        row.site_url = _text(data.get("url"), 1000)
        workspace_type = _text(data.get("workspaceType"), 30).lower()
        row.kind = _WORKSPACE_KINDS.get(workspace_type, workspace_type)
        row.role = _text(data.get("accessVia"), 100)
        row.permission = _text(data.get("permission"), 200)
    return row


def _store(run: ReportRun) -> ReportRun:
    """Read every page of the finished job and store it in batches; then it is the snapshot."""
    claimed = ReportRun.objects.filter(
        pk=run.pk, state=ReportRun.State.RUNNING, fetch_claimed_at__isnull=True
    ).update(fetch_claimed_at=timezone.now())
    if not claimed:
        run.refresh_from_db()
        return run
    count = 0
    label = run.subject_label
    batch: list[ReportRow] = []
    try:
        for data in point.iter_job_result(
            run.tenant, run.upstream_job_id, page_size=RESULT_PAGE_SIZE
        ):
            if count == 0 and run.kind == ReportKind.GROUP_MEMBERSHIPS and run.subject:
                label = _text(data.get("groupName"), 500) or label
            batch.append(_row(run, count, data))
            count += 1
            if len(batch) >= STORE_BATCH:
                ReportRow.objects.bulk_create(batch)
                batch = []
                _heartbeat(run)
        if batch:
            ReportRow.objects.bulk_create(batch)
    except point.PointError as error:
        _fail(run, f"The report finished but could not be read: {point.problem_text(error)}")
        return run
    now = timezone.now()
    with transaction.atomic():
        stored = ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING).update(
            state=ReportRun.State.SUCCEEDED,
            finished_at=now,
            row_count=count,
            subject_label=label,
            processed=run.total if run.total is not None else count,
            last_polled_at=now,
        )
        if not stored:
            # Given up meanwhile (timed out, presumed dead): a newer run has taken its place.
            ReportRow.objects.filter(run=run).delete()
            run.refresh_from_db()
            return run
        # Older snapshots of the same report are superseded: keep their runs, drop their rows.
        older = (
            _runs(run.tenant, run.kind, run.subject)
            .filter(state=ReportRun.State.SUCCEEDED)
            .exclude(pk=run.pk)
        )
        ReportRow.objects.filter(run__in=older).delete()
    run.refresh_from_db()
    return run


def report_run(*, run_id: int) -> ReportRun | None:
    """Start the run's job and follow it to the end (the task behind a refresh); never leaves
    the run running because of an error (see report_start and report_poll)."""
    run = report_start(run_id=run_id)
    if run is None or not run.is_running:
        return run
    return report_poll(run_id=run_id)

"""Writes of the directory browser: report runs, kept as snapshots.

``report_refresh`` saves a running ReportRun (or joins the one already running for the same
tenant, kind and subject: a conditional unique constraint lets only one run, so concurrent
refreshes share one upstream job) and enqueues ``run_report`` on commit. The task claims the
run, starts the upstream's job (``report_start``), polls it (``report_poll``) and stores the
result rows in batches (``_store``). A failed job or call keeps the upstream's words in
``error``. See docs/directory.md.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from directory.models import ReportKind, ReportRow, ReportRun
from directory.selectors import runs_of
from tenants import people, upstream
from tenants import services as tenant_services
from tenants.models import Tenant
from upstreams import contract
from upstreams.contract import JobState, UpstreamError

if TYPE_CHECKING:
    from portal.models import User

logger = logging.getLogger(__name__)

STORE_BATCH = 1000  # rows per INSERT
# django-q2 stops a task at Q_TIMEOUT (its guard a few seconds later): a start or fetch claimed
# longer ago than Q_TIMEOUT + this, and not finished, belongs to a task that was killed.
CLAIM_SLACK = 30

# Tests patch this to avoid real waits.
_sleep = time.sleep


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


def _cut_short() -> datetime:
    """Claims older than this were taken by a task that no longer runs (killed by SIGKILL, the
    OOM killer or its timeout) before it finished: the next delivery takes them over."""
    return timezone.now() - timedelta(seconds=settings.Q_CLUSTER_TIMEOUT + CLAIM_SLACK)


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
    running = runs_of(tenant, kind, subject).filter(state=ReportRun.State.RUNNING)
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
            running = runs_of(tenant, kind, subject).filter(state=ReportRun.State.RUNNING).first()
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


def _start_upstream(run: ReportRun) -> contract.ReportJob:
    provider = upstream.provider_for(run.tenant)
    return provider.start_report(contract.ReportKind(run.kind), run.subject)


def report_start(*, run_id: int) -> ReportRun | None:
    """Start Point's job for a running run, once (a second delivery finds it claimed).

    Never raises for a failure of the run itself: an upstream error (an Entra outage
    included: the token error arrives as an AuthenticationFailed) or any unexpected one
    ends the run failed with a message the page shows.
    """
    try:
        return _report_start(run_id)
    except Exception as error:
        return _fail_unexpected(run_id, error)


def _report_start(run_id: int) -> ReportRun | None:
    running = ReportRun.objects.filter(pk=run_id, state=ReportRun.State.RUNNING)
    claimed = running.filter(start_claimed_at__isnull=True).update(start_claimed_at=timezone.now())
    if not claimed:
        # Its task was killed before saving the job: start it again. Reports only read, so a
        # job the killed attempt may have started upstream is left unread, nothing more.
        claimed = running.filter(upstream_job_id="", start_claimed_at__lt=_cut_short()).update(
            start_claimed_at=timezone.now()
        )
    run = ReportRun.objects.select_related("tenant").filter(pk=run_id).first()
    if run is None or not claimed:
        return run
    try:
        job = _start_upstream(run)
    except UpstreamError as error:
        logger.info("Report %s could not start: %s", run.pk, type(error).__name__)
        _fail(run, error.text)
        return run
    run.upstream_job_id = job.id
    run.processed, run.total = job.processed, job.total
    run.save(update_fields=["upstream_job_id", "processed", "total"])
    return run


def report_poll(*, run_id: int, budget: float | None = None) -> ReportRun | None:
    """Ask the upstream about the job until it is done (then store it), fails, or ``budget`` seconds pass
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
        if run is None or not run.is_running:
            return run
        if timezone.now() - run.started_at > timedelta(seconds=settings.DIRECTORY_REPORT_TIMEOUT):
            _fail(run, _timed_out())
            return run
        if not run.upstream_job_id:
            # The task that claimed the start has not saved the job yet, or was killed before
            # it could: then report_start takes over (see _cut_short); else wait for it.
            run = report_start(run_id=run_id)
            if run is None or not run.is_running:
                return run
        if run.upstream_job_id:
            done = _poll_once(run)
            if done is not None:
                return done
        if time.monotonic() - started + interval > budget:
            async_task(
                "directory.tasks.poll_report",
                run.pk,
                task_name="directory report poll",
            )
            return run
        _sleep(interval)


def _poll_once(run: ReportRun) -> ReportRun | None:
    """Ask the upstream about the run's job once: the run when it is over, None to ask again."""
    try:
        job = upstream.provider_for(run.tenant).get_report(run.upstream_job_id)
    except UpstreamError as error:
        if not error.retryable:
            _fail(run, error.text)
            return run
        logger.info(
            "Report %s: status check failed (%s); trying again", run.pk, type(error).__name__
        )
        _heartbeat(run)  # a failed check is still a live worker: not a dead run
        return None
    if job.state == JobState.SUCCEEDED:
        stored = _store(run)
        # Still running: another task is storing it; wait for it (or take over, _claim_fetch).
        return None if stored.is_running else stored
    if job.state == JobState.FAILED:
        label = run.tenant.upstream_label
        _fail(run, f"{label} could not produce the report: {job.error or 'no reason given'}")
        return run
    unknown = job.status_text[:100] if job.state == JobState.UNKNOWN else ""
    if unknown:
        # Not guessed as done or failed: polled on, shown raw, flagged to IT staff.
        tenant_services.note_unknown_value(
            tenant=run.tenant, what="report status", value=unknown, example=run.kind
        )
    ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING).update(
        processed=job.processed,
        total=job.total,
        upstream_status=unknown,
        last_polled_at=timezone.now(),
    )
    return None


def _row(run: ReportRun, position: int, found: contract.ReportRow) -> ReportRow:
    """An upstream row as a ReportRow: the columns we filter on (clipped to what they hold),
    plus the whole neutral row for the page and the CSV."""
    return ReportRow(
        run=run,
        position=position,
        group_id=found.group_id[:100],
        group_name=found.group_name[:500],
        name=found.name[:500],
        upn=found.upn[:500],
        kind=found.kind[:30],
        # Memberships: owner or member; permissions and access: how it is granted.
        role=(found.role or found.access_via)[:100],
        site_url=found.site_url[:1000],
        permission=found.permission[:200],
        data=found.to_json(),
    )


def _claim_fetch(run: ReportRun) -> bool:
    """Claim the reading of the finished job: once, or again when the task that claimed it was
    killed mid-way (see _cut_short), dropping the rows it had stored."""
    running = ReportRun.objects.filter(pk=run.pk, state=ReportRun.State.RUNNING)
    if running.filter(fetch_claimed_at__isnull=True).update(fetch_claimed_at=timezone.now()):
        return True
    if not running.filter(fetch_claimed_at__lt=_cut_short()).update(
        fetch_claimed_at=timezone.now()
    ):
        return False
    ReportRow.objects.filter(run=run).delete()
    return True


def _store(run: ReportRun) -> ReportRun:
    """Read every page of the finished job and store it in batches; then it is the snapshot."""
    if not _claim_fetch(run):
        run.refresh_from_db()
        return run
    count = 0
    label = run.subject_label
    batch: list[ReportRow] = []
    try:
        rows = upstream.provider_for(run.tenant).report_rows(
            contract.ReportKind(run.kind), run.upstream_job_id
        )
        for found in rows:
            if count == 0 and run.kind == ReportKind.GROUP_MEMBERSHIPS and run.subject:
                label = found.group_name[:500] or label
            batch.append(_row(run, count, found))
            count += 1
            if len(batch) >= STORE_BATCH:
                ReportRow.objects.bulk_create(batch)
                batch = []
                _heartbeat(run)
        if batch:
            ReportRow.objects.bulk_create(batch)
    except UpstreamError as error:
        _fail(run, f"The report finished but could not be read: {error.text}")
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
            runs_of(run.tenant, run.kind, run.subject)
            .filter(state=ReportRun.State.SUCCEEDED)
            .exclude(pk=run.pk)
        )
        ReportRow.objects.filter(run__in=older).delete()
    _remember_people(run)
    run.refresh_from_db()
    return run


def _remember_people(run: ReportRun) -> None:
    """The people a report names feed the request form's people picker and checks."""
    named = ReportRow.objects.filter(run=run, kind__in=("user", "guest")).exclude(upn="")
    people.remember(run.tenant, named.values_list("upn", "name", "kind").iterator())


def report_run(*, run_id: int) -> ReportRun | None:
    """Start the run's job and follow it to the end (the task behind a refresh); never leaves
    the run running because of an error (see report_start and report_poll)."""
    run = report_start(run_id=run_id)
    if run is None or not run.is_running:
        return run
    return report_poll(run_id=run_id)

"""The poller: one pass checks every in-flight request whose next check is due.

A pass (`poll_due`, the scheduled `tasks.poll_requests`, once a minute) works within a time
budget rather than a fixed count, with status checks in flight at once:

- Due requests are claimed in chunks, most overdue first, by one conditional UPDATE that writes
  the pass's token into `poll_claim` and moves `next_poll_at` forward. Only rows still due get
  the token, so two pollers running at once (two workers) never take the same request, and a
  pass that dies leaves its rows for a later pass, not for a tight loop. The check (or the
  hand-back of a request not reached) clears the claim.
- Only requests due when the pass started are taken: a request checked early in the pass is due
  again before its end (10 s back-off) and must wait for the next pass. So upstream calls per
  pass equal the requests that were due, each checked once.
- Checks run on a thread pool, at most PROVISIONING_POLL_CONCURRENCY per tenant (one tenant's
  upstream is not flooded; a slow one does not hold the others back) and
  PROVISIONING_POLL_WORKERS in all; tenants take turns in each claimed chunk. The limits are
  per pass: two passes at once may have twice as many checks in flight. A tenant whose upstream answers 429 is left alone for the
  rest of the pass: its claimed requests are released for after the Retry-After.
- When the budget (PROVISIONING_POLL_BUDGET s) is spent, no new check starts; claimed requests
  not reached are released, due at once for the next pass.

Inside a transaction (tests) the checks run one after another in this thread: other threads'
connections would not see the transaction's rows.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django_q.tasks import async_task

from provisioning.models import ProvisioningRequest, RequestEvent
from provisioning.services import webhook_health
from provisioning.services.following import Checked, status_check
from provisioning.services.transitions import SEND_TASK
from provisioning.states import IN_FLIGHT_STATES, State

logger = logging.getLogger(__name__)

# Rows claimed per UPDATE, as a multiple of the checks that may run at once: enough to keep
# every thread busy, few enough that a second poller finds work to share.
CLAIM_FACTOR = 4


@dataclass(frozen=True)
class PollReport:
    refreshed: int = 0  # status checks made
    changed: int = 0  # of which found a change
    errors: int = 0  # checks that crashed (a bug; logged with its traceback)
    sends_resumed: int = 0
    due: int = 0  # in-flight requests due when the pass started
    left: int = 0  # due but not reached within the budget (first in line next pass)
    throttled: int = 0  # released unchecked because their tenant's upstream said 429
    seconds: float = 0.0


@dataclass
class _Pass:
    """One pass's claims and tallies."""

    token: uuid.UUID
    started: datetime
    hold: datetime
    deadline: float
    queues: dict[int, deque[int]] = field(default_factory=dict)  # tenant id -> claimed ids
    running: dict[int, int] = field(default_factory=dict)  # tenant id -> checks in flight
    throttled_until: dict[int, datetime] = field(default_factory=dict)
    exhausted: bool = False  # nothing due is left to claim
    refreshed: int = 0
    changed: int = 0
    errors: int = 0
    left: int = 0
    throttled: int = 0

    def queued(self) -> int:
        return sum(len(q) for q in self.queues.values())


def _hold_seconds() -> int:
    """How far a claim moves next_poll_at: past the pass's end, so a claimed row is never due
    while its pass runs, and never beyond the back-off's maximum (see poll_due's reset)."""
    return max(settings.PROVISIONING_POLL_MAX_INTERVAL, settings.PROVISIONING_POLL_BUDGET + 60)


def _due(started: datetime) -> Q:
    return Q(state__in=IN_FLIGHT_STATES) & (
        Q(next_poll_at__lte=started) | Q(next_poll_at__isnull=True)
    )


def _claim(run: _Pass, size: int) -> None:
    """Claim up to ``size`` more due requests, most overdue first, into the tenants' queues.
    Another poller may take the same candidates first: then look again."""
    before = run.queued()
    while not run.exhausted and run.queued() == before:
        _claim_once(run, size)


def _claim_once(run: _Pass, size: int) -> None:
    # Tenants take turns within a chunk (each one's most overdue first): a chunk of one tenant's
    # backlog would leave every other tenant's checks waiting behind its concurrency limit.
    overdue = (F("next_poll_at").asc(nulls_first=True), F("id").asc())
    candidates = list(
        ProvisioningRequest.objects.filter(_due(run.started))
        .exclude(tenant_id__in=list(run.throttled_until))
        .annotate(turn=Window(RowNumber(), partition_by=[F("tenant_id")], order_by=overdue))
        .order_by("turn", *overdue)
        .values_list("pk", flat=True)[:size]
    )
    if not candidates:
        run.exhausted = True
        return
    # The due condition again in the UPDATE: a row another poller claimed meanwhile no longer
    # matches it (PostgreSQL re-checks it on the row it waited for; SQLite writes one at a time).
    ProvisioningRequest.objects.filter(_due(run.started), pk__in=candidates).update(
        poll_claim=run.token, next_poll_at=run.hold
    )
    claimed = (
        ProvisioningRequest.objects.filter(poll_claim=run.token, pk__in=candidates)
        .order_by(F("next_poll_at").asc(nulls_first=True), "id")
        .values_list("pk", "tenant_id")
    )
    by_pk = dict(claimed)
    for pk in candidates:  # keep the most-overdue-first order
        if pk in by_pk:
            run.queues.setdefault(by_pk[pk], deque()).append(pk)


def _release(run: _Pass, tenant_id: int | None, due_at: datetime) -> int:
    """Hand claimed, unchecked requests back (one tenant's, or all): due at ``due_at``."""
    ids: list[int] = []
    for tenant, queue in run.queues.items():
        if tenant_id is None or tenant == tenant_id:
            ids.extend(queue)
            queue.clear()
    if ids:
        ProvisioningRequest.objects.filter(pk__in=ids, poll_claim=run.token).update(
            next_poll_at=due_at, poll_claim=None
        )
    return len(ids)


def _check(pk: int) -> Checked:
    return status_check(request_id=pk, source=RequestEvent.Source.POLL)


def _tally(run: _Pass, tenant_id: int, pk: int, outcome: Checked | BaseException) -> None:
    run.running[tenant_id] -= 1
    if isinstance(outcome, BaseException):
        run.errors += 1
        logger.error("Request %s: status check crashed", pk, exc_info=outcome)
        return
    run.refreshed += outcome.asked
    run.changed += outcome.changed
    if outcome.throttled_for is not None and tenant_id not in run.throttled_until:
        until = timezone.now() + timedelta(seconds=outcome.throttled_for)
        run.throttled_until[tenant_id] = until
        run.throttled += _release(run, tenant_id, until)


def _next_jobs(run: _Pass, slots: int) -> Iterator[tuple[int, int]]:
    """(tenant, request) pairs to start now: round robin over tenants, within each tenant's
    concurrency and ``slots`` in all."""
    per_tenant = settings.PROVISIONING_POLL_CONCURRENCY
    while slots > 0:
        started = False
        for tenant_id in list(run.queues):
            queue = run.queues[tenant_id]
            if slots and queue and run.running.get(tenant_id, 0) < per_tenant:
                run.running[tenant_id] = run.running.get(tenant_id, 0) + 1
                slots -= 1
                started = True
                run.queues[tenant_id] = run.queues.pop(tenant_id)  # to the back of the line
                yield tenant_id, queue.popleft()
        if not started:
            return


def _refill(run: _Pass, capacity: int) -> None:
    if not run.exhausted and run.queued() < capacity:
        _claim(run, capacity * CLAIM_FACTOR)


def _run_inline(run: _Pass) -> None:
    while time.monotonic() < run.deadline:
        _refill(run, 1)
        jobs = list(_next_jobs(run, 1))
        if not jobs:
            return
        tenant_id, pk = jobs[0]
        try:
            outcome: Checked | BaseException = _check(pk)
        except Exception as error:
            outcome = error
        _tally(run, tenant_id, pk, outcome)


def _run_threaded(run: _Pass, workers: int) -> None:
    with _pool(workers) as pool:
        futures: dict[Future[Checked], tuple[int, int]] = {}
        while True:
            if time.monotonic() < run.deadline:
                _refill(run, workers)
                for tenant_id, pk in _next_jobs(run, workers - len(futures)):
                    futures[pool.submit(_check, pk)] = (tenant_id, pk)
            if not futures:
                return
            done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                tenant_id, pk = futures.pop(future)
                error = future.exception()
                _tally(run, tenant_id, pk, error if error is not None else future.result())


@contextmanager
def _pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool whose threads close their database connections when the pass ends."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poller")
    try:
        yield pool
    finally:
        # One closing job per thread (the barrier makes each thread take exactly one).
        barrier = threading.Barrier(workers)

        def close(_: int) -> None:
            try:
                barrier.wait(timeout=10)
            finally:
                connections.close_all()

        for _ in pool.map(close, range(workers)):
            pass
        pool.shutdown()


def poll_due() -> PollReport:
    """One poller pass: check the in-flight requests due now, resume sends that are due."""
    began = time.monotonic()
    now = timezone.now()
    webhook_health.forget()
    hold = now + timedelta(seconds=_hold_seconds())
    # Requests of tenants whose webhooks are no longer trusted come back to the normal back-off
    # at once. Not a claimed one: another pass that started a moment later holds it until
    # later than this pass's ``hold`` (a check clears the claim).
    ProvisioningRequest.objects.filter(
        state__in=IN_FLIGHT_STATES, next_poll_at__gt=hold, poll_claim__isnull=True
    ).exclude(tenant_id__in=webhook_health.trusted_tenant_ids()).update(next_poll_at=now)
    run = _Pass(
        token=uuid.uuid4(),
        started=now,
        hold=hold,
        deadline=began + settings.PROVISIONING_POLL_BUDGET,
    )
    due = ProvisioningRequest.objects.filter(_due(now)).count()
    workers = min(settings.PROVISIONING_POLL_WORKERS, max(due, 1))
    if connection.in_atomic_block or workers == 1:
        _run_inline(run)
    else:
        _run_threaded(run, workers)
    _release(run, None, now)
    # Still due as of the pass's start: not reached within the budget (by this pass or another).
    run.left = ProvisioningRequest.objects.filter(_due(now)).count()
    resumed = 0
    for pk in _sends_due(now, settings.PROVISIONING_POLL_SEND_BATCH):
        # Each send in its own task (own timeout); the claim in request_send makes extra
        # deliveries harmless.
        async_task(SEND_TASK, pk)
        resumed += 1
    report = PollReport(
        refreshed=run.refreshed,
        changed=run.changed,
        errors=run.errors,
        sends_resumed=resumed,
        due=due,
        left=run.left,
        throttled=run.throttled,
        seconds=round(time.monotonic() - began, 3),
    )
    if report.left:
        logger.warning(
            "Poller: %s of %s due requests not reached within %s s; first in line next pass",
            report.left,
            due,
            settings.PROVISIONING_POLL_BUDGET,
        )
    return report


def _sends_due(now: datetime, limit: int) -> list[int]:
    stale = now - timedelta(seconds=settings.PROVISIONING_SEND_LEASE)
    due = ProvisioningRequest.objects.filter(
        # Retry time reached, or the next look for a confirming request.
        Q(state__in=(State.SUBMITTED, State.SENDING, State.CONFIRMING), next_poll_at__lte=now)
        # The send task was lost (crash between commit and enqueue).
        | Q(state=State.SUBMITTED, next_poll_at__isnull=True, updated_at__lt=stale)
        # The attempt died with its lease (worker killed between POST and saving).
        | Q(state=State.SENDING, next_poll_at__isnull=True, send_started_at__lt=stale)
    )
    return list(due.order_by("updated_at", "id").values_list("pk", flat=True)[:limit])

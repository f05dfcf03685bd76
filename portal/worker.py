"""Worker liveness and supervision: a dead or wedged django-q2 cluster is replaced without a person.

Why this exists: django-q2's open bug #23. An idle worker blocks in multiprocessing.Queue.get()
holding the queue's read lock; killed there (an OOM kill, SIGKILL), it never releases it, so
the worker the sentinel starts in its place and every other worker block forever, and the
cluster no longer stops on SIGTERM. Nothing in django-q2 notices. `manage.py worker` runs
`manage.py qcluster` as a child, checks it every WORKER_CHECK_INTERVAL seconds with
`liveness()` and replaces it; `manage.py worker_alive` runs the same rule for an outside
supervisor (systemd, Kubernetes). See docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import signal

# Only to run and supervise manage.py qcluster (bandit B404).
import subprocess  # nosec B404
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Max
from django.utils import timezone
from django_q.models import Task
from django_q.tasks import async_task

from portal.models import Heartbeat
from portal.tasks import WORKER_HEARTBEAT

logger = logging.getLogger(__name__)

# django-q2 stops a task at Q_TIMEOUT (its guard allows 3 s more) and records the failure a
# moment later: a cluster whose every worker runs a long task still records a finished task
# within Q_TIMEOUT + this many seconds. Longer without one, it is not busy but stuck.
FINISH_SLACK = 30
# Seconds between SIGTERM and SIGKILL when replacing a cluster that is not alive: it finishes
# nothing any more, and a wedged one ignores SIGTERM, so waiting longer only delays recovery.
RESTART_GRACE = 3
# Seconds a healthy cluster gets to finish its running tasks when the supervisor is stopped
# (bin/demo waits longer than this before its own SIGKILL).
STOP_GRACE = 20
# How often (s) the supervisor looks whether its qcluster child exited.
TICK = 1.0


@dataclass(frozen=True)
class Liveness:
    alive: bool
    reason: str  # one line, for logs and for a probe's stderr
    heartbeat_at: datetime | None = None


def last_heartbeat() -> datetime | None:
    """When a worker last ran portal.tasks.heartbeat (None if never)."""
    return Heartbeat.objects.filter(name=WORKER_HEARTBEAT).values_list("seen_at", flat=True).first()


def last_finished_task() -> datetime | None:
    """When django-q2 last recorded a finished task (success or failure; None if never)."""
    latest: datetime | None = Task.objects.aggregate(latest=Max("stopped"))["latest"]
    return latest


def liveness(
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    died_at: datetime | None = None,
) -> Liveness:
    """Whether the cluster works, from the heartbeat and django-q2's records of finished tasks.

    `since` (when the supervisor started the cluster, or when the database came back after an
    outage) counts as a heartbeat and as a finished task: a new cluster gets
    WORKER_LIVENESS_MAX_AGE to show its first heartbeat, and one that could not reach the
    database as long to show progress again. `died_at` (when the supervisor saw a process of its cluster disappear) is the evidence of
    bug #23. The rule, in order:

    1. Wedged: a cluster process died and no task finished since, for longer than the max
       age. A dead worker is how bug #23 starts (a dead monitor wedges the result queue the
       same way, while the heartbeat, written by the workers, stays fresh).
    2. Alive: the heartbeat is at most WORKER_LIVENESS_MAX_AGE old.
    3. Busy: the heartbeat is older, but a task finished within the max age. The heartbeat
       waits in the queue behind running tasks; the cluster makes progress.
    4. Busy or stuck, given the benefit of the doubt: no task finished within the max age, but
       within Q_TIMEOUT + FINISH_SLACK. Every worker may be running a long task; with no death
       seen, django-q2's records cannot tell this from a wedge until a task would have timed out.
    5. Dead or wedged: nothing finished for longer than any task may run.
    """
    now = now or timezone.now()
    max_age = settings.WORKER_LIVENESS_MAX_AGE
    heartbeat_at = last_heartbeat()
    beat_age = _age(now, _latest(heartbeat_at, since))
    finished = _latest(last_finished_task(), since)
    finish_age = _age(now, finished)
    beat = "never" if beat_age is None else f"{beat_age} s ago"
    finish = "never" if finish_age is None else f"{finish_age} s ago"

    def verdict(alive: bool, reason: str) -> Liveness:
        return Liveness(alive, reason, heartbeat_at)

    died_since = died_at is not None and (finished is None or died_at > finished)
    if died_since and (finish_age is None or finish_age > max_age):
        return verdict(
            False,
            f"wedged: a cluster process died {_age(now, died_at)} s ago and no task finished "
            f"since (last {finish}, heartbeat {beat}): django-q2 bug #23",
        )
    if beat_age is not None and beat_age <= max_age:
        return verdict(True, f"alive: heartbeat {beat}")
    if finish_age is not None and finish_age <= max_age:
        return verdict(True, f"busy: heartbeat {beat}, but a task finished {finish}")
    timeout = settings.Q_CLUSTER_TIMEOUT
    if finish_age is not None and finish_age <= timeout + FINISH_SLACK:
        return verdict(
            True,
            f"busy or stuck: heartbeat {beat}, last task finished {finish}; "
            f"a task may run {timeout} s",
        )
    if beat_age is None:
        return verdict(False, "no worker heartbeat yet: is the worker running?")
    return verdict(
        False,
        f"dead or wedged: heartbeat {beat}, last task finished {finish}, "
        f"longer than any task may run ({timeout} s)",
    )


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _age(now: datetime, moment: datetime | None) -> int | None:
    return None if moment is None else round((now - moment).total_seconds())


def group_members(pgid: int) -> set[int] | None:
    """Live (not zombie) processes of process group `pgid`; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    members: set[int] = set()
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # After "(command)": state, ppid, pgrp, ... (the command itself may hold spaces).
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            members.add(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, dead already, do not count)."""
    members = group_members(pgid)
    if members is not None:
        return bool(members)
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):  # gone (or the id went to someone else)
        return False
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Runs `command` (manage.py qcluster) as a child and replaces it when it is not alive.

    The child gets its own process group, so one killpg reaches its sentinel, workers, pusher
    and monitor (which outlive a killed qcluster process), and a terminal's Ctrl-C reaches only
    the supervisor, which then stops the cluster in order.
    """

    def __init__(self, command: Sequence[str], *, interval: float) -> None:
        self.command = list(command)
        self.interval = interval
        self.child: subprocess.Popen[bytes] | None = None
        self.since: datetime | None = None  # last start, or the end of a database outage
        self.started_tick = 0.0
        self.database_down = False
        self.members: set[int] = set()
        self.died_at: datetime | None = None
        self.nudged_at: datetime | None = None
        self.restarts = 0
        self.stopping = False

    def run(self) -> None:
        """Supervise until SIGTERM, SIGINT or SIGHUP; then stop the cluster and return."""
        signal.signal(signal.SIGTERM, self._request_stop)
        for signum in (signal.SIGINT, signal.SIGHUP):
            # Left ignored when started so (nohup, a shell's background job), as Python does.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._request_stop)
        self._start()
        assert self.child is not None
        logger.info(
            "worker: started qcluster (pid %s); checking it every %s s",
            self.child.pid,
            self.interval,
        )
        next_check = time.monotonic() + self.interval
        try:
            while not self.stopping:
                time.sleep(TICK)
                if self.stopping:
                    break
                status = self.child.poll()
                if status is not None:
                    # Not sooner than one interval after the last start: a qcluster that
                    # cannot start (bad settings) must not be restarted in a hot loop.
                    if time.monotonic() - self.started_tick >= self.interval:
                        self._replace(f"qcluster exited with status {status}")
                        next_check = time.monotonic() + self.interval
                    continue
                if time.monotonic() >= next_check:
                    self._check()
                    next_check = time.monotonic() + self.interval
        finally:
            self._stop_cluster(STOP_GRACE)
            logger.info("worker: stopped")

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _check(self) -> None:
        assert self.child is not None
        now = timezone.now()
        members = group_members(self.child.pid)
        if members is not None:
            if self.members - members:
                self.died_at = now
            self.members = members
        try:
            if self.database_down:
                # The pusher dies (and is replaced) when it cannot reach the database, and
                # nothing finishes meanwhile: after an outage the cluster gets the max age to
                # show progress again, rather than being taken for wedged (bug #23).
                self.database_down = False
                self.since = now
            verdict = liveness(now=now, since=self.since, died_at=self.died_at)
            if not verdict.alive:
                self._replace(verdict.reason)
                return
            self._nudge_if_due(now, verdict.heartbeat_at)
        except DatabaseError as error:
            # A new cluster cannot fix the database: keep this one and look again next time.
            self.database_down = True
            logger.warning(
                "worker: cannot check the cluster: database unreachable (%s)",
                type(error).__name__,
            )
        finally:
            # One short connection per check: a long-lived one breaks when the database
            # restarts, and the supervisor must keep working through that.
            connections.close_all()

    def _nudge_if_due(self, now: datetime, heartbeat_at: datetime | None) -> None:
        """Queue a heartbeat when the last one is older than half an interval and ours is done.

        The scheduled heartbeat runs once a minute at best; nudges keep an idle cluster's
        heartbeat and finished tasks within about one interval, which is what bounds detection.
        A nudge still waiting (a busy or wedged queue) is not doubled for WORKER_LIVENESS_MAX_AGE.
        """
        nudged = self.nudged_at
        if (
            nudged is not None
            and (heartbeat_at is None or heartbeat_at < nudged)
            and (now - nudged).total_seconds() < settings.WORKER_LIVENESS_MAX_AGE
        ):
            return
        if heartbeat_at is not None and (now - heartbeat_at).total_seconds() < self.interval / 2:
            return
        self._nudge(now)

    def _nudge(self, now: datetime) -> None:
        try:
            async_task("portal.tasks.heartbeat")
        except Exception as error:  # the broker (database or Redis) is down: try next time
            logger.warning("worker: cannot queue a heartbeat (%s)", type(error).__name__)
            return
        self.nudged_at = now

    def _start(self) -> None:
        # The supervisor's own fixed command (manage.py qcluster), no shell, no user input (B603).
        self.child = subprocess.Popen(self.command, process_group=0)  # nosec B603
        self.since = timezone.now()
        self.started_tick = time.monotonic()
        self.members = set()
        self.died_at = None
        self.nudged_at = None
        # At once, so /healthz turns green seconds after a start, not after a minute.
        self._nudge(self.since)
        connections.close_all()

    def _replace(self, reason: str) -> None:
        assert self.child is not None
        old = self.child.pid
        self._stop_cluster(RESTART_GRACE)
        self._start()
        self.restarts += 1
        logger.warning(
            "worker: replaced qcluster %s with %s (restart %s): %s",
            old,
            self.child.pid,
            self.restarts,
            reason,
        )

    def _stop_cluster(self, grace: float) -> None:
        """SIGTERM, up to `grace` s to finish, then SIGKILL to the whole process group.

        SIGTERM goes to qcluster's main process only: its handler stops the sentinel, which
        lets running tasks finish. The sentinel and workers die at once on SIGTERM (their
        handler is the default), so a group-wide SIGTERM would cut tasks short. A wedged
        cluster never finishes stopping: the SIGKILL to the group ends it.
        """
        child = self.child
        if child is None:
            return
        pgid = child.pid
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        else:  # qcluster is gone; what it left behind (workers, pusher) gets the signal
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            child.poll()  # reap qcluster, or the group exists as long as its zombie does
            if not _group_alive(pgid):
                break
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        child.wait()
        # The rest of the group was reparented to init (or to us, as a container's PID 1):
        # wait until it is gone, so an old cluster never runs beside the new one.
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            _reap_orphans()
            time.sleep(0.05)


def _reap_orphans() -> None:
    """Collect exited orphans when we are their parent (a container's PID 1), never blocking."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass

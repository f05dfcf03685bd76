"""A dead or wedged django-q2 worker is replaced without a person (docs/operations.md).

The liveness rule and `worker_alive` are tested in-process. The slow test runs real processes
on a database they share: `manage.py worker` supervising `manage.py qcluster`; a busy cluster
left alone; idle workers killed with SIGKILL round after round (django-q2 bug #23 wedges the
cluster each time) and the cluster replaced; then a request that must complete exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from unittest.mock import patch
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from django_q.models import Task
from pytest_django.fixtures import Settings

from portal.models import Heartbeat
from portal.tasks import WORKER_HEARTBEAT
from portal.worker import Supervisor, liveness

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

ROOT = Path(__file__).resolve().parents[2]


# --- The rule: busy is not wedged -------------------------------------------------------------


def beat(seconds_ago: float) -> datetime:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    Heartbeat.objects.update_or_create(name=WORKER_HEARTBEAT, defaults={"seen_at": at})
    return at


def finished(seconds_ago: float) -> datetime:
    """A task django-q2 recorded as finished `seconds_ago`."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    Task.objects.create(
        id=uuid.uuid4().hex,
        name="t",
        func="provisioning.tasks.poll_requests",
        started=at - timedelta(seconds=100),
        stopped=at,
        success=True,
    )
    return at


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture
def limits(settings: Settings) -> None:
    settings.WORKER_LIVENESS_MAX_AGE = 90
    settings.Q_CLUSTER_TIMEOUT = 120


def test_a_started_cluster_is_asked_for_a_heartbeat_at_once_so_healthz_turns_green() -> None:
    # Not after the first check interval (15 s) or the scheduled heartbeat (a minute): the
    # cluster runs the queued heartbeat as soon as it is up.
    supervisor = Supervisor([sys.executable, "-c", "pass"], interval=15)
    with patch("portal.worker.async_task") as queued:
        supervisor._start()
    assert supervisor.child is not None
    supervisor.child.wait(timeout=10)
    queued.assert_called_once_with("portal.tasks.heartbeat")
    assert supervisor.nudged_at == supervisor.since


@pytest.mark.django_db
@pytest.mark.usefixtures("limits")
class TestLiveness:
    def test_a_fresh_heartbeat_is_alive(self) -> None:
        beat(10)
        assert liveness().alive

    def test_a_stale_heartbeat_with_tasks_finishing_is_busy(self) -> None:
        beat(200)
        finished(30)
        verdict = liveness()
        assert verdict.alive and verdict.reason.startswith("busy:")

    def test_every_worker_in_a_long_task_is_busy_until_a_task_would_have_timed_out(self) -> None:
        beat(140)
        finished(140)  # both workers took a long task 140 s ago; none may run past 120 s + slack
        assert liveness().alive
        Task.objects.all().delete()
        finished(151)
        verdict = liveness()
        assert not verdict.alive and "longer than any task may run (120 s)" in verdict.reason

    def test_a_death_and_no_task_finished_since_is_wedged(self) -> None:
        beat(95)
        last = finished(95)
        verdict = liveness(died_at=last + timedelta(seconds=2))
        assert not verdict.alive
        assert "django-q2 bug #23" in verdict.reason

    def test_a_death_followed_by_finished_tasks_is_not_wedged(self) -> None:
        beat(95)  # every worker busy with long tasks; a recycled worker is a death too
        finished(40)
        assert liveness(died_at=ago(60)).alive

    def test_a_dead_monitor_is_wedged_although_the_heartbeat_is_fresh(self) -> None:
        # Workers still run tasks (the heartbeat) but nothing records them any more.
        beat(1)
        last = finished(100)
        assert not liveness(died_at=last + timedelta(seconds=1)).alive

    def test_a_new_cluster_gets_the_max_age_for_its_first_heartbeat(self) -> None:
        beat(3600)
        finished(3600)
        assert liveness(since=ago(80)).alive
        assert not liveness(since=ago(200)).alive

    def test_no_heartbeat_ever_is_not_alive(self) -> None:
        verdict = liveness()
        assert not verdict.alive and "no worker heartbeat yet" in verdict.reason


@pytest.mark.django_db
@pytest.mark.usefixtures("limits")
class TestWorkerAliveCommand:
    def test_it_exits_0_when_alive(self, capsys: pytest.CaptureFixture[str]) -> None:
        beat(5)
        call_command("worker_alive")
        assert capsys.readouterr().out.strip() == "worker alive: heartbeat 5 s ago"

    def test_it_exits_1_with_one_line_when_not(self) -> None:
        beat(600)
        with pytest.raises(SystemExit) as exit_:
            call_command("worker_alive")
        # SystemExit with a message: Python prints it on stderr and exits with status 1.
        message = str(exit_.value.code)
        assert message.startswith("worker not alive: dead or wedged: heartbeat 600 s ago")
        assert "\n" not in message

    def test_it_exits_1_when_the_database_is_unreachable(self) -> None:
        with (
            patch("portal.worker.last_heartbeat", side_effect=OperationalError("down")),
            pytest.raises(SystemExit) as exit_,
        ):
            call_command("worker_alive")
        assert exit_.value.code == (
            "worker liveness unknown: database unreachable (OperationalError)"
        )


# --- Real processes: SIGKILL idle workers, the supervisor recovers ---------------------------

ROUNDS = 3
# Small timings so the slow test stays well under a minute: checked every second, a cluster
# with a dead process and no finished task for 5 s is replaced.
SUPERVISION = {"WORKER_CHECK_INTERVAL": "1", "WORKER_LIVENESS_MAX_AGE": "5"}

SETUP = """
import json
from portal.models import Role
from provisioning import services
from tests.conftest import make_tenant, make_user
tenant = make_tenant("contoso", POINT_URL)
services.catalogue_sync(tenant=tenant)
user = make_user(tenant, "Adele", Role.REQUESTER)
print(json.dumps({"user": user.pk}))
"""

BUSY = """
import json, time
from django.utils import timezone
from django_q.tasks import async_task
from portal.worker import last_heartbeat, liveness
for _ in range(2):  # every worker in a task longer than WORKER_LIVENESS_MAX_AGE
    async_task("time.sleep", 8)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:  # until the heartbeat waits behind them past the max age
    seen = last_heartbeat()
    if seen and (timezone.now() - seen).total_seconds() > 6:
        break
    time.sleep(0.2)
print(json.dumps({"during": liveness().reason}))
"""

SUBMIT_AND_FOLLOW = """
import json, time
from django_q.tasks import async_task
from portal.models import User
from provisioning import services
from provisioning.models import Template
from provisioning.states import FINAL_STATES, IN_FLIGHT_STATES
from tests.provisioning.lifecycle import request_data
template = Template.objects.get(tenant__slug="contoso", upstream_id="3")
request = services.request_submit(
    tenant=template.tenant, template=template, requested_by=User.objects.get(pk=USER),
    data=request_data("3"),
)  # its send task is queued on commit, for the cluster
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    request.refresh_from_db()
    if request.state in FINAL_STATES:
        break
    if request.state in IN_FLIGHT_STATES:  # check now rather than wait for the poll schedule
        async_task("provisioning.tasks.refresh_request", request.pk)
    time.sleep(0.5)
print(json.dumps({"state": request.state, "final_name": request.final_name}))
"""


def proc_stat(pid: int) -> list[str] | None:
    """state, ppid, pgrp, session, ... of a process (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def session_members(sid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields and fields[3] == str(sid) and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def alive_in(pid: int, sid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z" and fields[3] == str(sid)


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL the subprocesses share: a temp-file SQLite database, or a temporary
    PostgreSQL database when the suite runs on PostgreSQL."""
    default = django_settings.DATABASES["default"]
    if "postgresql" not in default["ENGINE"]:
        yield f"sqlite:///{tmp_path / 'portal.sqlite3'}"
        return
    import psycopg

    name = f"portal_worker_{uuid.uuid4().hex[:12]}"
    host, port = default.get("HOST") or "127.0.0.1", default.get("PORT") or "5432"
    user, password = default.get("USER") or "postgres", default.get("PASSWORD") or ""
    server = f"postgres://{quote(user)}{':' + quote(password) if password else ''}@{host}:{port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Long-running subprocesses, each in a session of its own: at the end every process of
    those sessions (qcluster and what it forked, orphans included) is killed, pass or fail."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.started: list[subprocess.Popen[bytes]] = []

    def manage(
        self, *args: str, script: str = "", timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "manage.py", *args, *(["-c", script] if script else [])]
        return subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            for pid in [process.pid, *session_members(process.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait(timeout=10)


class Log:
    """The supervisor's output (its own lines and qcluster's), read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        return self.path.read_text(errors="replace")

    def mark(self) -> int:
        return len(self.text())

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.compile(pattern).search(self.text(), after)
            if found:
                return found
            time.sleep(0.1)
        tail = "\n".join(self.text().splitlines()[-40:])
        raise AssertionError(f"no {pattern!r} within {timeout} s; the log ends:\n{tail}")


HEARTBEAT_DONE = r"Processed 'portal\.tasks\.heartbeat'"
SLEEP_DONE = r"Processed 'time\.sleep'"
REPLACED = r"worker: replaced qcluster (\d+) with (\d+) \(restart (\d+)\): ([^\n]*)"


@pytest.fixture
def processes(shared_database: str, emulator: RunningEmulator) -> Iterator[Processes]:
    inherited = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        k: v for k, v in os.environ.items() if k not in inherited and not k.startswith("WORKER_")
    }
    env.update(
        DATABASE_URL=shared_database,
        DEMO_MODE="true",
        EMULATOR_URL=emulator.url,
        LOG_LEVEL="INFO",
        **SUPERVISION,
    )
    running = Processes(env)
    try:
        yield running
    finally:
        running.kill_all()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="the supervisor watches processes in /proc")
def test_killed_idle_workers_are_replaced_and_a_later_request_completes_once(
    processes: Processes, emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    migrate = processes.manage("migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr
    point_url = f"{emulator.url}/point/contoso"
    setup = processes.manage("shell", script=f"POINT_URL = {point_url!r}\n{SETUP}")
    assert setup.returncode == 0, setup.stderr
    user = json.loads(setup.stdout.strip().splitlines()[-1])["user"]
    before = processes.manage("worker_alive", timeout=30)
    assert (before.returncode, before.stderr.strip()) == (
        1,
        "worker not alive: no worker heartbeat yet: is the worker running?",
    )

    log = Log(tmp_path / "worker.log")
    supervisor = processes.start("worker", log=log.path)
    log.wait_for(HEARTBEAT_DONE)  # the heartbeat queued at start, seconds after it

    # Busy is not wedged: a stale heartbeat behind long tasks, no death, nothing replaced.
    mark = log.mark()
    busy = processes.manage("shell", script=BUSY)
    assert busy.returncode == 0, busy.stderr
    assert json.loads(busy.stdout.strip().splitlines()[-1])["during"].startswith("busy or stuck")
    first = log.wait_for(SLEEP_DONE, after=mark)
    log.wait_for(HEARTBEAT_DONE, after=log.wait_for(SLEEP_DONE, after=first.end()).end())
    assert re.search(REPLACED, log.text()[mark:]) is None

    recoveries = []
    for round_ in range(1, ROUNDS + 1):
        # Idle: a heartbeat was just processed and the next is a second away.
        log.wait_for(HEARTBEAT_DONE, after=log.mark())
        workers = {
            int(pid)
            for pid in re.findall(r"ready for work at (\d+)", log.text())
            if alive_in(int(pid), supervisor.pid)
        }
        assert len(workers) == 2, workers  # Q_WORKERS defaults to 2
        mark = log.mark()
        killed_at = time.monotonic()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        replaced = log.wait_for(REPLACED, after=mark, timeout=30)
        assert int(replaced.group(3)) == round_
        assert "django-q2 bug #23" in replaced.group(4)
        log.wait_for(HEARTBEAT_DONE, after=replaced.end(), timeout=30)
        recoveries.append(round(time.monotonic() - killed_at, 1))
        assert not any(alive_in(pid, supervisor.pid) for pid in workers)
    print(f"SIGKILL to a working cluster again, {ROUNDS} rounds (s): {recoveries}")

    followed = processes.manage("shell", script=f"USER = {user}\n{SUBMIT_AND_FOLLOW}")
    assert followed.returncode == 0, followed.stderr
    outcome = json.loads(followed.stdout.strip().splitlines()[-1])
    assert outcome["state"] == "completed", outcome
    ledger = emulator.control_get("ledger?tenant=contoso")["workspaces"]
    assert [w["displayName"] for w in ledger].count(outcome["final_name"]) == 1

    after = processes.manage("worker_alive", timeout=30)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("worker alive: heartbeat")

    # SIGTERM stops the cluster in order and the supervisor exits, leaving nothing behind.
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert session_members(supervisor.pid) == []
    assert "worker: stopped" in log.text()

"""Kills and restarts (issue 19 item 2; docs/reliability.md "Kills and restarts").

Real processes on a database they share with the test: `manage.py worker` (the supervised
django-q2 cluster) killed with SIGKILL, its whole session at once, mid-send, mid-poll,
mid-report and while idle, then started again; the web server (gunicorn) killed mid-submit;
the database (a private PostgreSQL) restarted under a live cluster. Each test then checks that
nothing was lost (every request reaches the state it should, every report finishes), nothing
was made twice (the emulator's own records: one Point request and one workspace per request;
each report row stored once), and that it recovered within the bound the settings give (each
bound is spelled out below, with its figure under the default settings).

The settings are shortened (SETTINGS) so that the whole file runs in minutes; the bounds are
computed from them. Slow: `make soak` runs these, `make test` does not.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import requests
from django.conf import settings as django_settings

from directory.services import CLAIM_SLACK
from tests.directory.test_services import upstream_jobs
from tests.provisioning.lifecycle import ADELE, MEGAN
from tests.reliability.procs import (
    HOST,
    Database,
    PrivatePostgres,
    Processes,
    create_database,
    drop_database,
    portal_env,
    private_postgres,
    server_of,
    spare_port,
    sqlite_copy,
    wait_for,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="processes are found in /proc"),
]

# --- Settings and the recovery bounds they give ------------------------------------------------

# Short enough for minutes, not hours; consistent with the checks in portal/settings.py
# (Q_RETRY > Q_TIMEOUT + 30; lease > Q_TIMEOUT; poll budget + read timeout + retry budget <
# Q_TIMEOUT). A hung call is killed within POINT_READ_TIMEOUT of its start.
Q_TIMEOUT = 10
Q_RETRY = 41
SEND_LEASE = 11
POLL_BUDGET = 2
POLL_MAX_INTERVAL = 5
SETTINGS = {
    "Q_TIMEOUT": str(Q_TIMEOUT),
    "Q_RETRY": str(Q_RETRY),
    "Q_WORKERS": "3",  # three reports at once in the report test
    "POINT_CONNECT_TIMEOUT": "2",
    "POINT_READ_TIMEOUT": "5",
    "POINT_MAX_RETRIES": "1",
    "POINT_BACKOFF_MS": "200",
    "POINT_RETRY_BUDGET": "2",
    "GT365_READ_TIMEOUT": "9",
    "PROVISIONING_SEND_LEASE": str(SEND_LEASE),
    "PROVISIONING_SEND_RETRY_DELAY": "2",
    "PROVISIONING_POLL_BUDGET": str(POLL_BUDGET),
    "PROVISIONING_POLL_MIN_INTERVAL": "1",
    "PROVISIONING_POLL_MAX_INTERVAL": str(POLL_MAX_INTERVAL),
    "DIRECTORY_POLL_INTERVAL_MS": "300",
    "WORKER_CHECK_INTERVAL": "2",
    "LOG_LEVEL": "INFO",
}

# The poller's schedule runs once a minute; django-q2's scheduler looks every ~30 s (its guard
# loop), the first time ~30 s after a cluster starts.
POLL_PERIOD = 60
SCHEDULER = 30
# A new cluster: Django's start-up, the first dequeue, then the send or check itself.
START = 20
# A request back in Point is followed to its end by the poller's next pass.
FOLLOW = POLL_PERIOD + SCHEDULER


def send_bound(q_retry: int, lease: int) -> int:
    """A send killed mid-POST: its task comes back after Q_RETRY (and then takes over the row
    if the lease is over), or a poller pass resumes the row once the lease is over. Defaults
    (Q_RETRY 300, lease 180): 270 s."""
    return min(max(q_retry, lease), lease + POLL_PERIOD + SCHEDULER)


def poll_bound(poll_max_interval: int, poll_budget: int) -> int:
    """A poller pass killed mid-check: its claims hold the rows for max(POLL_MAX_INTERVAL,
    POLL_BUDGET + 60) s (provisioning/services/poller.py), then the next pass checks them.
    Defaults (300, 40): 390 s."""
    return max(poll_max_interval, poll_budget + 60) + POLL_PERIOD + SCHEDULER


def report_bound(q_retry: int, q_timeout: int) -> int:
    """A report killed while its job is started, followed or stored: its task comes back
    after Q_RETRY; a start or store claimed by the killed task is taken over once the claim is
    older than any task may run (Q_TIMEOUT + CLAIM_SLACK after a claim taken at most Q_TIMEOUT
    into the task). Defaults (300, 120): 300 s."""
    return max(q_retry, 2 * q_timeout + CLAIM_SLACK)


def lost_send_bound(lease: int) -> int:
    """A send task never queued (the web died between the commit and the enqueue): a poller
    pass queues it once the row waited longer than the lease. Defaults (180): 270 s."""
    return lease + POLL_PERIOD + SCHEDULER


def figure(line: str) -> None:
    """A measured figure for docs/reliability.md (shown with `pytest -s`)."""
    print(f"\nKILLS: {line}")


# --- The portal's own code, run in `manage.py shell` --------------------------------------------

SETUP = """
import json
from django.conf import settings
from django.test import Client
from portal.models import Role
from provisioning import services
from provisioning.models import Template
from tests.conftest import make_tenant, make_user
tenant = make_tenant("contoso", POINT_URL)
services.catalogue_sync(tenant=tenant)
user = make_user(tenant, "Adele", Role.REQUESTER)
browser = Client()
browser.force_login(user)
print(json.dumps({
    "user": user.pk,
    "session": browser.cookies[settings.SESSION_COOKIE_NAME].value,
    "templates": {t.upstream_id: t.pk for t in Template.objects.filter(tenant=tenant)},
}))
"""

SUBMIT = """
import json
from portal.models import User
from provisioning import services
from provisioning.models import Template
from tests.provisioning.lifecycle import request_data
template = Template.objects.get(tenant__slug="contoso", upstream_id=TEMPLATE)
item = services.request_submit(
    tenant=template.tenant, template=template, requested_by=User.objects.get(pk=USER),
    data=request_data(TEMPLATE),
)  # its send task is queued on commit, for the cluster
print(json.dumps({"id": item.pk, "typed": item.display_name}))
"""

REPORTS = """
import json
from directory import services
from tenants.models import Tenant
tenant = Tenant.objects.get(slug="contoso")
runs = [services.report_refresh(tenant=tenant, kind=k, subject=s).run.pk for k, s in WANTED]
print(json.dumps(runs))  # their tasks are queued on commit, for the cluster
"""

POLL_NOW = """
from django_q.tasks import async_task
async_task("provisioning.tasks.poll_requests")  # a pass now, not at the schedule's next minute
print("{}")
"""

HEARTBEAT_DONE = "Processed 'portal.tasks.heartbeat'"
FINAL = ("completed", "failed", "rejected", "cancelled")
POINT = "/point/contoso/v1.0"


# --- The stack: database, emulator, processes ---------------------------------------------------


@dataclass
class Stack:
    procs: Processes
    db: Database
    emulator: RunningEmulator
    user: int
    session: str
    templates: dict[str, int]
    web_port: int = 0
    typed: dict[int, str] = field(default_factory=dict)

    # The portal
    def submit(self, template: str = "3") -> int:
        made = self.procs.shell(SUBMIT, TEMPLATE=template, USER=self.user)
        self.typed[made["id"]] = made["typed"]
        return int(made["id"])

    def request(self, pk: int) -> dict[str, Any]:
        columns = ("state", "upstream_id", "poll_claim", "send_started_at", "maybe_sent")
        row = self.db.rows(
            f"SELECT {', '.join(columns)} FROM provisioning_provisioningrequest WHERE id = %s", pk
        )
        return dict(zip(columns, row[0], strict=True)) if row else {}

    def state(self, pk: int) -> str:
        return str(self.request(pk).get("state", ""))

    def events(self, pk: int) -> list[str]:
        return [
            str(detail)
            for (detail,) in self.db.rows(
                "SELECT detail FROM provisioning_requestevent WHERE request_id = %s ORDER BY id", pk
            )
        ]

    def wait_state(self, pk: int, states: tuple[str, ...], timeout: float) -> str:
        return wait_for(
            f"request {pk} in {states}",
            lambda: self.state(pk) if self.state(pk) in states else None,
            timeout=timeout,
            every=0.25,
            explain=lambda: self.explain(pk),
        )

    def follow(self, pk: int, since: float, bound: float) -> tuple[float, float]:
        """Seconds from ``since`` until the request reached Point again (it has Point's id, or
        is final: a workspace found is adopted as completed), at most ``bound``; then until it
        completed, at most FOLLOW more (the poller's next pass follows it)."""
        wait_for(
            f"request {pk} back in Point",
            lambda: self.request(pk).get("upstream_id") or self.state(pk) in FINAL,
            timeout=bound - (time.monotonic() - since),
            every=0.25,
            explain=lambda: self.explain(pk),
        )
        sent = time.monotonic() - since
        assert self.wait_state(pk, FINAL, timeout=FOLLOW) == "completed", self.explain(pk)
        return sent, time.monotonic() - since

    # The emulator: what Point received and made
    def point_requests(self, pk: int) -> list[dict[str, Any]]:
        typed = self.typed[pk].lower()
        found = self.emulator.control_get("requests")["requests"]
        return [r for r in found if typed in str(r.get("displayName", "")).lower()]

    def workspaces(self, pk: int) -> list[dict[str, Any]]:
        typed = self.typed[pk].lower()
        entries = self.emulator.control_get("ledger?tenant=contoso")["workspaces"]
        return [e for e in entries if typed in str(e["displayName"]).lower()]

    def assert_once(self, pk: int) -> None:
        """One Point request and one workspace for the request: never two."""
        assert len(self.point_requests(pk)) == 1, self.explain(pk)
        assert len(self.workspaces(pk)) == 1, self.explain(pk)

    # The worker
    def start_worker(self) -> None:
        self.procs.start("worker", "manage.py", "worker")

    def worker_ready(self, timeout: float = 60) -> None:
        """The new cluster ran a task: the heartbeat the supervisor queues as it starts it."""
        start = self.procs.starts["worker"]

        def ran() -> bool:
            text = self.procs.log_path("worker").read_text(errors="replace")
            return HEARTBEAT_DONE in text.split(f"===== start {start} of worker =====")[-1]

        wait_for("a heartbeat run by the new cluster", ran, timeout=timeout, explain=self.logs)

    # The web server
    def start_web(self) -> None:
        self.web_port = self.web_port or spare_port()
        self.procs.start(
            "web",
            "-m",
            "gunicorn",
            "portal.wsgi",
            "--bind",
            f"{HOST}:{self.web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "60",
        )
        wait_for(
            "the web server answering",
            lambda: self.healthz() is not None,
            timeout=60,
            explain=self.logs,
        )

    @contextmanager
    def watching(self, browser: requests.Session, pk: int) -> Iterator[None]:
        """The request page kept open: its live part asks for a check when one is due (htmx
        loads it every few seconds)."""
        closed = threading.Event()

        def look() -> None:
            while not closed.wait(2):
                try:
                    browser.get(
                        f"{self.web_url}/requests/{pk}/status",
                        headers={"HX-Request": "true"},
                        timeout=10,
                    )
                except requests.RequestException:
                    pass

        looking = threading.Thread(target=look, daemon=True)
        looking.start()
        try:
            yield
        finally:
            closed.set()
            looking.join(timeout=15)

    def healthz(self) -> int | None:
        try:
            return requests.get(f"{self.web_url}/healthz", timeout=5).status_code
        except requests.RequestException:
            return None

    @property
    def kind(self) -> str:
        return "SQLite" if self.db.sqlite else "PostgreSQL"

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    # Diagnostics
    def logs(self) -> str:
        return self.procs.logs_tail()

    def explain(self, pk: int) -> str:
        lines = [f"request {pk}: {self.request(pk)}", *(f"  event: {e}" for e in self.events(pk))]
        if pk in self.typed:
            lines.append(f"  Point requests: {self.point_requests(pk)}")
            lines.append(f"  workspaces: {self.workspaces(pk)}")
        return "\n".join(lines) + "\n" + self.logs()


def _shell_env(url: str) -> dict[str, str]:
    return portal_env(url, "http://127.0.0.1:9", SETTINGS)


def _migrate(url: str, logs: Path) -> None:
    procs = Processes(_shell_env(url), logs)
    procs.manage("migrate", "--noinput")
    procs.manage("setup_schedules")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The suite's kind of database (SQLite file, or PostgreSQL when the suite runs on it),
    migrated once with the schedules installed: each test starts from a copy."""
    work = tmp_path_factory.mktemp("kills-template")
    default = django_settings.DATABASES["default"]
    if "postgresql" not in default["ENGINE"]:
        url = f"sqlite:///{work / 'template.sqlite3'}"
        _migrate(url, work)
        yield url
        return
    user, password = default.get("USER") or "postgres", default.get("PASSWORD") or ""
    host, port = default.get("HOST") or "127.0.0.1", default.get("PORT") or "5432"
    server = f"postgres://{user}{':' + password if password else ''}@{host}:{port}"
    name = f"portal_kills_tmpl_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name)
    try:
        _migrate(url, work)
        yield url
    finally:
        drop_database(server, name)


def _copy(template: str, work: Path) -> Iterator[str]:
    """A database of its own for one test, copied from the migrated template."""
    if template.startswith("sqlite:///"):
        yield sqlite_copy(template, work / "portal.sqlite3")
        return
    server, template_name = server_of(template), template.rsplit("/", 1)[1]
    name = f"portal_kills_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name, template=template_name)
    try:
        yield url
    finally:
        drop_database(server, name)


def _stack(url: str, emulator: RunningEmulator, work: Path) -> Iterator[Stack]:
    emulator.control("timing", approval=0, approved=0, in_progress=0, job=0)
    procs = Processes(portal_env(url, emulator.url, SETTINGS), work)
    try:
        made = procs.shell(SETUP, POINT_URL=f"{emulator.url}{POINT.removesuffix('/v1.0')}")
        yield Stack(
            procs, Database(url), emulator, made["user"], made["session"], made["templates"]
        )
    finally:
        procs.kill_all()


@pytest.fixture
def stack(migrated: str, emulator: RunningEmulator, tmp_path: Path) -> Iterator[Stack]:
    """Database, emulator and a tenant with its catalogue, on the suite's kind of database;
    every process a test starts is killed at the end, pass or fail."""
    for url in _copy(migrated, tmp_path):
        yield from _stack(url, emulator, tmp_path)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_migrated(postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = create_database(postgres.server, "portal_template")
    _migrate(url, tmp_path_factory.mktemp("kills-pg-template"))
    return url


@pytest.fixture
def pg_stack(postgres_migrated: str, emulator: RunningEmulator, tmp_path: Path) -> Iterator[Stack]:
    """The same on the private PostgreSQL server, which a test may lock or restart."""
    for url in _copy(postgres_migrated, tmp_path):
        yield from _stack(url, emulator, tmp_path)


# --- The cluster killed -------------------------------------------------------------------------


def test_a_cluster_killed_mid_send_sends_once_and_completes(stack: Stack) -> None:
    # The dialect with no request lookup: the recovery finds the workspace by what Point
    # documents, as in production.
    stack.emulator.control("dialect", dialect="documented-minimal")
    stack.start_worker()
    stack.worker_ready()
    # Point acts on the POST, then holds the answer: the worker is mid-send when killed.
    stack.emulator.control(
        "faults", method="POST", path=f"{POINT}/provision/*", kind="hang_after", seconds=60
    )
    pk = stack.submit()
    wait_for(
        "the POST reached Point",
        lambda: stack.point_requests(pk),
        timeout=60,
        every=0.1,
        explain=lambda: stack.explain(pk),
    )
    killed = stack.procs.kill("worker")
    assert stack.request(pk)["state"] == "sending", stack.explain(pk)
    assert not stack.request(pk)["upstream_id"]  # the answer was never saved

    stack.start_worker()
    bound = send_bound(Q_RETRY, SEND_LEASE) + START
    sent, done = stack.follow(pk, killed, bound)
    stack.assert_once(pk)
    assert any("stopped without finishing" in e for e in stack.events(pk)), stack.explain(pk)
    figure(
        f"mid-send ({stack.kind}): adopted {sent:.1f} s after the kill (bound {bound} s), "
        f"completed after {done:.1f} s; Point requests 1, workspaces 1"
    )


def test_a_cluster_killed_mid_poll_checks_again_and_completes(stack: Stack) -> None:
    stack.emulator.control("timing", in_progress=30)  # still in progress when it is checked
    stack.start_worker()
    stack.worker_ready()
    pk = stack.submit()
    stack.wait_state(pk, ("approved", "in_progress"), timeout=60)
    upstream_id = str(stack.request(pk)["upstream_id"]).lower()
    since = time.time() - 1
    # Point reads the status, then holds the answer: the poller is mid-check when killed.
    stack.emulator.control(
        "faults",
        method="GET",
        path=f"{POINT}/provision/requests/*",
        kind="hang_after",
        seconds=60,
    )
    stack.procs.shell(POLL_NOW)

    def checked() -> bool:
        reads = stack.emulator.control_get(f"requests/reads?tenant=contoso&since={since}")
        return any(read[1] == upstream_id for read in reads["reads"])

    wait_for("a status check in flight", checked, timeout=60, every=0.1, explain=stack.logs)
    killed = stack.procs.kill("worker")
    held = stack.request(pk)
    assert held["state"] in ("approved", "in_progress") and held["poll_claim"], stack.explain(pk)

    stack.start_worker()
    bound = poll_bound(POLL_MAX_INTERVAL, POLL_BUDGET) + START
    assert stack.wait_state(pk, FINAL, timeout=bound) == "completed", stack.explain(pk)
    took = time.monotonic() - killed
    stack.assert_once(pk)
    figure(
        f"mid-poll ({stack.kind}): checked again and completed {took:.1f} s after the kill "
        f"(bound {bound} s); Point requests 1, workspaces 1"
    )


def _run(stack: Stack, pk: int) -> dict[str, Any]:
    columns = (
        "state",
        "upstream_job_id",
        "fetch_claimed_at",
        "last_polled_at",
        "row_count",
        "error",
    )
    row = stack.db.rows(f"SELECT {', '.join(columns)} FROM directory_reportrun WHERE id = %s", pk)
    found = dict(zip(columns, row[0], strict=True))
    stored = stack.db.rows(
        "SELECT count(*), count(DISTINCT position) FROM directory_reportrow WHERE run_id = %s", pk
    )[0]
    found["stored"], found["positions"] = stored
    return found


def jobs_for(emulator: RunningEmulator, upn: str) -> int:
    """How many user access report jobs of ``upn`` Point was asked for."""
    return sum(1 for job in upstream_jobs(emulator) if job["params"].get("user") == upn)


def test_a_cluster_killed_mid_report_finishes_every_report_once(stack: Stack) -> None:
    stack.start_worker()
    stack.worker_ready()
    # Three reports in flight at the kill, one per phase: a job still running upstream being
    # followed; a finished job whose rows are being stored (two pages, each read slowly); a
    # job being started (Point makes the job, then holds the answer).
    stack.emulator.control("timing", job=25)
    followed = stack.procs.shell(REPORTS, WANTED=[("user_access", ADELE)])[0]
    wait_for("a job being followed", lambda: _run(stack, followed)["last_polled_at"], timeout=60)
    stack.emulator.control("timing", job=0)
    stack.emulator.control("latency", method="GET", path=f"{POINT}/requests/*/result", ms=1500)
    stack.emulator.control(
        "faults", method="POST", path=f"{POINT}/users/access/generate", kind="hang_after"
    )
    stored, started = stack.procs.shell(
        REPORTS, WANTED=[("site_permissions", ""), ("user_access", MEGAN)]
    )
    runs = {"followed": followed, "stored": stored, "started": started}

    def explain() -> str:
        return "\n".join(f"{name}: {_run(stack, pk)}" for name, pk in runs.items()) + stack.logs()

    def all_in_flight() -> bool:
        return bool(_run(stack, stored)["stored"]) and bool(jobs_for(stack.emulator, MEGAN))

    wait_for(
        "rows being stored and a job being started",
        all_in_flight,
        timeout=60,
        every=0.05,
        explain=explain,
    )
    killed = stack.procs.kill("worker")
    at_kill = {name: _run(stack, pk) for name, pk in runs.items()}
    assert all(run["state"] == "running" for run in at_kill.values()), explain()
    assert at_kill["started"]["upstream_job_id"] == "", explain()  # its answer never came
    stack.emulator.control("latency", method="GET", path=f"{POINT}/requests/*/result", ms=0)

    stack.start_worker()
    bound = report_bound(Q_RETRY, Q_TIMEOUT) + START

    def finished() -> bool:
        return all(_run(stack, pk)["state"] != "running" for pk in runs.values())

    wait_for("every report finished", finished, timeout=bound, every=0.5, explain=explain)
    took = time.monotonic() - killed
    for pk in runs.values():
        run = _run(stack, pk)
        assert run["state"] == "succeeded", explain()
        # Every row once: nothing of the killed attempt is left beside the finished one.
        assert run["stored"] == run["positions"] == run["row_count"] > 0, explain()
    figure(
        f"mid-report ({stack.kind}): 3 reports (job followed, rows stored, job "
        f"started) succeeded {took:.1f} s after the kill (bound {bound} s); "
        f"{at_kill['stored']['stored']} of {_run(stack, stored)['row_count']} rows stored at "
        "the kill, each stored once after; upstream jobs of the report being started: "
        f"{jobs_for(stack.emulator, MEGAN)}"
    )


def test_a_cluster_killed_while_idle_loses_nothing_queued_meanwhile(stack: Stack) -> None:
    stack.start_worker()
    stack.worker_ready()
    last_task = stack.db.value("SELECT max(id) FROM django_q_ormq") or 0
    killed = stack.procs.kill("worker")
    pk = stack.submit()  # accepted while no cluster runs: its send waits in the queue

    restarted = time.monotonic()
    stack.start_worker()
    bound = START  # its send is among the first tasks the new cluster finds
    sent, done = stack.follow(pk, restarted, bound)
    stack.assert_once(pk)
    # Tasks the killed cluster had taken from the queue come back after Q_RETRY and are done.
    wait_for(
        "the killed cluster's tasks done",
        lambda: not stack.db.value("SELECT count(*) FROM django_q_ormq WHERE id <= %s", last_task),
        timeout=Q_RETRY + START,
        explain=stack.logs,
    )
    figure(
        f"idle ({stack.kind}): a request submitted while it was down sent {sent:.1f} s after "
        f"the restart (bound {bound} s), completed after {done:.1f} s; the killed cluster's "
        f"tasks done after {time.monotonic() - killed:.1f} s; Point requests 1, workspaces 1"
    )


# --- The web server killed mid-submit -----------------------------------------------------------


class _Form(HTMLParser):
    """The request form's fields, as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        name = named.get("name")
        if tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "input" and name and named.get("type") not in ("submit", "button"):
            if named.get("type") in ("radio", "checkbox") and "checked" not in named:
                return
            self.fields[name] = named.get("value") or ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None


def _waiting_on(stack: Stack, table: str) -> bool:
    """A statement writing ``table`` waits for the lock the test holds."""
    return bool(
        stack.db.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE %s",
            f'INSERT INTO "{table}"%',
        )
    )


# The requests the form made (its name is new: nothing else holds it).
MADE = "SELECT id, state FROM provisioning_provisioningrequest WHERE display_name = %s"

MOMENTS = {
    # The table the test locks: the web process blocks writing it, and is killed there.
    "before its row is written": "provisioning_provisioningrequest",
    "after its row, before its send is queued": "django_q_ormq",
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_the_web_killed_mid_submit_makes_the_request_once(pg_stack: Stack, moment: str) -> None:
    stack = pg_stack
    stack.start_web()
    browser = requests.Session()
    browser.cookies.set("sessionid", stack.session)
    form_url = f"{stack.web_url}/requests/new/{stack.templates['3']}/"
    page = browser.get(form_url, timeout=30)
    assert page.status_code == 200, page.text[:2000]
    parsed = _Form()
    parsed.feed(page.text)
    typed = f"Falcon web {uuid.uuid4().hex[:8]}"
    data = {**parsed.fields, "display_name": typed, "owners": ADELE, "members": ""}
    post = lambda: browser.post(form_url, data=data, allow_redirects=False, timeout=60)  # noqa: E731

    table = MOMENTS[moment]
    queued = stack.db.value("SELECT count(*) FROM django_q_ormq")
    with psycopg.connect(stack.db.url) as lock:
        lock.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE'.encode())
        outcome: list[Any] = []
        posting = threading.Thread(target=lambda: outcome.append(_call(post)))
        posting.start()
        wait_for(
            f"the POST waiting to write {table}",
            lambda: _waiting_on(stack, table),
            timeout=30,
            every=0.05,
            explain=stack.logs,
        )
        killed = stack.procs.kill("web")
        # Its waiting statement is cancelled with it (the private server checks for clients
        # gone: procs.PrivatePostgres) before the lock is let go.
        wait_for(
            f"the killed POST's write to {table} cancelled",
            lambda: not _waiting_on(stack, table),
            timeout=10,
            explain=stack.logs,
        )
        lock.rollback()
    posting.join(timeout=30)
    assert outcome and isinstance(outcome[0], requests.RequestException), outcome  # no answer

    made = stack.db.rows(MADE, typed)
    if table == "django_q_ormq":
        assert [state for _, state in made] == ["submitted"], made
        assert stack.db.value("SELECT count(*) FROM django_q_ormq") == queued  # send lost
    else:
        assert made == [], made

    stack.start_web()
    again = _call(post)  # the same form again (its submission key), as after an error page
    assert isinstance(again, requests.Response) and again.status_code == 302, again
    made = stack.db.rows(MADE, typed)
    assert len(made) == 1, made  # never two
    pk = int(made[0][0])
    assert again.headers["Location"] == f"/requests/{pk}/"
    stack.typed[pk] = typed

    stack.start_worker()
    lost = table == "django_q_ormq"
    bound = lost_send_bound(SEND_LEASE) + START if lost else int(time.monotonic() - killed) + START
    with stack.watching(browser, pk):  # the person keeps the request page open
        sent, done = stack.follow(pk, killed, bound)
    stack.assert_once(pk)
    figure(
        f"web killed {moment} ({stack.kind}): one request, sent {sent:.1f} s after the kill "
        f"(bound {bound} s), completed after {done:.1f} s; Point requests 1, workspaces 1"
    )


def _call(post: Any) -> requests.Response | requests.RequestException:
    try:
        return post()
    except requests.RequestException as error:
        return error


# --- The database restarted ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_database_restart_under_a_live_cluster_loses_nothing(
    pg_stack: Stack, postgres: PrivatePostgres, mode: str
) -> None:
    stack = pg_stack
    stack.start_web()
    stack.start_worker()
    stack.worker_ready()
    # The POST is held before Point acts: the send is in flight while the database goes away
    # and comes back, and saves its answer on a connection that was cut.
    stack.emulator.control("latency", method="POST", path=f"{POINT}/provision/*", ms=4000)
    before = stack.submit()
    stack.wait_state(before, ("sending",), timeout=60)
    began = time.monotonic()
    outage = postgres.restart(mode)
    stack.emulator.control("latency", method="POST", path=f"{POINT}/provision/*", ms=0)
    after = stack.submit()  # once the database is back

    # The cluster works again by itself: a request submitted now is sent like any other.
    sent_after, _ = stack.follow(after, began, int(time.monotonic() - began) + START)
    # The send cut off by the restart is resumed like a killed one.
    sent_before, done = stack.follow(before, began, send_bound(Q_RETRY, SEND_LEASE) + START)
    for pk in (before, after):
        stack.assert_once(pk)
    wait_for("/healthz 200", lambda: stack.healthz() == 200, timeout=60, explain=stack.logs)
    replaced = stack.procs.log_path("worker").read_text().count("worker: replaced qcluster")
    figure(
        f"database restart -m {mode} ({stack.kind}, {outage:.1f} s): a new request sent "
        f"{sent_after:.1f} s after the restart began; the send it cut off adopted after "
        f"{sent_before:.1f} s (bound {send_bound(Q_RETRY, SEND_LEASE) + START} s), completed "
        f"after {done:.1f} s; no manual restart (qcluster replaced by its supervisor "
        f"{replaced} times); Point requests 1, workspaces 1 each"
    )

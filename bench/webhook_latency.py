"""Status latency, webhooks versus polling: how long after Point finishes creating a workspace
an open request page shows "Completed".

One run starts its own emulator (Point), django-q2 worker (`manage.py worker`) and web server
(gunicorn) on spare ports with a fresh SQLite database under var/bench/, then, for each mode
(webhooks on, then polling only), submits requests a few at a time and watches each one's page
the way htmx does: GET /requests/<pk>/status with `HX-Request: true` at the interval the page
asks for (`hx-trigger="every Ns"`), signed in as the requester. Latency per request = the moment
the fragment first shows `state-completed` minus the moment Point finished (the float behind the
ledger's `created`, which is only to the second). Figures go to stdout and to this script's
section of docs/performance.md. Compare the modes with each other, not with other machines.

    make bench
    .venv/bin/python bench/webhook_latency.py --requests 10 --concurrency 3 [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/, bench/ and the portal for django_setup()

from bench import common  # noqa: E402
from devtools.stack import EMULATOR_STATE_FILE, HOST, Services, control, stack  # noqa: E402

WORK = ROOT / "var" / "bench" / "webhook_latency"
EMULATOR_STATE = WORK / EMULATOR_STATE_FILE

TENANT = "contoso"
REQUESTER_UPN = "adele.vance@contoso.onmicrosoft.com"
# Point template "3": a team with automatic approval; owners are all it needs.
TEMPLATE = "3"
# Point's phases (s): no approval wait, then 0.3 s approved and 1 s in progress.
TIMING = {"approval": 0, "approved": 0.3, "in_progress": 1.0}
# The portal caches a tenant's webhook trust for 15 s per process
# (provisioning/services/webhook_health.py): let the worker see webhooks go off.
TRUST_CACHE_SECONDS = 16
STATUS_CHECK = re.compile(r"GET /point/contoso/v1\.0/provision/requests/[^/\s?]+ ")
PAGE_INTERVAL = re.compile(r'hx-trigger="every (\d+(?:\.\d+)?)s"')


# --- The portal, from inside -------------------------------------------------------------------


def django_setup() -> None:
    common.django_setup()
    # This process only submits; "Enqueued" lines would drown the figures.
    logging.getLogger("django-q").setLevel(logging.WARNING)


@dataclass
class Portal:
    """What the bench needs of the portal: the tenant, the template, the requester's cookie."""

    tenant_id: int
    template_id: int
    user_id: int
    cookie: str


def prepare_portal() -> Portal:
    """Templates synced, the requester (Adele Vance) signed in: a session made directly."""
    from core.roles import Role
    from provisioning import services
    from provisioning.models import Template
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    services.catalogue_sync(tenant=tenant)
    template = Template.objects.get(tenant=tenant, upstream_id=TEMPLATE)
    user, cookie = common.signed_in(TENANT, REQUESTER_UPN, Role.REQUESTER)
    return Portal(tenant_id=tenant.pk, template_id=template.pk, user_id=user.pk, cookie=cookie)


def submit(portal: Portal, name: str) -> int:
    """A request as the form would store it; its send is queued to the worker on commit."""
    from portal.models import User
    from provisioning import services
    from provisioning.models import Template
    from provisioning.payload import RequestData

    template = Template.objects.select_related("tenant").get(pk=portal.template_id)
    item = services.request_submit(
        tenant=template.tenant,
        template=template,
        requested_by=User.objects.get(pk=portal.user_id),
        data=RequestData(
            display_name=name, description="Status latency benchmark", owners=[REQUESTER_UPN]
        ),
    )
    return item.pk


def set_webhooks(on: bool) -> None:
    from django.core.management import call_command

    call_command("webhooks", "on" if on else "off", TENANT)


@dataclass
class PortalTimes:
    """When the portal recorded Completed, from which source, and when the event arrived."""

    upstream_id: str
    completed_at: float | None
    source: str
    event_received_at: float | None


def portal_times(pk: int) -> PortalTimes:
    from provisioning.models import ProvisioningRequest, RequestEvent, WebhookDelivery
    from provisioning.states import State

    item = ProvisioningRequest.objects.get(pk=pk)
    event = (
        RequestEvent.objects.filter(request=item, to_state=State.COMPLETED).order_by("at").first()
    )
    delivery = (
        WebhookDelivery.objects.filter(request=item, event_type="ProvisioningCompleted")
        .order_by("received_at")
        .first()
    )
    return PortalTimes(
        upstream_id=item.upstream_id,
        completed_at=event.at.timestamp() if event else None,
        source=event.source if event else "",
        event_received_at=delivery.received_at.timestamp() if delivery else None,
    )


# --- The emulator ------------------------------------------------------------------------------


class Emulator:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def control(self, path: str, body: dict[str, Any]) -> None:
        control(self.url, path, body)

    def finished(self) -> dict[str, float]:
        """Upstream request id -> when Point finished creating its workspace (epoch s).

        The ledger's `created` is ISO to the second; the emulator's state file holds the same
        moment as a float (`finished_at`), which is used when it agrees with the ledger."""
        answer = common.emulator_get(self.url, "ledger", timeout=10, tenant=TENANT)
        ledger = {
            w["requestId"]: datetime.fromisoformat(w["created"]).timestamp()
            for w in answer["workspaces"]
        }
        state = json.loads(EMULATOR_STATE.read_text())
        stored = state.get("point", {}).get(TENANT, {}).get("requests", {})
        precise: dict[str, float] = {}
        for request_id, created in ledger.items():
            at = stored.get(request_id, {}).get("finished_at")
            exact = isinstance(at, float | int) and math.floor(at) == created
            precise[request_id] = float(at) if exact else created
        return precise

    def status_checks(self) -> int:
        """Status reads of single requests so far (the emulator logs one line per request)."""
        text = self.log.read_text(errors="replace")
        return len(STATUS_CHECK.findall(text))


# --- The open page -----------------------------------------------------------------------------


@dataclass
class Watch:
    """One request page, watched from just after submit until it shows Completed."""

    pk: int
    opened_at: float
    seen_at: float | None = None
    polls: int = 0
    interval: float = 0.0
    problem: str = ""


def watch_page(base: str, cookie: str, watch: Watch, timeout: float) -> None:
    """Open the page, then poll its live fragment as htmx does (each poll `every Ns` after the
    previous swap), until it shows state-completed or something else final."""
    http = requests.Session()
    http.headers["Cookie"] = cookie
    deadline = time.monotonic() + timeout
    try:
        page = http.get(f"{base}/requests/{watch.pk}/", allow_redirects=False, timeout=30)
        if page.status_code != 200:
            watch.problem = f"page answered {page.status_code}"
            return
        body = page.text
        while True:
            if "state-completed" in body:
                watch.seen_at = time.time()
                return
            found = PAGE_INTERVAL.search(body)
            if found is None:
                watch.problem = "the page stopped polling before Completed"
                return
            watch.interval = float(found.group(1))
            if time.monotonic() + watch.interval > deadline:
                watch.problem = f"not Completed after {timeout:.0f} s"
                return
            time.sleep(watch.interval)
            fragment = http.get(
                f"{base}/requests/{watch.pk}/status",
                headers={"HX-Request": "true"},
                allow_redirects=False,
                timeout=30,
            )
            watch.polls += 1
            if fragment.status_code not in (200, 286):  # 286: htmx stops polling
                watch.problem = f"status fragment answered {fragment.status_code}"
                return
            body = fragment.text
    except requests.RequestException as error:
        watch.problem = f"{type(error).__name__}: {error}"


# --- A mode ------------------------------------------------------------------------------------


@dataclass
class Bench:
    """What every measured request needs."""

    services: Services
    portal: Portal
    emulator: Emulator
    base: str  # the portal's URL
    concurrency: int
    timeout: float  # seconds a page waits for Completed


@dataclass
class Sample:
    pk: int
    latency: float  # page shows Completed - Point finished
    to_portal: float  # portal records Completed - Point finished
    to_page: float  # page shows it - portal records it
    event_after: float | None  # Completed event received - Point finished (webhooks)
    source: str  # what applied Completed: webhook or poll
    polls: int  # page polls


@dataclass
class ModeResult:
    name: str
    interval: float = 0.0  # the page's poll interval
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    status_checks: int = 0  # upstream status reads during the mode
    wall: float = 0.0


def run_requests(bench: Bench, count: int, label: str) -> list[Watch]:
    """Submit `count` requests, `concurrency` at a time; each page opened right after submit."""
    watches: list[Watch] = []
    run = uuid.uuid4().hex[:6]
    for first in range(0, count, bench.concurrency):
        threads = []
        for number in range(first, min(count, first + bench.concurrency)):
            pk = submit(bench.portal, f"Bench {label} {run} {number + 1}")
            watch = Watch(pk=pk, opened_at=time.time())
            thread = threading.Thread(
                target=watch_page,
                args=(bench.base, bench.portal.cookie, watch, bench.timeout),
                daemon=True,
            )
            thread.start()
            threads.append(thread)
            watches.append(watch)
        while any(thread.is_alive() for thread in threads):  # the pages record their own times
            bench.services.check_alive()
            time.sleep(0.2)
    return watches


def measure(bench: Bench, name: str, count: int) -> ModeResult:
    result = ModeResult(name)
    checks_before = bench.emulator.status_checks()
    started = time.monotonic()
    watches = run_requests(bench, count, name)
    result.wall = time.monotonic() - started
    time.sleep(0.5)  # the emulator's log line follows its answer
    bench.services.check_alive()
    result.status_checks = bench.emulator.status_checks() - checks_before
    finished = bench.emulator.finished()
    for watch in watches:
        result.interval = max(result.interval, watch.interval)
        if watch.problem or watch.seen_at is None:
            result.problems.append(f"request {watch.pk}: {watch.problem or 'not seen'}")
            continue
        times = portal_times(watch.pk)
        done = finished.get(times.upstream_id)
        if done is None or times.completed_at is None:
            result.problems.append(f"request {watch.pk}: not in Point's ledger or not Completed")
            continue
        received = times.event_received_at
        result.samples.append(
            Sample(
                pk=watch.pk,
                latency=watch.seen_at - done,
                to_portal=times.completed_at - done,
                to_page=watch.seen_at - times.completed_at,
                event_after=None if received is None else received - done,
                source=times.source,
                polls=watch.polls,
            )
        )
    return result


# --- Figures -----------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def median_of(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return seconds(statistics.median(known)) if known else "—"


ROWS = [
    "Requests measured",
    "Page poll interval",
    "**Latency, median**",
    "Latency, p90",
    "Latency, max",
    "Point done → Completed event received, median",
    "Point done → portal state Completed, median",
    "Portal state Completed → page shows it, median",
    "Completed applied by",
    "Upstream status checks (GET …/provision/requests/{id})",
    "Page polls per request, median",
]


def column(r: ModeResult) -> list[str]:
    """One mode's figures, in the order of ROWS."""
    latencies = [s.latency for s in r.samples]
    nothing = not latencies
    sources: dict[str, int] = {}
    for s in r.samples:
        sources[s.source] = sources.get(s.source, 0) + 1
    return [
        f"{len(r.samples)} of {len(r.samples) + len(r.problems)}",
        f"{r.interval:g} s",
        "—" if nothing else f"**{seconds(statistics.median(latencies))}**",
        "—" if nothing else seconds(common.nearest_rank(latencies, 0.9)),
        "—" if nothing else seconds(max(latencies)),
        median_of([s.event_after for s in r.samples]),
        median_of([s.to_portal for s in r.samples]),
        median_of([s.to_page for s in r.samples]),
        ", ".join(f"{name} {n}" for name, n in sorted(sources.items())) or "—",
        str(r.status_checks),
        f"{statistics.median([s.polls for s in r.samples] or [0]):g}",
    ]


def ratio_line(webhooks: ModeResult, polling: ModeResult) -> str:
    fast = [s.latency for s in webhooks.samples]
    slow = [s.latency for s in polling.samples]
    if not fast or not slow:
        return "Ratio: not computed (a mode has no measured request)."
    median_ratio = statistics.median(slow) / statistics.median(fast)
    p90_ratio = common.nearest_rank(slow, 0.9) / common.nearest_rank(fast, 0.9)
    p90 = common.nearest_rank(fast, 0.9)
    verdict = "met" if p90 < 2 else "**not met**"
    return (
        f"Polling only / webhooks: median ×{median_ratio:.1f}, p90 ×{p90_ratio:.1f}. "
        f"Target under 2 s with webhooks (p90 {p90:.2f} s): {verdict}."
    )


def machine() -> str:
    from django.conf import settings
    from django.db import connection

    database = connection.vendor
    if database == "sqlite":
        database = f"SQLite {sqlite3.sqlite_version}, django-q2 ORM broker"
    return common.machine(
        [database],
        f"gunicorn 2 workers × 4 threads, `manage.py worker` with {settings.Q_CLUSTER['workers']} "
        "task workers, emulator dialect `today`",
    )


def report(webhooks: ModeResult, polling: ModeResult, args: argparse.Namespace) -> str:
    lines = [
        "## Status latency: webhooks versus polling",
        "",
        common.written_by("webhook_latency.py"),
        "",
        f"Machine: {machine()}.",
        "",
        "Method: one run starts its own emulator, worker and gunicorn on a fresh database and "
        f"sets Point's phases to {TIMING['approved']:g} s approved, {TIMING['in_progress']:g} s "
        f"in progress (template {TEMPLATE}, automatic approval). It submits {args.requests} "
        f"requests per mode, {args.concurrency} at a time: webhooks on, then off "
        "(`manage.py webhooks off contoso`: polling only). Each page is opened right after "
        "submit, signed in as the requester, and its live fragment polled as htmx does, at the "
        "interval the page asks for. Latency = the fragment first shows Completed − Point "
        "finished the workspace (the ledger's `created`, to the sub-second from the emulator's "
        "state file); p90 by nearest rank. Settings are the defaults "
        "(PROVISIONING_POLL_MIN_INTERVAL 10 s, ORM broker poll 0.2 s). Point this quick finishes "
        "before polling's first check (10 s after the send), so the polling column sits near "
        "its worst case; a slower Point would finish anywhere in the ~12 s between checks "
        "(about 3 to 15 s).",
        "",
        "| | Webhooks on | Polling only |",
        "|---|---|---|",
        *[
            f"| {row} | {a} | {b} |"
            for row, a, b in zip(ROWS, column(webhooks), column(polling), strict=True)
        ],
        "",
        ratio_line(webhooks, polling),
    ]
    problems = webhooks.problems + polling.problems
    if problems:
        lines += ["", "Not measured: " + "; ".join(problems) + "."]
    return "\n".join(lines)


def print_samples(result: ModeResult) -> None:
    print(f"\n{result.name}: {len(result.samples)} requests in {result.wall:.0f} s")
    for s in sorted(result.samples, key=lambda s: s.pk):
        event = "" if s.event_after is None else f" event {s.event_after:5.2f}"
        print(
            f"  #{s.pk:<4} latency {s.latency:5.2f} s  portal {s.to_portal:5.2f}{event}"
            f"  page +{s.to_page:4.2f}  via {s.source:8} polls {s.polls}"
        )
    for problem in result.problems:
        print(f"  {problem}")


# --- Main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10, help="requests per mode (10)")
    parser.add_argument("--concurrency", type=int, default=3, help="requests at a time (3)")
    parser.add_argument("--portal-port", type=int, default=8101)
    parser.add_argument("--emulator-port", type=int, default=8102)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request (120)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args(argv)
    common.stop_on_signals()  # unwinds through stack(), which stops every process
    base = f"http://{HOST}:{args.portal_port}"
    print(f"Starting emulator, worker and gunicorn (logs in {WORK.relative_to(ROOT)}/)...")
    with stack(WORK, args.portal_port, args.emulator_port, web="gunicorn") as services:
        os.environ.update(services.env)  # this process reads the same settings
        django_setup()
        emulator = Emulator(f"http://{HOST}:{args.emulator_port}", services.log_path("emulator"))
        emulator.control("timing", TIMING)
        emulator.control("webhooks", {"duplicate_rate": 0})
        portal = prepare_portal()
        set_webhooks(True)
        print("Warming up...")
        bench = Bench(services, portal, emulator, base, args.concurrency, args.timeout)
        # Warm up (tokens, imports, the worker's first pickup); not counted.
        warm = run_requests(bench, 1, "warm-up")
        if warm[0].problem:
            raise RuntimeError(f"Warm-up request failed: {warm[0].problem}")

        print(f"Webhooks on: {args.requests} requests, {args.concurrency} at a time...")
        webhooks = measure(bench, "Webhooks on", args.requests)
        print_samples(webhooks)

        set_webhooks(False)
        time.sleep(TRUST_CACHE_SECONDS)
        print(f"Polling only: {args.requests} requests, {args.concurrency} at a time...")
        polling = measure(bench, "Polling only", args.requests)
        print_samples(polling)

        print("Stopping...")
    common.publish("webhook_latency", report(webhooks, polling, args), not args.no_docs)
    return 0


if __name__ == "__main__":
    common.run_main(main, "webhook_latency.py")

"""Scale-out: two web nodes and two workers on one PostgreSQL with Redis as broker and cache,
5,000 requests in flight and page load at the same time; then one node and one worker.

For each configuration one run makes a fresh PostgreSQL database (migrate, seed_demo,
setup_schedules), flushes Redis database 3, resets the emulator (Point) and creates N Point
requests (`POST /_control/requests/bulk`) in chunks that Point keeps approved for 20 s to 2 min
and then in progress for 40 s (so they finish over about three minutes), and N portal requests
approved with those upstream ids, all due. It then starts the workers (`manage.py worker`,
each a supervised qcluster) and the gunicorn nodes (flags from README.md's production recipe),
and drives every node with wrk, signed in as Contoso's IT staff, on "All requests" and request
pages, while the scheduled poller follows the requests to Completed.

Measured: page requests per second and p95 per node and in all; status checks per minute
(the emulator's record of each status read); per request, the status reads and the shortest
gap between two of them (nothing checked twice in a pass: no gap under
PROVISIONING_POLL_MIN_INTERVAL); at the end every request Completed (counted by state), none
lost, and Point's ledger holding exactly one workspace per request. Figures go to stdout and to
this script's section of docs/performance.md.

    .venv/bin/python bench/scaleout.py [--requests 5000] [--configs 2,1] [--load-seconds 240]
        [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/, bench/ and the portal for the child processes

# bench/poller.py: its seeding child, the Point template and kind, the poller's settings.
from bench import common, poller  # noqa: E402
from bench.common import cpu_seconds, machine_ticks  # noqa: E402
from bench.load import Wrk, WrkResult, WrkRun, warm, write_script, wrk_path  # noqa: E402
from devtools.stack import HOST, Services, control, port_open, stack_env  # noqa: E402

WORK = ROOT / "var" / "bench" / "scaleout"
DATABASE = "portal_bench_scale"
REDIS_URL = "redis://127.0.0.1:6379/3"
TENANTS = poller.TENANTS
IT_STAFF_TENANT = "contoso"
WATCHED_PAGES = 20  # request pages in the load, each a different request of Contoso
# Point: chunk k approved for APPROVED[k] s, then in progress for IN_PROGRESS s, then done.
APPROVED = (20, 44, 68, 92, 116, 140)
IN_PROGRESS = 40
POLL_TASK = "provisioning.tasks.poll_requests"
GUNICORN_DEFAULT = ["--workers", "2", "--threads", "4", "--timeout", "30"]


# --- Child processes ---------------------------------------------------------------------------


def child_session(pks_file: Path) -> dict[str, Any]:
    """Contoso's IT staff member signed in (a session made directly), and request pages."""
    from django.conf import settings

    from core.roles import Role
    from provisioning.models import ProvisioningRequest
    from tenants.models import Tenant

    data = common.fixture_tenant(IT_STAFF_TENANT)
    person = next(u for u in data["users"] if "Portal.ITStaff" in u["roles"])
    tenant = Tenant.objects.get(slug=IT_STAFF_TENANT)
    _, cookie = common.signed_in(IT_STAFF_TENANT, person["upn"], Role.IT_STAFF)
    pks = list(
        ProvisioningRequest.objects.filter(tenant=tenant)
        .order_by("id")
        .values_list("pk", "upstream_id")[:: max(1, 2500 // WATCHED_PAGES)][:WATCHED_PAGES]
    )
    pks_file.write_text(json.dumps(pks))
    return {
        "cookie": cookie,
        "who": person["upn"],
        "session_engine": settings.SESSION_ENGINE,
        "cache": settings.CACHES["default"]["BACKEND"],
        "broker": "redis" if "redis" in settings.Q_CLUSTER else "orm",
        "settings": poller.poller_settings(),
    }


def child_collect() -> dict[str, Any]:
    """Requests by state, and what the schedule and the task tables say."""
    from django.db.models import Count
    from django_q.models import Failure, Schedule, Success

    from provisioning.models import ProvisioningRequest, RequestEvent

    states = dict(
        ProvisioningRequest.objects.values_list("state").annotate(n=Count("id")).order_by()
    )
    completed_events = (
        RequestEvent.objects.filter(to_state="completed")
        .values("request_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    schedule = Schedule.objects.filter(func=POLL_TASK).values(
        "schedule_type", "minutes", "next_run"
    )
    polls = [
        {
            "started": task.started.timestamp(),
            "stopped": task.stopped.timestamp(),
            "result": task.result,
        }
        for task in Success.objects.filter(func=POLL_TASK).order_by("started")
    ]
    return {
        "states": states,
        "completed_twice": completed_events,
        "urls_missing": ProvisioningRequest.objects.filter(state="completed", workspace_url="")
        .exclude(upstream_id="")
        .count(),
        "schedule": [{**s, "next_run": str(s["next_run"])} for s in schedule],
        "polls_kept": polls,
        "failures": list(Failure.objects.values_list("func", flat=True)[:20]),
        "upstream_ids": list(ProvisioningRequest.objects.values_list("pk", "upstream_id")),
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/scaleout.py (child)")
    parser.add_argument("command", choices=["_session", "_collect"])
    parser.add_argument("--pks", type=Path)
    args = parser.parse_args(argv)
    common.django_setup()
    common.answer(child_session(args.pks) if args.command == "_session" else child_collect())
    return 0


# --- The run -----------------------------------------------------------------------------------


def gunicorn_flags() -> list[str]:
    """The production recipe's gunicorn flags (README.md), without its --bind."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running in production", 1)[-1]
    line = next((ln for ln in section.splitlines() if ln.startswith("gunicorn ")), "")
    words = shlex.split(line.split("#", 1)[0])[2:] if line else []
    flags: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("--bind", "-b"):
            skip = True
            continue
        if word.startswith("--bind="):
            continue
        flags.append(word)
    return flags or GUNICORN_DEFAULT


@dataclass
class NodeLoad:
    port: int
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @classmethod
    def of(cls, port: int, load: WrkResult) -> NodeLoad:
        """What wrk measured on the node at ``port``."""
        return cls(
            port, load.requests, load.seconds, load.p50_ms, load.p95_ms, load.p99_ms, load.errors
        )


@dataclass
class ConfigResult:
    nodes: int
    workers: int
    requests: int
    gunicorn: list[str] = field(default_factory=list)
    loads: list[NodeLoad] = field(default_factory=list)
    connections: int = 0
    seeded_at: float = 0.0
    started_at: float = 0.0
    point_done_at: float = 0.0  # the last workspace in Point's ledger
    all_completed_at: float | None = None  # the portal showed every request Completed
    states: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    completed_twice: int = 0
    ledger_ours: int = 0
    ledger_duplicates: int = 0
    ledger_missing: int = 0
    reads: int = 0
    reads_per_minute: list[int] = field(default_factory=list)
    reads_per_request: dict[str, int] = field(default_factory=dict)  # distribution
    min_gap: float | None = None
    close_pairs: int = 0  # two reads of one id less than MIN_INTERVAL apart
    close_watched: int = 0  # of which requests whose page (and live fragment) was loaded
    close_examples: list[str] = field(default_factory=list)
    watched_min_gap: float | None = None
    bursts: list[dict[str, Any]] = field(default_factory=list)
    passes: list[dict[str, Any]] = field(default_factory=list)  # from the workers' logs
    schedule: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    emulator_cpu: float = 0.0
    machine_busy: float = 0.0
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace, emulator_pid: int, wrk: str) -> None:
        self.args = args
        self.emulator = f"http://{HOST}:{args.emulator_port}"
        self.emulator_pid = emulator_pid
        self.wrk = wrk

    def child(self, env: dict[str, str], *argv: str) -> dict[str, Any]:
        """This script (or bench/poller.py, argv's first) as a child process; its answer."""
        script = Path(__file__).resolve()
        if argv[0] == "_seed":
            script = ROOT / "bench" / "poller.py"
            argv = (*argv, "--tree", str(ROOT))
        command = [sys.executable, str(script), *argv]
        return common.run_child(argv[0], command, env=env, cwd=ROOT, log=WORK / "children.log")

    def fresh_database(self) -> str:
        """An empty PostgreSQL database, and Redis database 3 flushed."""
        url = common.fresh_postgres(DATABASE)
        subprocess.run(["redis-cli", "-n", "3", "flushdb"], check=True, capture_output=True)
        return url

    def seed_point(self, size: int) -> dict[str, Any]:
        """N Point requests in chunks finishing over minutes; the plan for the portal's rows."""
        control(self.emulator, "reset", {})
        control(self.emulator, "webhooks", {"duplicate_rate": 0})
        plan: dict[str, Any] = {
            "requests": {slug: [] for slug in TENANTS},
            "warm": {},
            "poll_interval": 0,
            "state": "approved",
        }
        run = datetime.now(UTC).strftime("%H%M%S")
        per_chunk = [
            size // len(APPROVED) + (i < size % len(APPROVED)) for i in range(len(APPROVED))
        ]
        for k, (approved, count) in enumerate(zip(APPROVED, per_chunk, strict=True)):
            control(
                self.emulator,
                "timing",
                {"approval": 0, "approved": approved, "in_progress": IN_PROGRESS},
            )
            shares = [
                count // len(TENANTS) + (i < count % len(TENANTS)) for i in range(len(TENANTS))
            ]
            for slug, share in zip(TENANTS, shares, strict=True):
                body = {
                    "templateId": poller.TEMPLATE,
                    "displayName": f"Scale-out {run} chunk {k + 1}",
                    "owners": [poller.requester(common.fixture_tenant(slug))["upn"]],
                }
                made = common.emulator_post(
                    self.emulator,
                    "requests/bulk",
                    {"tenant": slug, "kind": poller.KIND, "count": share, "body": body},
                )
                plan["requests"][slug] += made["requests"]
                if k == 0 and slug not in plan["warm"]:
                    plan["warm"][slug] = made["requests"][0]["id"]
        return plan

    def run_config(self, nodes: int, workers: int) -> ConfigResult:
        args = self.args
        size = args.requests
        result = ConfigResult(nodes=nodes, workers=workers, requests=size)
        result.gunicorn = gunicorn_flags()
        result.connections = args.connections
        ports = args.ports[:nodes]
        for port in ports:
            if port_open(port):
                raise RuntimeError(f"Port {port} is in use: stop what runs there or pick another.")
        extra = {
            "DATABASE_URL": self.fresh_database(),
            "REDIS_URL": REDIS_URL,
            "DEBUG": "false",
            **dict(item.split("=", 1) for item in args.set),
        }
        env = stack_env(WORK, ports[0], args.emulator_port, extra)
        services = Services(env, WORK)
        label = f"{nodes}x{workers}"
        try:
            python = sys.executable
            services.run(f"migrate-{label}", python, "manage.py", "migrate", "--noinput")
            services.run(f"seed_demo-{label}", python, "manage.py", "seed_demo")
            services.run(f"setup_schedules-{label}", python, "manage.py", "setup_schedules")
            print(f"  {size} Point requests...", flush=True)
            plan = self.seed_point(size)
            plan_file = WORK / "plan.json"
            plan_file.write_text(json.dumps(plan))
            print("  the portal's rows...", flush=True)
            seeded = int(self.child(env, "_seed", "--plan", str(plan_file))["seeded"])
            result.seeded_at = time.time()
            if seeded != size:
                raise RuntimeError(f"seeded {seeded} requests, not {size}")
            pks_file = WORK / "pages.json"
            session = self.child(env, "_session", "--pks", str(pks_file))
            result.settings = session["settings"]
            watched = json.loads(pks_file.read_text())
            paths = []
            for pk, _ in watched:
                paths += ["/requests/all/", f"/requests/{pk}/", f"/requests/{pk}/status"]
            for n in range(workers):
                services.start(f"worker{n + 1}-{label}", python, "manage.py", "worker")
            for port in ports:
                name = f"gunicorn-{port}-{label}"
                services.start(name, *common.gunicorn(port, *result.gunicorn))
                services.wait_for_port(name, port)
            check_pages(ports, session["cookie"], paths[:2])
            if args.latency_ms:
                control(
                    self.emulator,
                    "latency",
                    {"method": "GET", "path": poller.STATUS_ROUTE, "ms": args.latency_ms},
                )
            result.started_at = time.time()
            emulator_cpu, machine = cpu_seconds(self.emulator_pid), machine_ticks()
            print(
                f"  load: wrk on {len(ports)} node(s), {args.connections} connections each, "
                f"{args.load_seconds:.0f} s; following {size} requests...",
                flush=True,
            )
            loads = [self.start_wrk(port, paths, session["cookie"]) for port in ports]
            deadline = result.started_at + args.max_seconds
            while True:
                time.sleep(5)
                services.check_alive()
                done = completed(env)
                print(f"    {time.time() - result.started_at:4.0f} s: {done} completed", flush=True)
                if done >= size and result.all_completed_at is None:
                    result.all_completed_at = time.time()
                wrk_running = any(load.running for load in loads)
                if not wrk_running and (result.all_completed_at or time.time() > deadline):
                    break
            for load, port in zip(loads, ports, strict=True):
                result.loads.append(NodeLoad.of(port, load.result()))
            result.emulator_cpu = cpu_seconds(self.emulator_pid) - emulator_cpu
            busy, total = machine_ticks()
            result.machine_busy = (busy - machine[0]) / max(1, total - machine[1])
            check_pages(ports, session["cookie"], paths[:2])
        finally:
            services.stop_all()
        self.tally(result, env, plan, {str(pk) for _, pk in watched}, label)
        return result

    def start_wrk(self, port: int, paths: list[str], cookie: str) -> WrkRun:
        """wrk on one node for --load-seconds, taking the paths in turn; its output kept in
        wrk-<port>.out."""
        script = write_script(WORK / f"load-{port}.lua", paths, cookie)
        wrk = Wrk(self.wrk, script, self.args.connections)
        url = f"http://{HOST}:{port}"
        return wrk.start(url, int(self.args.load_seconds), out=WORK / f"wrk-{port}.out")

    def tally(
        self,
        result: ConfigResult,
        env: dict[str, str],
        plan: dict[str, Any],
        watched_ids: set[str],
        label: str,
    ) -> None:
        collected = self.child(env, "_collect")
        result.states = collected["states"]
        result.schedule = collected["schedule"]
        result.failures = collected["failures"]
        result.completed_twice = collected["completed_twice"]
        ours = {r["id"] for slug in TENANTS for r in plan["requests"][slug]}
        portal_ids = {upstream_id for _, upstream_id in collected["upstream_ids"]}
        result.lost = len(ours - portal_ids) + (result.requests - sum(result.states.values()))
        ledger = common.emulator_get(self.emulator, "ledger")["workspaces"]
        per_request = Counter(w["requestId"] for w in ledger if w["requestId"] in ours)
        result.ledger_ours = sum(per_request.values())
        result.ledger_duplicates = sum(1 for n in per_request.values() if n > 1)
        result.ledger_missing = len(ours - set(per_request))
        if ledger:
            result.point_done_at = max(
                datetime.fromisoformat(w["created"]).timestamp() for w in ledger
            )
        reads = [
            (request_id, at)
            for _, request_id, at in common.emulator_get(
                self.emulator, "requests/reads", since=result.started_at - 1
            )["reads"]
            if request_id in ours
        ]
        result.reads = len(reads)
        minutes = Counter(int((at - result.started_at) // 60) for _, at in reads)
        result.reads_per_minute = [minutes.get(m, 0) for m in range(max(minutes, default=-1) + 1)]
        times: dict[str, list[float]] = defaultdict(list)
        for request_id, at in reads:
            times[request_id].append(at)
        result.reads_per_request = {
            str(k): v for k, v in sorted(Counter(len(v) for v in times.values()).items())
        }
        low = float(result.settings.get("PROVISIONING_POLL_MIN_INTERVAL") or 10)
        gaps: list[float] = []
        watched_gaps: list[float] = []
        for request_id, stamps in times.items():
            stamps.sort()
            for a, b in zip(stamps, stamps[1:], strict=False):
                (watched_gaps if request_id in watched_ids else gaps).append(b - a)
                if b - a < low - 0.5:
                    result.close_pairs += 1
                    result.close_watched += request_id in watched_ids
                    if len(result.close_examples) < 5:
                        result.close_examples.append(f"{request_id} read {b - a:.2f} s apart")
        result.min_gap = min(gaps) if gaps else None
        result.watched_min_gap = min(watched_gaps) if watched_gaps else None
        result.bursts = bursts(
            sorted(at for request_id, at in reads if request_id not in watched_ids),
            result.started_at,
        )
        logs = "".join(p.read_text(errors="replace") for p in WORK.glob(f"worker*-{label}.log"))
        result.passes = poll_passes(logs, result.started_at)
        done = result.states.get("completed", 0)
        if done != result.requests:
            result.problems.append(
                f"{result.requests - done} requests not Completed: {result.states}"
            )
        if result.lost:
            result.problems.append(f"{result.lost} requests lost")
        if result.close_pairs:
            result.problems.append(
                f"{result.close_pairs} pairs of reads of one request closer than {low:g} s "
                f"({result.close_watched} of requests whose page was open), e.g. "
                + ", ".join(result.close_examples[:3])
            )
        if result.ledger_duplicates or result.ledger_missing:
            result.problems.append(
                f"ledger: {result.ledger_duplicates} requests with two workspaces, "
                f"{result.ledger_missing} without one"
            )
        if result.completed_twice:
            result.problems.append(f"{result.completed_twice} requests completed twice")


def config_from(data: dict[str, Any]) -> ConfigResult:
    fields = {k: v for k, v in data.items() if k != "loads"}
    return ConfigResult(**fields, loads=[NodeLoad(**load) for load in data["loads"]])


def bursts(stamps: list[float], origin: float, gap: float = 5.0) -> list[dict[str, Any]]:
    """The poller's passes as seen by Point: reads separated by less than ``gap`` seconds."""
    found: list[dict[str, Any]] = []
    for at in stamps:
        if found and at - found[-1]["end"] < gap:
            found[-1]["end"] = at
            found[-1]["reads"] += 1
        else:
            found.append({"start": at, "end": at, "reads": 1})
    return [
        {
            "at": round(b["start"] - origin, 1),
            "seconds": round(b["end"] - b["start"], 1),
            "reads": b["reads"],
        }
        for b in found
    ]


LOG_TIME = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)"
PASS_START = re.compile(LOG_TIME + rf" INFO django-q \S+ processing (\S+) '{POLL_TASK}'")
PASS_END = re.compile(LOG_TIME + rf" INFO django-q Processed '{POLL_TASK}' \((\S+)\)")
PASS_LEFT = re.compile(LOG_TIME + r" WARNING \S+ Poller: (\d+) of (\d+) due requests not reached")


def log_time(text: str) -> float:
    """A log line's time (the portal logs UTC) as epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()


def poll_passes(logs: str, origin: float) -> list[dict[str, Any]]:
    """The poller's passes as the workers logged them: start and length (s from the load's
    start), whether another pass ran at the same time, and what the pass left unreached."""
    starts = {m[2]: log_time(m[1]) for m in PASS_START.finditer(logs)}
    ends = {m[2]: log_time(m[1]) for m in PASS_END.finditer(logs)}
    left = sorted((log_time(m[1]), int(m[2]), int(m[3])) for m in PASS_LEFT.finditer(logs))
    found: list[dict[str, Any]] = []
    for name, start in sorted(starts.items(), key=lambda item: item[1]):
        end = ends.get(name)
        # A pass warns just before it ends: the last warning within its time is its own.
        mine = [f"{n} of {d} not reached" for at, n, d in left if start <= at <= (end or at)]
        note = mine[-1] if mine else ""
        found.append({"name": name, "start": start, "end": end, "left": note})
    for one in found:
        one["overlaps"] = any(
            other is not one
            and other["start"] < (one["end"] or math.inf)
            and one["start"] < (other["end"] or math.inf)
            for other in found
        )
    return [
        {
            "at": round(p["start"] - origin, 1),
            "seconds": round(p["end"] - p["start"], 1) if p["end"] else None,
            "overlaps": p["overlaps"],
            "left": p["left"],
        }
        for p in found
    ]


def completed(env: dict[str, str]) -> int:
    url = env["DATABASE_URL"]
    done = subprocess.run(
        [
            "psql",
            url,
            "-tAq",
            "-c",
            "SELECT count(*) FROM provisioning_provisioningrequest WHERE state = 'completed'",
        ],
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip() or 0) if done.returncode == 0 else 0


def check_pages(ports: list[int], cookie: str, paths: list[str]) -> None:
    """Each node answers each page 200 to this session (not a sign-in redirect)."""
    urls = [f"http://{HOST}:{port}{path}" for port in ports for path in paths]
    problem = warm(urls, cookie)
    if problem:
        raise RuntimeError(problem)


# --- Figures -----------------------------------------------------------------------------------


def describe(result: ConfigResult) -> dict[str, str]:
    total_rate = sum(load.rate for load in result.loads)
    p95 = max((load.p95_ms for load in result.loads), default=0.0)
    per_node = "; ".join(
        f":{load.port} {load.rate:.1f}/s, p95 {load.p95_ms:.0f} ms" for load in result.loads
    )
    done = (
        f"{result.all_completed_at - result.started_at:.0f} s"
        if result.all_completed_at
        else "not within the run"
    )
    point = f"{result.point_done_at - result.started_at:.0f} s" if result.point_done_at else "—"
    minutes = ", ".join(str(n) for n in result.reads_per_minute)
    reads = ", ".join(f"{v}×{k}" for k, v in result.reads_per_request.items())
    return {
        "Web nodes × gunicorn": f"{result.nodes} × `{' '.join(result.gunicorn)}`",
        "Workers (`manage.py worker`)": str(result.workers),
        "Page load": f"wrk, {result.connections} connections per node, "
        f"{result.loads[0].seconds:.0f} s"
        if result.loads
        else "—",
        "**Pages per second, all nodes**": f"{total_rate:.1f}",
        "Pages per node (p95)": per_node or "—",
        "Page p95, worst node": f"{p95:.0f} ms",
        "Page errors (non-2xx, socket)": str(sum(load.errors for load in result.loads)),
        "Status checks per minute (from the start)": minutes,
        "Poller passes (workers' logs): start s: length s, not reached; ∥ = beside another": (
            "; ".join(
                f"{p['at']:.0f}: {p['seconds'] if p['seconds'] is not None else '?'}"
                + (f", {p['left']}" if p["left"] else "")
                + (" ∥" if p["overlaps"] else "")
                for p in result.passes
            )
            or "—"
        ),
        "Reads per request (requests × reads)": reads,
        "Shortest gap between two reads of one request": (
            f"{result.min_gap:.1f} s" if result.min_gap is not None else "—"
        )
        + (
            f" (watched pages: {result.watched_min_gap:.1f} s)"
            if result.watched_min_gap is not None
            else ""
        ),
        f"Reads of one request under {result.settings.get('PROVISIONING_POLL_MIN_INTERVAL', 10)} s apart": str(
            result.close_pairs
        ),
        "Point finished the last workspace": point,
        "**Portal shows every request Completed**": done,
        "Requests by state at the end": ", ".join(
            f"{k} {v}" for k, v in sorted(result.states.items())
        ),
        "Lost / completed twice": f"{result.lost} / {result.completed_twice}",
        "Point's ledger: workspaces for our requests (duplicates, missing)": (
            f"{result.ledger_ours} ({result.ledger_duplicates}, {result.ledger_missing})"
        ),
        "Emulator CPU / machine busy during the run": (
            f"{result.emulator_cpu / max(1.0, (result.all_completed_at or time.time()) - result.started_at):.0%}"
            f" / {result.machine_busy:.0%}"
        ),
    }


def report(results: list[ConfigResult], args: argparse.Namespace) -> str:
    columns = [describe(r) for r in results]
    names = [
        f"{r.nodes} node{'s' * (r.nodes > 1)}, {r.workers} worker{'s' * (r.workers > 1)}"
        for r in results
    ]
    lines = [
        "## Scale-out: web nodes and workers on one PostgreSQL and Redis",
        "",
        "Written by `bench/scaleout.py`, measured "
        + (
            f"{datetime.fromtimestamp(results[0].started_at, UTC):%Y-%m-%d %H:%M} UTC"
            if results
            else "never"
        )
        + "; rerun it rather than editing by hand.",
        "",
        f"Machine: {common.machine([])}, PostgreSQL 15 and Redis (database 3) on the same machine "
        "as everything else, so the nodes share two cores: compare the columns with each other.",
        "",
        f"Method: per configuration a fresh PostgreSQL database (migrate, seed_demo, "
        f"setup_schedules: `{POLL_TASK}` every "
        f"{results[0].schedule[0]['minutes'] if results and results[0].schedule else '?'} minute), "
        f"REDIS_URL={REDIS_URL} (broker and cache, flushed first), the emulator reset. "
        f"{args.requests:,} Point requests (template {poller.TEMPLATE}, split over Contoso and "
        f"Fabrikam) in {len(APPROVED)} chunks approved for {APPROVED[0]} to {APPROVED[-1]} s, "
        f"then in progress for {IN_PROGRESS} s; as many portal requests approved with those ids, "
        "all due. Then the workers and gunicorn nodes start, and wrk drives each node, signed in "
        f'as Contoso\'s IT staff, in turn "All requests", one of {WATCHED_PAGES} request pages '
        "and that page's live fragment (`/requests/<id>/status` with `HX-Request`, which asks "
        "for a status check when one is due). Status reads are the "
        f"emulator's record of each `GET …/provision/requests/{{id}}`, answered after "
        f"{args.latency_ms} ms (`/_control/latency`). Settings: "
        + ", ".join(f"{k} {v}" for k, v in (results[0].settings if results else {}).items() if v)
        + ".",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(results),
    ]
    for row in columns[0] if columns else {}:
        lines.append(f"| {row} | " + " | ".join(c.get(row, "—") for c in columns) + " |")
    problems = [f"{n}: {p}" for n, r in zip(names, results, strict=True) for p in r.problems]
    lines += [
        "",
        "Seen: " + "; ".join(problems) + "."
        if problems
        else "Seen: every request Completed, none lost, one workspace each in Point's ledger, "
        "and no request read twice within the minimum poll interval.",
    ]
    if len(results) == 2 and results[1].loads and results[0].loads:
        a = sum(load.rate for load in results[0].loads)
        b = sum(load.rate for load in results[1].loads)
        lines += ["", f"Pages per second, {names[0]} beside {names[1]}: {a / b:.2f}×." if b else ""]
    return "\n".join(lines)


# --- Main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("_"):
        return child_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--configs", default="2,1", help="nodes (= workers) per configuration")
    parser.add_argument("--load-seconds", type=float, default=240)
    parser.add_argument("--max-seconds", type=float, default=360, help="per configuration")
    parser.add_argument("--latency-ms", type=int, default=100, help="Point's status route")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections per node")
    parser.add_argument(
        "--ports", type=lambda s: [int(p) for p in s.split(",")], default=[8511, 8512]
    )
    parser.add_argument("--emulator-port", type=int, default=8513)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every process")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--docs-only", action="store_true", help="rewrite the section from the stored figures"
    )
    args = parser.parse_args(argv)
    if args.docs_only:
        stored = json.loads((WORK / "results.json").read_text())
        common.write_section("scaleout", report([config_from(r) for r in stored], args))
        return 0
    common.stop_on_signals()
    if port_open(args.emulator_port):
        raise RuntimeError(f"Port {args.emulator_port} is in use: pick another.")
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is missing: sudo apt-get install wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "children.log").unlink(missing_ok=True)
    emulator_services = Services(stack_env(WORK, args.ports[0], args.emulator_port), WORK)
    results: list[ConfigResult] = []
    try:
        state_file = WORK / "emulator-state.json"
        emulator = common.start_emulator(emulator_services, args.emulator_port, state_file)
        bench = Bench(args, emulator.pid, wrk)
        for nodes in (int(n) for n in args.configs.split(",")):
            print(f"{nodes} node(s) and {nodes} worker(s):", flush=True)
            results.append(bench.run_config(nodes, nodes))
            (WORK / "results.json").write_text(
                json.dumps([asdict(r) for r in results], indent=1, default=str)
            )
    finally:
        emulator_services.stop_all()
    common.publish("scaleout", report(results, args), not args.no_docs)
    return 0


if __name__ == "__main__":
    common.run_main(main, "scaleout.py")

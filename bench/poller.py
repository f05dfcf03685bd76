"""The poller at scale: how many in-flight requests one pass of `poll_due()` checks, how long
that takes at 100 ms upstream latency, and whether any request is checked twice in a pass, with
one poller and with two running at once.

One run starts its own emulator (Point) on a spare port, and for each database (PostgreSQL,
SQLite) and each size N: a fresh database (migrate, seed_demo), N Point requests that stay in
progress (created upstream in one call each tenant, `POST /_control/requests/bulk`), N portal
requests in progress whose upstream ids are those, spread over the demo's Point tenants and all
due now. With 100 ms on Point's status route (`/_control/latency`), it runs `poll_due()` pass
after pass, in a process of its own (as the scheduled task would, without the queue), until
every request was checked once; then again with two processes running passes at once. The
emulator records each status read (`GET /_control/requests/reads`): per pass, the reads are
compared with the requests due and counted per request id.

The code measured is the working tree's, or another copy of it (`--tree`, used for the
"before" figures of the serial poller). Each version's figures are kept in
var/bench/poller/results-<version>.json and in this script's section of docs/performance.md,
which shows both versions side by side.

    .venv/bin/python bench/poller.py [--requests 1000,5000] [--databases postgresql,sqlite]
        [--latency-ms 100] [--max-passes 30] [--emulator-port 8501] [--tree PATH] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/, bench/ and the portal for the child processes

from bench import common  # noqa: E402
from bench.common import cpu_seconds, fixture_tenant, machine_ticks  # noqa: E402
from devtools.stack import HOST, Services, control, port_open, stack_env  # noqa: E402

WORK = ROOT / "var" / "bench" / "poller"
DATA_MARK = "<!-- poller:data "
DATABASE_PREFIX = "portal_bench_poll"

TENANTS = ("contoso", "fabrikam")
# Point template 3: a team, approved automatically; an owner is all it needs.
TEMPLATE = 3
KIND = "teams"
# Approved at once, then in progress for ~11 days: every request stays in flight, and its
# progress stays 0, so a check finds no change and the next one is the back-off's maximum.
TIMING = {"approval": 0, "approved": 0, "in_progress": 1_000_000}
STATUS_ROUTE = "/point/*/v1.0/provision/requests/*"
SCHEDULE_SECONDS = 60  # provisioning.poll_requests runs every minute (provisioning/schedules.py)


# --- Child processes: the portal's code, from the tree under test ------------------------------


def requester(tenant: dict[str, Any]) -> dict[str, Any]:
    return next(
        u for u in tenant["users"] if "Portal.Requester" in u["roles"] and not u.get("guest")
    )


def child_seed(plan_file: Path) -> dict[str, Any]:
    """Portal requests in flight (in progress, or the plan's state) for the upstream requests
    in the plan, all due now; also used by bench/scaleout.py."""
    from datetime import timedelta

    from django.utils import timezone

    from core.roles import Role
    from provisioning import services
    from provisioning.models import ProvisioningRequest, Template
    from provisioning.payload import RequestData
    from provisioning.services import following
    from provisioning.states import State
    from tenants import upstream
    from tenants.models import Tenant

    plan = json.loads(plan_file.read_text())
    state = State(plan.get("state", State.IN_PROGRESS))
    now = timezone.now()
    by_tenant: list[list[ProvisioningRequest]] = []
    for slug, upstream_requests in plan["requests"].items():
        tenant = Tenant.objects.get(slug=slug)
        services.catalogue_sync(tenant=tenant)
        template = Template.objects.get(tenant=tenant, upstream_id=str(TEMPLATE))
        person = requester(fixture_tenant(slug))
        user = common.fixture_user(slug, person, Role.REQUESTER)
        # What a check will read (the warm-up request is another of the same kind): stored
        # already, so a check finds nothing changed, as for a request long in progress.
        found = upstream.provider_for(tenant).get_request(plan["warm"][slug])
        stored = following.status_fields(found)
        rows = []
        for one in upstream_requests:
            form = RequestData(display_name=one["displayName"], owners=[person["upn"]])
            rows.append(
                ProvisioningRequest(
                    tenant=tenant,
                    template=template,
                    requested_by=user,
                    workload=template.workload,
                    display_name=one["displayName"],
                    final_name=one["displayName"],
                    form_data=form.as_dict(),
                    state=state,
                    upstream_id=one["id"],
                    send_attempts=1,
                    poll_interval=plan["poll_interval"],
                    next_poll_at=now - timedelta(seconds=1),
                    last_polled_at=now - timedelta(seconds=plan["poll_interval"]),
                    **stored,
                )
            )
        by_tenant.append(rows)
    if plan.get("mix"):
        # The tenants' requests interleaved: one after the other in id order.
        ordered = [row for group in zip(*by_tenant, strict=False) for row in group]
        ordered += [row for group in by_tenant for row in group[len(ordered) // len(by_tenant) :]]
    else:
        ordered = [row for group in by_tenant for row in group]  # one tenant's, then the next's
    ProvisioningRequest.objects.bulk_create(ordered, batch_size=500)
    return {"seeded": len(ordered)}


def child_rearm(poll_interval: int) -> dict[str, Any]:
    """Every seeded request due again, as freshly seeded."""
    from datetime import timedelta

    from django.utils import timezone

    from provisioning.models import ProvisioningRequest
    from provisioning.states import State

    now = timezone.now()
    fields: dict[str, Any] = {
        "next_poll_at": now - timedelta(seconds=1),
        "poll_interval": poll_interval,
    }
    if any(f.name == "poll_claim" for f in ProvisioningRequest._meta.get_fields()):
        fields["poll_claim"] = None
    count = ProvisioningRequest.objects.filter(state=State.IN_PROGRESS).update(**fields)
    return {"rearmed": count}


def poller_settings() -> dict[str, Any]:
    from django.conf import settings

    names = (
        "PROVISIONING_POLL_BATCH",
        "PROVISIONING_POLL_BUDGET",
        "PROVISIONING_POLL_CONCURRENCY",
        "PROVISIONING_POLL_WORKERS",
        "PROVISIONING_POLL_MIN_INTERVAL",
        "PROVISIONING_POLL_MAX_INTERVAL",
    )
    return {name: getattr(settings, name, None) for name in names}


def child_pass(warm: dict[str, str], start_at: float, emulator_pid: int) -> dict[str, Any]:
    """One `poll_due()`, timed, after a warm-up outside the measured window."""
    import resource

    from django.db.models import Q
    from django.utils import timezone

    from provisioning import services
    from provisioning.models import ProvisioningRequest
    from provisioning.states import IN_FLIGHT_STATES
    from tenants import upstream
    from tenants.models import Tenant

    # Warm-up: imports, the database connection, a token per tenant (requests not measured).
    for slug, request_id in warm.items():
        upstream.provider_for(Tenant.objects.get(slug=slug)).get_request(request_id)
    due_before = (
        ProvisioningRequest.objects.filter(state__in=IN_FLIGHT_STATES)
        .filter(Q(next_poll_at__lte=timezone.now()) | Q(next_poll_at__isnull=True))
        .count()
    )
    time.sleep(max(0.0, start_at - time.time()))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emulator_cpu, machine = cpu_seconds(emulator_pid), machine_ticks()
    started = time.time()
    report = services.poll_due()
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    busy, total = machine_ticks()
    return {
        "t0": started,
        "t1": ended,
        "due_before": due_before,
        "report": asdict(report),
        "poller_cpu": (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime),
        "emulator_cpu": cpu_seconds(emulator_pid) - emulator_cpu,
        "machine_busy": (busy - machine[0]) / max(1, total - machine[1]),
        "settings": poller_settings(),
        "code": services.poll_due.__module__,
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/poller.py (child)")
    parser.add_argument("command", choices=["_seed", "_rearm", "_pass"])
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--plan", type=Path)
    parser.add_argument("--poll-interval", type=int, default=300)
    parser.add_argument("--warm", default="{}")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--emulator-pid", type=int, default=0)
    args = parser.parse_args(argv)
    common.django_setup(args.tree)
    if args.command == "_seed":
        answer = child_seed(args.plan)
    elif args.command == "_rearm":
        answer = child_rearm(args.poll_interval)
    else:
        answer = child_pass(json.loads(args.warm), args.start_at, args.emulator_pid)
    common.answer(answer)
    return 0


# --- The run -----------------------------------------------------------------------------------


@dataclass
class PassResult:
    number: int
    pollers: int
    due_before: int
    wall: float  # first start to last end of the pass's pollers (s)
    refreshed: int  # checks the reports say they made
    changed: int
    errors: int
    left: int | None  # due but not reached (the new PollReport only)
    throttled: int | None
    reads: int  # status reads the emulator answered in the pass
    distinct: int  # request ids read
    twice: int  # request ids read more than once in the pass
    max_per_id: int
    new: int  # request ids read for the first time in this case
    poller_cpu: float
    emulator_cpu: float
    machine_busy: float
    concurrency: dict[str, int]  # most reads in flight at once, per tenant


@dataclass
class CaseResult:
    database: str
    requests: int
    pollers: int
    passes: list[PassResult] = field(default_factory=list)
    checked: int = 0  # request ids read at least once
    settings: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    problems: list[str] = field(default_factory=list)
    mix: bool = False  # the tenants' requests interleaved (--mix)

    @property
    def all_checked(self) -> bool:
        return self.checked >= self.requests

    @property
    def back_to_back(self) -> float:
        return sum(p.wall for p in self.passes)

    @property
    def at_schedule(self) -> float:
        """Passes a minute apart (a pass longer than a minute delays the next)."""
        if not self.passes:
            return 0.0
        return sum(max(SCHEDULE_SECONDS, p.wall) for p in self.passes[:-1]) + self.passes[-1].wall


class Run:
    def __init__(self, args: argparse.Namespace, services: Services, emulator_pid: int) -> None:
        self.args = args
        self.services = services
        self.emulator = f"http://{HOST}:{args.emulator_port}"
        self.emulator_pid = emulator_pid
        self.tree: Path = args.tree
        self.env = dict(services.env)
        self.warm: dict[str, str] = {}

    def command(self, *argv: str) -> list[str]:
        """This script as a child process, on the code under test."""
        return [sys.executable, str(Path(__file__).resolve()), *argv, "--tree", str(self.tree)]

    def child(self, *argv: str, env: dict[str, str]) -> dict[str, Any]:
        log = WORK / "children.log"
        return common.run_child(argv[0], self.command(*argv), env=env, cwd=self.tree, log=log)

    def database(self, kind: str, size: int) -> str:
        if kind == "sqlite":
            return common.fresh_sqlite(WORK / f"portal-{size}.sqlite3")
        return common.fresh_postgres(f"{DATABASE_PREFIX}_{size}")

    def reads(self, since: float, until: float) -> list[tuple[str, str, float]]:
        answer = common.emulator_get(
            self.emulator, "requests/reads", timeout=60, since=since, until=until
        )
        return [(slug, request_id, at) for slug, request_id, at in answer["reads"]]

    def prepare(self, kind: str, size: int) -> dict[str, str]:
        """A fresh database and emulator state with `size` requests in progress, all due."""
        env = {**self.env, "DATABASE_URL": self.database(kind, size)}
        python, manage = sys.executable, str(self.tree / "manage.py")
        self.services.env = env
        self.services.run("migrate", python, manage, "migrate", "--noinput")
        self.services.run("seed_demo", python, manage, "seed_demo")
        control(self.emulator, "reset", {})
        control(self.emulator, "timing", TIMING)
        plan: dict[str, Any] = {
            "requests": {},
            "warm": {},
            "poll_interval": 300,
            "mix": self.args.mix,
        }
        shares = [size // len(TENANTS) + (i < size % len(TENANTS)) for i in range(len(TENANTS))]
        run = time.strftime("%H%M%S", time.gmtime())
        for slug, share in zip(TENANTS, shares, strict=True):
            body = {
                "templateId": TEMPLATE,
                "displayName": f"Poller bench {run}",
                "owners": [requester(fixture_tenant(slug))["upn"]],
            }
            made = common.emulator_post(
                self.emulator,
                "requests/bulk",
                {"tenant": slug, "kind": KIND, "count": share, "body": body},
            )
            plan["requests"][slug] = made["requests"]
            warm = {**body, "displayName": f"Poller bench warm-up {run}"}
            answer = common.emulator_post(
                self.emulator,
                "requests/bulk",
                {"tenant": slug, "kind": KIND, "count": 1, "body": warm},
            )
            plan["warm"][slug] = answer["requests"][0]["id"]
        time.sleep(0.5)  # the emulator's ticker moves them from Approved to InProgress
        plan_file = WORK / "plan.json"
        plan_file.write_text(json.dumps(plan))
        seeded = self.child("_seed", "--plan", str(plan_file), env=env)
        if seeded["seeded"] != size:
            raise RuntimeError(f"seeded {seeded['seeded']} requests, not {size}")
        self.warm = plan["warm"]
        return env

    def one_pass(self, number: int, pollers: int, env: dict[str, str]) -> tuple[PassResult, Any]:
        start_at = time.time() + 3.0  # after the children's start-up and warm-up
        argv = [
            "_pass",
            "--warm",
            json.dumps(self.warm),
            "--start-at",
            str(start_at),
            "--emulator-pid",
            str(self.emulator_pid),
        ]
        processes = [
            subprocess.Popen(
                self.command(*argv),
                cwd=self.tree,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(pollers)
        ]
        outputs = [process.communicate()[0].decode(errors="replace") for process in processes]
        answers = [
            common.child_answer("_pass", process.returncode, output, WORK / "children.log")
            for process, output in zip(processes, outputs, strict=True)
        ]
        t0 = min(a["t0"] for a in answers)
        t1 = max(a["t1"] for a in answers)
        if any(a["t0"] > start_at + 1.0 for a in answers):
            print("  (a poller started late: its warm-up took longer than the 3 s allowed)")
        time.sleep(0.3)
        reads = self.reads(t0 - 0.05, t1 + 0.3)
        per_id = Counter(request_id for _, request_id, _ in reads)
        warm_ids = set(self.warm.values())
        per_id = Counter({k: v for k, v in per_id.items() if k not in warm_ids})

        def total(name: str) -> int | None:
            values = [a["report"].get(name) for a in answers]
            return None if any(v is None for v in values) else sum(values)

        result = PassResult(
            number=number,
            pollers=pollers,
            due_before=max(a["due_before"] for a in answers),
            wall=t1 - t0,
            refreshed=total("refreshed") or 0,
            changed=total("changed") or 0,
            errors=total("errors") or 0,
            # Each poller counts what is still due when it ends; the last one to end sees
            # what the others released.
            left=max(answers, key=lambda a: a["t1"])["report"].get("left"),
            throttled=total("throttled"),
            reads=sum(per_id.values()),
            distinct=len(per_id),
            twice=sum(1 for v in per_id.values() if v > 1),
            max_per_id=max(per_id.values(), default=0),
            new=0,
            poller_cpu=sum(a["poller_cpu"] for a in answers),
            emulator_cpu=max(a["emulator_cpu"] for a in answers),
            machine_busy=max(a["machine_busy"] for a in answers),
            concurrency=in_flight(reads, self.args.latency_ms / 1000, warm_ids),
        )
        return result, (answers[0], set(per_id))

    def case(self, kind: str, size: int, pollers: int, env: dict[str, str]) -> CaseResult:
        result = CaseResult(database=kind, requests=size, pollers=pollers, mix=self.args.mix)
        seen: set[str] = set()
        deadline = time.monotonic() + self.args.case_seconds
        for number in range(1, self.args.max_passes + 1):
            if number > 1 and time.monotonic() > deadline:
                break
            self.services.check_alive()
            one, (answer, ids) = self.one_pass(number, pollers, env)
            one.new = len(ids - seen)
            seen |= ids
            result.passes.append(one)
            result.settings, result.code = answer["settings"], answer["code"]
            print(
                f"  pass {number} ({pollers} poller{'s' * (pollers > 1)}): due {one.due_before}, "
                f"checked {one.refreshed}, reads {one.reads} ({one.distinct} ids, max "
                f"{one.max_per_id} per id), {one.wall:.1f} s, emulator CPU "
                f"{one.emulator_cpu:.1f} s, in flight {one.concurrency}",
                flush=True,
            )
            if one.twice:
                result.problems.append(f"pass {number}: {one.twice} requests read twice or more")
            if one.refreshed != one.reads:
                result.problems.append(
                    f"pass {number}: reports say {one.refreshed} checks, Point answered {one.reads}"
                )
            if len(seen) >= size:
                break
        result.checked = len(seen)
        return result


def in_flight(
    reads: list[tuple[str, str, float]], latency: float, skip: set[str]
) -> dict[str, int]:
    """Most status reads in flight at once per tenant: each read held the route for the
    injected latency before the handler stamped it."""
    edges: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for slug, request_id, at in reads:
        if request_id in skip:
            continue
        edges[slug] += [(at - latency, 1), (at, -1)]
    most: dict[str, int] = {}
    for slug, points in edges.items():
        now = peak = 0
        for _, step in sorted(points, key=lambda p: (p[0], p[1])):
            now += step
            peak = max(peak, now)
        most[slug] = peak
    return most


# --- Figures -----------------------------------------------------------------------------------


def version_of(cases: list[CaseResult]) -> str:
    budget = next((c.settings.get("PROVISIONING_POLL_BUDGET") for c in cases), None)
    return "after" if budget is not None else "before"


def summary(case: CaseResult) -> dict[str, Any]:
    """One case in a few figures: what the doc shows and keeps (the passes stay in var/)."""
    first = case.passes[0]
    return {
        "database": case.database,
        "requests": case.requests,
        "mix": case.mix,
        "pollers": case.pollers,
        "due_first": first.due_before,
        "checked_first": first.refreshed,
        "wall_first": round(first.wall, 2),
        "left_first": first.left,
        "passes": len(case.passes),
        "checked": case.checked,
        "back_to_back": round(case.back_to_back, 1),
        "at_schedule": round(case.at_schedule, 1),
        "reads": sum(p.reads for p in case.passes),
        "refreshed": sum(p.refreshed for p in case.passes),
        "errors": sum(p.errors for p in case.passes),
        "max_per_id": max(p.max_per_id for p in case.passes),
        "twice": sum(p.twice for p in case.passes),
        "in_flight": max((max(p.concurrency.values(), default=0) for p in case.passes), default=0),
        "emulator_share": round(max(p.emulator_cpu / p.wall for p in case.passes if p.wall), 3),
        "poller_cpu_per_check_ms": round(
            1000
            * sum(p.poller_cpu for p in case.passes)
            / max(1, sum(p.refreshed for p in case.passes)),
            2,
        ),
        "busy": round(max(p.machine_busy for p in case.passes), 3),
        "problems": case.problems,
        "settings": case.settings,
        "code": case.code,
    }


def summaries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A version's cases as summaries (a results file holds the passes too)."""
    latency = data.get("latency_ms", 100) / 1000
    cases = [summary(case_from(c)) if "passes" in c else c for c in data["cases"]]
    for c in cases:
        # Each check held one upstream call for the latency: the calls in flight on average.
        c["mean_in_flight"] = round(c["checked_first"] * latency / max(c["wall_first"], 1e-3), 1)
    return cases


def case_from(data: dict[str, Any]) -> CaseResult:
    fields = {k: v for k, v in data.items() if k != "passes"}
    return CaseResult(**fields, passes=[PassResult(**p) for p in data["passes"]])


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def case_row(c: dict[str, Any]) -> str:
    who = "1" if c["pollers"] == 1 else f"{c['pollers']} at once"
    passes = f"{c['passes']} pass{'es' * (c['passes'] > 1)}"
    if c["checked"] >= c["requests"]:
        reached = f"all, in {passes}"
    else:
        reached = f"{c['checked']:,} when stopped after {passes}"
    left = "" if c["left_first"] is None else f" ({c['left_first']:,} left)"
    return (
        f"| {c['database']} | {c['requests']:,}{' (tenants interleaved)' if c.get('mix') else ''} "
        f"| {who} | {c['due_first']:,} | "
        f"{c['checked_first']:,} in {seconds(c['wall_first'])}{left} | {reached} | "
        f"{seconds(c['back_to_back'])} / {seconds(c['at_schedule'])} | "
        f"{c['reads']:,} / {c['refreshed']:,} | {c['max_per_id']} ({c['twice']}) | "
        f"{c['errors']} | {c['in_flight']} ({c['mean_in_flight']:g}) | "
        f"{c['emulator_share']:.0%} / {c['busy']:.0%} |"
    )


HEADER = [
    "| Database | In flight | Pollers | Due at pass 1 | Pass 1 checked | Every request checked "
    "| Time to check all: back to back / at the 60 s schedule | Status reads / checks reported "
    "| Most reads of one id in a pass (ids read twice) | Errors | Most reads in flight per "
    "tenant (mean in pass 1, all tenants) | Emulator CPU / machine busy (worst pass) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def settings_line(cases: list[dict[str, Any]]) -> str:
    values = cases[0]["settings"] if cases else {}
    shown = ", ".join(f"{k.removeprefix('PROVISIONING_')} {v}" for k, v in values.items() if v)
    code = cases[0]["code"] if cases else "?"
    return f"Settings: {shown}; code `{code}.poll_due`."


def version_block(name: str, data: dict[str, Any]) -> list[str]:
    cases = summaries(data)
    title = {
        "before": "Before: the serial poller (at most PROVISIONING_POLL_BATCH a pass)",
        "after": "After: claims in chunks, checks on a thread pool within a time budget",
    }[name]
    lines = [
        f"### {title}",
        "",
        f"Measured {data['when']} UTC on {data['machine']}. {settings_line(cases)}"
        + (f" {data['note']}" if data.get("note") else ""),
        "",
        *HEADER,
        *[case_row(case) for case in cases],
    ]
    problems = [
        f"{c['database']} {c['requests']} × {c['pollers']}: {p}"
        for c in cases
        for p in c["problems"]
    ]
    lines += [
        "",
        "Seen: " + "; ".join(problems) + "."
        if problems
        else "Seen: no request was read twice in a pass, and every pass's status reads equal "
        "the checks it reported.",
    ]
    kept = {**data, "cases": cases}
    lines += ["", f"{DATA_MARK}{name} {json.dumps(kept, separators=(',', ':'))} -->"]
    return lines


def comparison(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = ["### Before and after", ""]
    old = {(c["database"], c["requests"], c["pollers"]): c for c in summaries(before)}
    for new in summaries(after):
        was = old.get((new["database"], new["requests"], new["pollers"]))
        if was is None or new.get("mix"):
            continue
        who = "one poller" if new["pollers"] == 1 else f"{new['pollers']} pollers at once"
        need = math.ceil(was["requests"] / max(1, was["checked_first"]))
        if was["checked"] >= was["requests"]:
            then = f"{was['passes']} passes, {seconds(was['at_schedule'])} at the schedule"
        else:
            then = (
                f"≥ {need} passes, about {(need - 1) * SCHEDULE_SECONDS + was['wall_first']:.0f} s "
                f"at the schedule ({was['checked']:,} checked when that run stopped)"
            )
        lines.append(
            f"- {new['database']}, {new['requests']:,} in flight, {who}: a pass checks "
            f"{new['checked_first']:,} in {seconds(new['wall_first'])} (was "
            f"{was['checked_first']:,} in {seconds(was['wall_first'])}); every request checked "
            f"after {new['passes']} pass{'es' * (new['passes'] > 1)}, "
            f"{seconds(new['at_schedule'])} at the schedule (was {then})."
        )
    return lines if len(lines) > 2 else []


def stored_versions() -> dict[str, dict[str, Any]]:
    """Each version's figures: this machine's results files, else what the doc holds."""
    found: dict[str, dict[str, Any]] = {}
    for line in (common.read_section("poller") or "").splitlines():
        if line.startswith(DATA_MARK) and line.endswith("-->"):
            name, _, payload = line[len(DATA_MARK) : -3].strip().partition(" ")
            found[name] = json.loads(payload)
    for name in ("before", "after"):
        path = WORK / f"results-{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def report(versions: dict[str, dict[str, Any]], latency_ms: int) -> str:
    lines = [
        "## Poller at scale: one pass, 1,000 and 5,000 requests in flight",
        "",
        "Written by `bench/poller.py`; rerun it rather than editing by hand. Each version of the "
        "poller is measured by its own run (the code changes between them), so the two blocks "
        "below carry their own dates.",
        "",
        "Method: a fresh database (PostgreSQL 15, or SQLite) per size, migrated and seeded "
        "(`seed_demo`); the emulator's Point with N requests approved at once and then in "
        f"progress for days (template {TEMPLATE}, created upstream by "
        "`POST /_control/requests/bulk`), split evenly over Contoso and Fabrikam; N portal "
        "requests in progress with those upstream ids (one tenant's, then the other's, in id "
        'order, as after a bulk upload; "tenants interleaved" alternates them), their stored '
        "status equal to what Point "
        "answers (so a check changes nothing) and all due now. Point's status route answers after "
        f"{latency_ms} ms (`/_control/latency`). `poll_due()` then runs in a process of its own "
        "(a token per tenant fetched before the timed window) pass after pass until every "
        "request was checked once; then, re-armed (all due again), two such processes run each "
        "pass at once. Status reads are the emulator's own record of each "
        "`GET …/provision/requests/{id}` (`/_control/requests/reads`), counted per request id "
        'within each pass. "At the 60 s schedule" = passes a minute apart (the schedule '
        "`provisioning.poll_requests`), the last pass's own time added. In flight per tenant: "
        "the most reads overlapping, each counted for the latency before Point answered it; "
        "the mean = checks × latency ÷ the pass's time. Emulator CPU: its share of one core "
        "during the pass; machine busy: all cores, whoever used them.",
    ]
    for name in ("before", "after"):
        if name in versions:
            lines += ["", *version_block(name, versions[name])]
    if "before" in versions and "after" in versions:
        lines += ["", *comparison(versions["before"], versions["after"])]
    return "\n".join(lines)


def machine() -> str:
    """CPUs and Python: each case names its database."""
    return common.machine([])


# --- Main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("_"):
        return child_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", default="1000,5000", help="sizes, comma-separated")
    parser.add_argument("--databases", default="postgresql,sqlite", help="postgresql, sqlite")
    parser.add_argument("--sqlite-max", type=int, default=1000, help="largest size on SQLite")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--max-passes", type=int, default=30, help="per case (30)")
    parser.add_argument(
        "--case-seconds", type=float, default=240, help="no new pass after this long (240)"
    )
    parser.add_argument("--pollers", default="1,2", help="pollers at once per case (1,2)")
    parser.add_argument("--emulator-port", type=int, default=8501)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the code to measure")
    parser.add_argument("--note", default="", help="a sentence added to this version's block")
    parser.add_argument(
        "--set", action="append", default=[], help="KEY=VALUE for the pollers' environment"
    )
    parser.add_argument(
        "--mix",
        action="store_true",
        help="interleave the tenants' requests (default: one tenant's backlog, then the next's)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--docs-only", action="store_true", help="rewrite the section from the stored figures"
    )
    args = parser.parse_args(argv)
    args.tree = args.tree.resolve()
    if args.docs_only:
        common.write_section("poller", report(stored_versions(), args.latency_ms))
        return 0
    common.stop_on_signals()
    if port_open(args.emulator_port):
        raise RuntimeError(f"Port {args.emulator_port} is in use: pick another.")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "children.log").unlink(missing_ok=True)
    extra = dict(item.split("=", 1) for item in args.set)
    env = stack_env(WORK, args.emulator_port, args.emulator_port, extra)
    services = Services(env, WORK)
    cases: list[CaseResult] = []
    try:
        state_file = WORK / "emulator-state.json"
        emulator = common.start_emulator(services, args.emulator_port, state_file)
        run = Run(args, services, emulator.pid)
        for kind in args.databases.split(","):
            for size in (int(n) for n in args.requests.split(",")):
                if kind == "sqlite" and size > args.sqlite_max:
                    continue
                print(f"{kind}, {size} requests in flight: preparing...", flush=True)
                case_env = run.prepare(kind, size)
                control(
                    run.emulator,
                    "latency",
                    {"method": "GET", "path": STATUS_ROUTE, "ms": args.latency_ms},
                )
                for pollers in (int(p) for p in args.pollers.split(",")):
                    if pollers > 1:
                        run.child("_rearm", env=case_env)
                    cases.append(run.case(kind, size, pollers, case_env))
    finally:
        services.stop_all()
    if not cases:
        return 1
    name = version_of(cases)
    data = {
        "when": common.now_utc(),
        "machine": machine(),
        "note": args.note,
        "latency_ms": args.latency_ms,
        "cases": [asdict(c) for c in cases],
    }
    kept = WORK / (f"results-{name}.json" if not args.no_docs else f"results-{name}-no-docs.json")
    kept.write_text(json.dumps(data, indent=1))
    versions = stored_versions()
    versions[name] = data
    common.publish("poller", report(versions, args.latency_ms), not args.no_docs)
    return 0


if __name__ == "__main__":
    common.run_main(main, "poller.py")

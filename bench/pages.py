"""List pages at scale: the portal's request lists, dashboard, request page and audit log over
10,000 requests in 20 tenants (optionally 100,000), beside two baselines measured in the same
run through the same middleware and session: a bare view and a plain 50-row table.

For each database (SQLite, PostgreSQL) one run makes a fresh database (`migrate`, `seed_demo`,
then bench/dataset.py: 16 more tenants cloned from the demo's, people, requests with their
timelines and audit entries, written in bulk), signs in an operator (Grady Archie) and a
requester (Adele Vance) as the tests do (`Client.force_login`), and measures each page:

- in-process server time: django.test.Client, a few warm-up requests, then N timed requests
  per page taken in turns (page 1, page 2, ..., page 1, ...) so that noise spreads evenly;
- queries per request (CaptureQueriesContext) with 100 requests in the database and with all;
- requests per second under gunicorn (2 workers × 4 threads, as devtools/stack.py runs it) with
  wrk (2 threads, 20 connections, 10 s) and the session cookie.

Each figure stands beside the bare view's, as a ratio. Targets (issue 18): median ≤ 10 ms
in-process and ≥ 0.2× the bare view's req/s. A page that misses the in-process target gets a
profile in var/bench/pages/profile-<db>-<size>-<page>.txt (cProfile of 20 requests, its SQL
with times, EXPLAIN of the slowest query) and a line in the summary: where its time goes.

The directory's group list talks to the emulator live; it is measured when the emulator
starts (port 8302). Everything this script starts (emulator, gunicorn) is stopped on exit,
Ctrl-C included. Ports 8301-8302, var/bench/pages/ and the PostgreSQL database
portal_bench_pages only: a running `make demo` is not disturbed.

    .venv/bin/python bench/pages.py [--database sqlite|postgres|both] [--requests 10000[,100000]]
        [--samples 50] [--wrk-seconds 10] [--no-docs]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/, bench/ and the portal

from bench import common  # noqa: E402
from bench.load import Wrk, warm, write_script, wrk_path  # noqa: E402
from devtools.stack import HOST, Services, port_open, stack_env, web_command  # noqa: E402

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django.test import Client

WORK = ROOT / "var" / "bench" / "pages"
PG_DATABASE = "portal_bench_pages"
DATABASES = ("sqlite", "postgres")
DB_LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

OPERATOR_UPN = "grady.archie@contoso.onmicrosoft.com"  # Portal.Operator, Contoso
REQUESTER_UPN = "adele.vance@contoso.onmicrosoft.com"  # Portal.Requester, Contoso
TENANTS = 20
SMALL = 100  # requests in the database for the first query count
TARGET_MS = 10.0
TARGET_RATIO = 0.2
SEARCH = "aurora"  # a project code name: in about one request name in 600
WARMUP = 5
PROFILE_REQUESTS = 20


@dataclass(frozen=True)
class Page:
    key: str  # for file names
    label: str
    path: str  # "{pk}": the request measured
    persona: str = "operator"
    htmx: bool = False
    baseline: bool = False
    directory: bool = False


PAGES = [
    Page("bare", "Bare view (baseline)", "/bench/bare", baseline=True),
    Page("table", "Plain 50-row table (baseline)", "/bench/table", baseline=True),
    Page("all", "All requests (current tenant)", "/requests/all/"),
    Page("all-tenants", "All requests, every tenant", "/requests/all/?tenant="),
    Page("all-search", f"All requests, search “{SEARCH}”", f"/requests/all/?tenant=&q={SEARCH}"),
    Page("all-state", "All requests, state Failed", "/requests/all/?tenant=&state=failed"),
    Page("mine", "My requests (requester)", "/requests/", persona="requester"),
    Page("dashboard", "Dashboard, one tenant", "/requests/dashboard/"),
    Page("dashboard-all", "Dashboard, every tenant", "/requests/dashboard/?scope=all"),
    Page("detail", "Request page", "/requests/{pk}/"),
    Page("status", "Request live fragment (htmx)", "/requests/{pk}/status", htmx=True),
    Page("audit", "Audit log", "/audit/"),
    Page("audit-action", "Audit log, action filter", "/audit/?action=request_cancelled"),
    Page("audit-person", "Audit log, person filter", "/audit/?person=vance"),
    Page(
        "directory", "Directory: groups (live Point)", "/directory/contoso/groups/", directory=True
    ),
]


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# --- One database: the child process -----------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    url: str
    baseline: bool
    median: float | None = None
    p90: float | None = None
    queries_small: int | None = None
    queries_large: int | None = None
    rps: float | None = None
    latency_ms: float | None = None
    problem: str = ""


@dataclass
class Result:
    database: str
    requests: int
    measured_at: str
    server: str = ""
    seed_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    bare_rps: list[float] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    load: list[float] = field(default_factory=list)  # 1-minute load average along the run


def reset_database(database: str, work: Path) -> str:
    """A fresh, empty database; its DATABASE_URL."""
    if database == "sqlite":
        return common.fresh_sqlite(work / "portal.sqlite3")
    return common.fresh_postgres(PG_DATABASE)


def start_emulator(services: Services, port: int, work: Path) -> str:
    """The emulator for the directory page; "" (and why, printed) when it does not start."""
    if port_open(port):
        print(f"  port {port} is in use: no emulator, no directory page")
        return ""
    try:
        common.start_emulator(services, port, work / "emulator-state.json", "--quiet", timeout=30)
    except RuntimeError as error:
        print(f"  emulator: {error}; no directory page")
        return ""
    return f"http://{HOST}:{port}"


def run_database(args: argparse.Namespace) -> int:
    """Seed and measure one database at one size; the figures as JSON in --result."""
    database, total = args.child_database, args.child_requests
    work = WORK / f"{database}-{size_label(total)}"
    work.mkdir(parents=True, exist_ok=True)
    result = Result(database, total, datetime.now(UTC).strftime("%Y-%m-%d %H:%M"))
    started = time.monotonic()
    services = Services({}, work)
    try:
        print(f"[{database}, {total:,} requests] fresh database, migrate, seed_demo...")
        url = reset_database(database, work)
        env = stack_env(
            work,
            args.portal_port,
            args.emulator_port,
            {
                "DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            },
        )
        services.env = env
        emulator = "" if args.no_emulator else start_emulator(services, args.emulator_port, work)
        if not emulator:
            env["EMULATOR_URL"] = f"http://{HOST}:9"  # nothing there: the directory is skipped
        python = sys.executable
        services.run("migrate", python, "manage.py", "migrate", "--noinput")
        services.run("seed_demo", python, "manage.py", "seed_demo")
        os.environ.update(env)
        measure_database(args, result, services, emulator, work)
    finally:
        services.stop_all()
    result.wall_seconds = time.monotonic() - started
    Path(args.result).write_text(json.dumps(asdict(result), indent=1))
    return 0


def measure_database(
    args: argparse.Namespace, result: Result, services: Services, emulator: str, work: Path
) -> None:
    common.django_setup()
    from django.db import connection

    from bench import dataset

    result.server = server_version()
    if emulator:
        sync_point_catalogues(result)
    seeding = time.monotonic()
    world = dataset.prepare(tenants=TENANTS)
    dataset.grow_to(world, SMALL)
    dataset.analyze()
    result.seed_seconds += time.monotonic() - seeding

    clients = {"operator": signed_in(OPERATOR_UPN), "requester": signed_in(REQUESTER_UPN)}
    pages = [p for p in PAGES if emulator or not p.directory]
    if not emulator:
        result.notes.append(
            "Directory groups not measured: the emulator did not start (or --no-emulator)."
        )
    rows = {p.key: Row(p.key, p.label, "", p.baseline) for p in pages}

    print(f"  queries with {SMALL} requests...")
    urls = page_urls(pages)
    for page in pages:
        rows[page.key].queries_small = count_queries(clients[page.persona], page, urls[page.key])

    print(f"  seeding up to {result.requests:,} requests...")
    seeding = time.monotonic()
    dataset.grow_to(world, result.requests)
    dataset.analyze()
    result.seed_seconds += time.monotonic() - seeding
    result.counts = dataset.counts()
    print(
        f"  seeded in {result.seed_seconds:.0f} s: "
        + ", ".join(f"{v:,} {k}" for k, v in result.counts.items())
    )
    urls = page_urls(pages)
    for page in pages:
        row = rows[page.key]
        row.url = urls[page.key]
        try:
            check_page(clients[page.persona], page, row.url)
        except RuntimeError as error:
            row.problem = str(error)
            print(f"  {page.label}: {error}")
            continue
        row.queries_large = count_queries(clients[page.persona], page, row.url)
    measured = [p for p in pages if not rows[p.key].problem]

    result.load.append(os.getloadavg()[0])
    print(f"  in-process: {args.samples} requests per page, in turns...")
    times = time_in_turns(clients, measured, urls, args.samples)
    for page in measured:
        values = times[page.key]
        rows[page.key].median = statistics.median(values)
        rows[page.key].p90 = common.nearest_rank(values, 0.9)
    connection.close()  # gunicorn's workers get the database to themselves

    result.load.append(os.getloadavg()[0])
    if args.wrk_seconds > 0:
        measure_rps(args, result, services, clients, measured, rows)
        result.load.append(os.getloadavg()[0])

    bare = rows["bare"].median
    for page in measured:
        row = rows[page.key]
        if page.baseline or row.median is None or row.median <= TARGET_MS:
            continue
        print(f"  profiling {page.label} ({row.median:.1f} ms)...")
        result.profiles[page.key] = profile_page(
            clients[page.persona], page, row.url, work.parent / profile_name(result, page)
        )
    result.rows = [rows[p.key] for p in pages]
    if bare is not None:
        print(f"  bare view median {bare:.2f} ms")


def profile_name(result: Result, page: Page) -> str:
    return f"profile-{result.database}-{size_label(result.requests)}-{page.key}.txt"


def server_version() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = str(cursor.fetchone()[0]).split()[0]
    return f"PostgreSQL {version}"


def sync_point_catalogues(result: Result) -> None:
    """Point's templates from the emulator, as the demo has them (clones copy them)."""
    from provisioning import services
    from tenants.models import Tenant

    for tenant in Tenant.objects.filter(provider="point"):
        try:
            services.catalogue_sync(tenant=tenant)
        except Exception as error:  # the dataset clones another tenant's templates instead
            result.notes.append(f"Catalogue of {tenant.name} not synced: {error}.")


def signed_in(upn: str) -> Client:
    """A test client signed in as the person, as the tests do (force_login); its first request
    starts the session clock and sets the CSRF cookie, as a browser's would."""
    from django.test import Client

    from bench import dataset

    client = Client()
    client.force_login(dataset.user_for(upn))
    answer = client.get("/bench/bare")
    if answer.status_code != 200:
        raise RuntimeError(f"{upn} is not signed in: /bench/bare answered {answer.status_code}")
    return client


def page_urls(pages: list[Page]) -> dict[str, str]:
    pk = request_measured()
    return {p.key: p.path.format(pk=pk) for p in pages}


def request_measured() -> int:
    """The request whose page is measured: one in progress (its page polls), with the longest
    timeline, in Contoso if there is one."""
    from django.db.models import Count

    from provisioning.models import ProvisioningRequest

    found = ProvisioningRequest.objects.filter(state="in_progress")
    for candidates in (found.filter(tenant__slug="contoso"), found, ProvisioningRequest.objects):
        pk = (
            candidates.annotate(n=Count("events"))
            .order_by("-n", "-created_at")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is not None:
            return pk
    raise RuntimeError("No request in the database.")


def fetch(client: Client, page: Page, url: str) -> HttpResponse:
    headers = {"HX-Request": "true"} if page.htmx else {}
    return client.get(url, headers=headers)  # type: ignore[return-value]


def check_page(client: Client, page: Page, url: str) -> None:
    try:
        answer = fetch(client, page, url)
    except Exception as error:  # the page is broken: said in its row, the others measured
        raise RuntimeError(f"{url} raised {type(error).__name__}: {error}") from error
    if answer.status_code != 200:
        where = answer.get("Location", "")
        raise RuntimeError(f"{url} answered {answer.status_code} {where}".strip())


def count_queries(client: Client, page: Page, url: str) -> int | None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fetch(client, page, url)  # warm: the per-process caches (content types, templates) filled
    with CaptureQueriesContext(connection) as captured:
        answer = fetch(client, page, url)
    return len(captured.captured_queries) if answer.status_code == 200 else None


def time_in_turns(
    clients: dict[str, Client], pages: list[Page], urls: dict[str, str], samples: int
) -> dict[str, list[float]]:
    """Milliseconds per request, each page in turn, so that noise falls on all of them."""
    for page in pages:
        for _ in range(WARMUP):
            fetch(clients[page.persona], page, urls[page.key])
    times: dict[str, list[float]] = {p.key: [] for p in pages}
    for _ in range(samples):
        for page in pages:
            client = clients[page.persona]
            started = time.perf_counter()
            fetch(client, page, urls[page.key])
            times[page.key].append((time.perf_counter() - started) * 1000)
    return times


# --- Requests per second: gunicorn and wrk -----------------------------------------------------


def cookie_of(client: Client) -> str:
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


def measure_rps(
    args: argparse.Namespace,
    result: Result,
    services: Services,
    clients: dict[str, Client],
    pages: list[Page],
    rows: dict[str, Row],
) -> None:
    path = wrk_path(indent="  ")
    if path is None:
        result.notes.append(
            "req/s not measured: wrk is missing (install it: sudo apt-get install wrk)."
        )
        print("  wrk is missing and this is not root: sudo apt-get install wrk; no req/s")
        return
    # wrk's own 2 s timeout; the report hook's figures (wrk's req/s, mean latency, errors).
    script = write_script(WORK / "wrk-report.lua")
    wrk = Wrk(path, script, args.connections, threads=2, timeout=None)
    name, command = web_command("gunicorn", args.portal_port)
    # gunicorn, stopped after wrk; the emulator stays.
    with common.serving(services, name, command, args.portal_port) as web:
        run_pages_under_wrk(args, result, web, wrk, clients, pages, rows)


def run_pages_under_wrk(
    args: argparse.Namespace,
    result: Result,
    web: Services,
    wrk: Wrk,
    clients: dict[str, Client],
    pages: list[Page],
    rows: dict[str, Row],
) -> None:
    base = f"http://{HOST}:{args.portal_port}"
    order = [*pages, next(p for p in pages if p.key == "bare")]  # the bare view again, last
    print(f"  req/s: wrk -c{args.connections} -d{args.wrk_seconds}s per page under gunicorn...")
    for page in order:
        row = rows[page.key]
        url = base + row.url
        cookie = cookie_of(clients[page.persona])
        # A few requests so that both workers have the page warm.
        problem = warm([url], cookie, times=8, htmx=page.htmx)
        if problem:
            row.problem = row.problem or problem
            continue
        web.check_alive()
        headers = [f"Cookie: {cookie}", *(["HX-Request: true"] if page.htmx else [])]
        answer = wrk.run(url, args.wrk_seconds, headers)
        if page.key == "bare":
            result.bare_rps.append(answer.rps)
        row.rps = answer.rps if row.rps is None else (row.rps + answer.rps) / 2
        row.latency_ms = answer.mean_ms
        if answer.errors:
            row.problem = f"{answer.errors} bad answers under wrk"
        print(f"    {page.label:40} {answer.rps:8.1f} req/s  {answer.mean_ms:7.1f} ms")
        if warm([url], cookie, times=8, htmx=page.htmx):  # still signed in: no sign-in redirect
            row.problem = "the session ended during the measurement"


# --- Profiles ----------------------------------------------------------------------------------


@dataclass
class Query:
    sql: str
    params: Any
    ms: float
    phase: str  # "view", "context processors" or "template"


class Tracker:
    """Where one request's time goes: SQL (each query timed), context processors, template
    rendering, and the rest (middleware, view, forms), each exclusive of the others."""

    def __init__(self) -> None:
        self.phase: list[str] = []
        self.queries: list[Query] = []
        self.context_ms = 0.0
        self.render_ms = 0.0

    def run_query(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ms = (time.perf_counter() - started) * 1000
            self.queries.append(Query(sql, params, ms, self.phase[-1] if self.phase else "view"))

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        self.phase.append(phase)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phase.pop()
            ms = (time.perf_counter() - started) * 1000
            if phase == "template" and "template" not in self.phase:
                self.render_ms += ms
            elif phase == "context processors" and "context processors" not in self.phase:
                self.context_ms += ms


@contextmanager
def tracked(tracker: Tracker) -> Iterator[None]:
    """Time template rendering and context processors (patched for the duration) and SQL."""
    from django.db import connection
    from django.template import engines
    from django.template.backends import django as backend

    engine = engines["django"].engine  # type: ignore[attr-defined]
    processors = engine.template_context_processors

    def wrap(processor: Callable[..., Any]) -> Callable[..., Any]:
        def timed(request: Any) -> Any:
            with tracker.timing("context processors"):
                return processor(request)

        return timed

    original_render = backend.Template.render

    def render(self: Any, context: Any = None, request: Any = None) -> Any:
        with tracker.timing("template"):
            return original_render(self, context, request)

    engine.__dict__["template_context_processors"] = tuple(wrap(p) for p in processors)
    backend.Template.render = render  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(tracker.run_query):
            yield
    finally:
        backend.Template.render = original_render  # type: ignore[method-assign]
        engine.__dict__["template_context_processors"] = processors


def profile_page(client: Client, page: Page, url: str, path: Path) -> dict[str, Any]:
    """cProfile of PROFILE_REQUESTS requests, the time split of as many, the SQL of one with
    its times, and the plan of its slowest query; written to ``path``, summed up as a dict."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_REQUESTS):
        fetch(client, page, url)
    profiler.disable()

    splits: list[tuple[float, float, float, float, float]] = []
    trackers: list[Tracker] = []
    for _ in range(PROFILE_REQUESTS):
        tracker = Tracker()
        started = time.perf_counter()
        with tracked(tracker):
            fetch(client, page, url)
        total = (time.perf_counter() - started) * 1000
        sql = sum(q.ms for q in tracker.queries)
        sql_context = sum(q.ms for q in tracker.queries if q.phase == "context processors")
        sql_template = sum(q.ms for q in tracker.queries if q.phase == "template")
        context = tracker.context_ms - sql_context
        template = tracker.render_ms - tracker.context_ms - sql_template
        splits.append((total, sql, template, context, total - sql - template - context))
        trackers.append(tracker)
    split = [statistics.median(values) for values in zip(*splits, strict=True)]
    # Each query's median time over the requests that ran the same queries.
    last = trackers[-1]
    same = [t for t in trackers if len(t.queries) == len(last.queries)]
    for index, query in enumerate(last.queries):
        query.ms = statistics.median(t.queries[index].ms for t in same)
    slowest = max(last.queries, key=lambda q: q.ms, default=None)
    plan = explain(slowest) if slowest else ""

    size = len(fetch(client, page, url).content)
    text = io.StringIO()
    text.write(f"{page.label}: GET {url} ({size:,} bytes of HTML)\n\n")
    text.write(
        "Time split (median of {} requests, ms): total {:.2f} = SQL {:.2f} + template {:.2f}"
        " + context processors {:.2f} + rest (middleware, view, forms) {:.2f}\n\n".format(
            PROFILE_REQUESTS, *split
        )
    )
    text.write(
        f"SQL of one request, each query's median over {len(same)} requests "
        f"({len(last.queries)} queries, {sum(q.ms for q in last.queries):.2f} ms):\n"
    )
    for q in last.queries:
        text.write(f"  {q.ms:7.2f} ms  [{q.phase}]  {q.sql}  {q.params!r}\n")
    text.write(f"\nPlan of the slowest query ({slowest.ms:.2f} ms):\n{plan}\n" if slowest else "")
    stats = pstats.Stats(profiler, stream=text)
    text.write(f"\ncProfile, {PROFILE_REQUESTS} requests, top 15 by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(15)
    text.write(f"\ncProfile, {PROFILE_REQUESTS} requests, top 15 by own time:\n")
    stats.sort_stats("tottime").print_stats(15)
    text.write("\nBelow the middleware: top 30 by cumulative time, ms per request:\n")
    for line in below_view(stats, PROFILE_REQUESTS):
        text.write(f"  {line}\n")
    path.write_text(text.getvalue())

    return {
        "file": str(path.relative_to(ROOT)),
        "bytes": size,
        "total": split[0],
        "sql": split[1],
        "template": split[2],
        "context": split[3],
        "rest": split[4],
        "queries": len(last.queries),
        "slow_queries": [
            {"ms": q.ms, "sql": short_sql(q.sql), "phase": q.phase}
            for q in sorted(last.queries, key=lambda q: -q.ms)[:3]
        ],
        "plan": plan_summary(plan),
        "functions": own_time_top(stats, PROFILE_REQUESTS),
    }


def explain(query: Query) -> str:
    from django.db import connection

    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS) "
        if connection.vendor == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(prefix + query.sql, query.params)
            rows = cursor.fetchall()
    except Exception as error:  # a plan is a bonus, never a failure
        return f"(no plan: {error})"
    if connection.vendor == "postgresql":
        return "\n".join(str(r[0]) for r in rows)
    return "\n".join(str(r[-1]) for r in rows)  # SQLite: each step's detail


def plan_summary(plan: str) -> str:
    """The plan's main nodes, one line: what scans what and how long it took."""
    nodes = []
    for line in plan.splitlines():
        text = line.strip().lstrip("->").strip()
        actual = re.search(r"\(actual time=[\d.]+\.\.([\d.]+) rows=(\d+)", text)
        if actual:
            name = text.split("  (")[0]
            nodes.append(f"{name} ({actual.group(1)} ms, {actual.group(2)} rows)")
        elif text.startswith(("SCAN", "SEARCH", "USE TEMP", "CORRELATED", "CO-ROUTINE", "|")):
            nodes.append(text)
    if "Execution Time" in plan:
        found = re.search(r"Execution Time: ([\d.]+) ms", plan)
        if found:
            nodes.append(f"execution {found.group(1)} ms")
    return "; ".join(nodes[:8])


def short_sql(sql: str, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", sql)
    text = re.sub(r'"[a-z_]+"\."([a-z_]+)"', r"\1", text)  # "table"."column" -> column
    text = re.sub(r"SELECT (?!COUNT).{60,}? FROM", "SELECT … FROM", text, count=1)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The database driver's own time is the SQL's: reported apart.
DRIVER = ("psycopg", "sqlite3", "SQLiteCursorWrapper", "fetchmany", "fetchall")


def own_time_top(stats: pstats.Stats, requests_made: int, count: int = 6) -> list[str]:
    """The functions with the most own time per request (the profiler's overhead aside)."""
    entries = []
    for (filename, line, name), values in stats.stats.items():  # type: ignore[attr-defined]
        own = values[2]
        if "cProfile" in filename or "_lsprof" in name or any(d in filename + name for d in DRIVER):
            continue  # SQL is timed on its own
        where = shorten_path(filename)
        entries.append((own, f"{where}:{line}({name})" if line else name))
    entries.sort(reverse=True)
    return [f"{label} {own * 1000 / requests_made:.2f} ms" for own, label in entries[:count]]


# The request's way down to the view: every page has it, the bare view too.
CHAIN = (
    "django/test/",
    "django/core/handlers/",
    "django/utils/deprecation.py",
    "middleware",
    "bench/pages.py",
    "contextlib.py",
    "django/views/decorators/",
    "core/decorators.py",
    "functools.py",
)


def below_view(stats: pstats.Stats, requests_made: int, count: int = 30) -> list[str]:
    """Cumulative time per request of the functions under the middleware chain: where a
    page's own work goes (view, selectors, forms, template tags, ORM)."""
    entries = []
    for (filename, line, name), values in stats.stats.items():  # type: ignore[attr-defined]
        if any(part in filename for part in CHAIN) or filename == "~":
            continue
        calls, cumulative = values[1], values[3]
        label = f"{shorten_path(filename)}:{line}({name})"
        entries.append((cumulative, calls, label))
    entries.sort(reverse=True)
    return [
        f"{cumulative * 1000 / requests_made:7.2f} ms  {calls / requests_made:7.1f} calls  {label}"
        for cumulative, calls, label in entries[:count]
    ]


def shorten_path(filename: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --- The parent: both databases, the report ----------------------------------------------------


def run_child(args: argparse.Namespace, database: str, total: int) -> dict[str, Any] | None:
    """Measure one database in its own process (Django configures one database per process)."""
    result_file = WORK / f"result-{database}-{size_label(total)}.json"
    result_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-database",
        database,
        "--child-requests",
        str(total),
        "--result",
        str(result_file),
        "--samples",
        str(args.samples),
        "--wrk-seconds",
        str(args.wrk_seconds),
        "--connections",
        str(args.connections),
        "--portal-port",
        str(args.portal_port),
        "--emulator-port",
        str(args.emulator_port),
        *(["--no-emulator"] if args.no_emulator else []),
    ]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        code = child.wait()
    except KeyboardInterrupt:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)  # it stops what it started, then exits
        try:
            child.wait(timeout=90)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    if code or not result_file.exists():
        print(f"{DB_LABELS[database]}, {total:,} requests: failed (exit {code}).")
        return None
    loaded: dict[str, Any] = json.loads(result_file.read_text())
    return loaded


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def verdict(row: dict[str, Any], bare_rps: float | None) -> str:
    if row["baseline"]:
        return "baseline"
    if row["problem"] and row["median"] is None:
        return f"not measured ({row['problem']})"
    missed = []
    if row["median"] is not None and row["median"] > TARGET_MS:
        missed.append("time")
    if row["rps"] is not None and bare_rps and row["rps"] / bare_rps < TARGET_RATIO:
        missed.append("req/s")
    if row["rps"] is None and bare_rps:
        missed.append("req/s not measured")
    if not missed:
        return "met"
    return "**missed: " + ", ".join(missed) + "**"


def table(result: dict[str, Any]) -> list[str]:
    rows = result["rows"]
    bare = next(r for r in rows if r["key"] == "bare")
    bare_rps = statistics.mean(result["bare_rps"]) if result["bare_rps"] else None
    total = f"{result['requests']:,}"
    lines = [
        f"| Page | Median ms | p90 ms | ×bare | Queries ({SMALL} / {total} rows) | req/s | ×bare req/s | Target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = f"×{r['median'] / bare['median']:.1f}" if r["median"] and bare["median"] else "—"
        rps_ratio = f"{r['rps'] / bare_rps:.2f}" if r["rps"] and bare_rps else "—"
        queries = f"{r['queries_small'] if r['queries_small'] is not None else '—'} / {r['queries_large'] if r['queries_large'] is not None else '—'}"
        rps = fmt(r["rps"], 0)
        if r["key"] == "bare" and len(result["bare_rps"]) == 2:
            rps = f"{rps} ({result['bare_rps'][0]:.0f}, {result['bare_rps'][1]:.0f})"
        lines.append(
            f"| {r['label']} | {fmt(r['median'], 2)} | "
            f"{fmt(r['p90'], 1)} | {ratio} | {queries} | {rps} | {rps_ratio} | {verdict(r, bare_rps)} |"
        )
    return lines


def misses(result: dict[str, Any]) -> list[str]:
    lines = []
    for r in result["rows"]:
        p = result["profiles"].get(r["key"])
        if not p:
            continue
        slow = p["slow_queries"][0] if p["slow_queries"] else None
        lines.append(
            f"- **{r['label']}** ({p['total']:.1f} ms in profile, {p.get('bytes', 0) / 1024:.0f} kB of HTML): SQL {p['sql']:.1f} ms in "
            f"{p['queries']} queries, template {p['template']:.1f} ms, context processors "
            f"{p['context']:.1f} ms, rest (middleware, view, forms) {p['rest']:.1f} ms."
            + (
                f" Slowest query {slow['ms']:.1f} ms ({slow['phase']}): `{slow['sql']}`"
                + (f"; plan: {p['plan']}" if p["plan"] else "")
                + "."
                if slow
                else ""
            )
            + f" Most own time: {', '.join(p['functions'][:3])}. Profile: `{p['file']}`."
        )
    return lines


def block(result: dict[str, Any]) -> str:
    counts = result["counts"]
    label = DB_LABELS[result["database"]]
    lines = [
        f"### {label}, {result['requests']:,} requests",
        "",
        f"Measured {result['measured_at']} UTC on {result['server']}; run {result['wall_seconds'] / 60:.1f} min, "
        f"seeding {result['seed_seconds']:.0f} s. Dataset: {counts.get('tenants', 0)} tenants, "
        f"{counts.get('users', 0):,} people, {counts.get('requests', 0):,} requests, "
        f"{counts.get('events', 0):,} timeline events, {counts.get('people', 0):,} owners and "
        f"members, {counts.get('audit', 0):,} audit entries.",
        "",
        *table(result),
    ]
    if result.get("load"):
        lines += [
            "",
            "Load average (1 min) before the in-process timings, after them and after wrk: "
            + ", ".join(f"{v:.1f}" for v in result["load"])
            + f" on {common.cpus()} CPUs: above that, other work shared the machine; read "
            "the ratios.",
        ]
    found = misses(result)
    if found:
        lines += [
            "",
            "Where the time of the pages over 10 ms goes (one request, medians):",
            "",
            *found,
        ]
    if result["notes"]:
        lines += ["", *[f"Note: {n}" for n in result["notes"]]]
    return "\n".join(lines)


BLOCK = re.compile(r"<!-- pages:(\d+):(\w+) -->\n(.*?)\n<!-- /pages:\1:\2 -->", re.S)


def existing_blocks() -> dict[tuple[int, str], str]:
    """The tables in this script's section now: a size not rerun keeps its own."""
    section = common.read_section("pages")
    if section is None:
        return {}
    return {(int(m.group(1)), m.group(2)): m.group(3) for m in BLOCK.finditer(section)}


def machine(results: list[dict[str, Any]]) -> str:
    servers = sorted({r["server"] for r in results})
    return common.machine(servers, "gunicorn 2 workers × 4 threads and wrk on the same machine")


def section(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    blocks = existing_blocks()
    for r in results:
        blocks[(r["requests"], r["database"])] = block(r)
    ordered = sorted(
        blocks, key=lambda k: (k[0], DATABASES.index(k[1]) if k[1] in DATABASES else 9)
    )
    lines = [
        "## List pages at scale",
        "",
        f"Written by `bench/pages.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; rerun it "
        "rather than editing by hand (`--requests 10000,100000` writes both sizes; a size not "
        "rerun keeps its tables).",
        "",
        f"Machine: {machine(results)}.",
        "",
        "Method: per database a fresh one (`migrate`, `seed_demo`, then `bench/dataset.py`: 16 "
        f"tenants cloned from the demo's four, {TENANTS} in all, 25 people each, requests spread "
        "over a year (in-flight ones over the last 3 days) in realistic states, 1 to 6 timeline "
        "events each (4.4 on average), owners and members, 1.6 audit entries per request; `ANALYZE` "
        "after seeding, `VACUUM ANALYZE` on PostgreSQL, as autovacuum would have it). Settings `bench.settings`: the portal's with DEBUG off, ORM broker, local "
        "memory cache, database sessions. Signed in with `Client.force_login` as the operator "
        "Grady Archie (every tenant; Contoso is his current tenant) and, for My requests, the "
        "requester Adele Vance. In-process: django.test.Client through all middleware, "
        f"{WARMUP} warm-up requests, then {args.samples} timed requests per page taken in turns "
        "(median, p90 by nearest rank). Queries: one warm request, counted with "
        f"CaptureQueriesContext with {SMALL} requests in the database, then with all (one "
        "less at the small size: the page had no rows then, so no page query). req/s: "
        f"gunicorn (2 workers × 4 threads) and `wrk -t2 -c{args.connections} "
        f"-d{args.wrk_seconds}s` with the session cookie; the bare view is measured first and "
        "last (both in brackets) and their mean is the ratio's base. The request page is an "
        f"in-progress request (its page polls). Search: `q={SEARCH}`. Targets (issue 18): "
        f"median ≤ {TARGET_MS:g} ms in-process and ≥ {TARGET_RATIO}× the bare view's req/s at "
        f"{args.connections} connections. Pages over {TARGET_MS:g} ms are profiled (cProfile, "
        "SQL timed per query, EXPLAIN of the slowest); the time split below is measured "
        "with timers around SQL, template rendering and context processors, each exclusive "
        "of the others.",
    ]
    for key in ordered:
        lines += [
            "",
            f"<!-- pages:{key[0]}:{key[1]} -->",
            blocks[key],
            f"<!-- /pages:{key[0]}:{key[1]} -->",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--requests", default="10000", help="requests in the database; a list runs each (10000)"
    )
    parser.add_argument("--samples", type=int, default=50, help="timed requests per page (50)")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="wrk per page; 0: no req/s")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (20)")
    parser.add_argument("--portal-port", type=int, default=8301)
    parser.add_argument("--emulator-port", type=int, default=8302)
    parser.add_argument("--no-emulator", action="store_true", help="skip the directory page")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    # Internal: one database in a child process.
    parser.add_argument("--child-database", choices=DATABASES, help=argparse.SUPPRESS)
    parser.add_argument("--child-requests", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.stop_on_signals()
    if args.child_database:
        return run_database(args)
    sizes = [int(s.replace("_", "")) for s in args.requests.split(",") if s.strip()]
    if any(n < SMALL for n in sizes):
        sys.exit(f"--requests: at least {SMALL}")
    databases = list(DATABASES) if args.database == "both" else [args.database]
    for port in (args.portal_port, args.emulator_port):
        if port_open(port):
            sys.exit(f"Port {port} is in use: stop what runs there or pick another.")
    WORK.mkdir(parents=True, exist_ok=True)
    results = []
    for total in sizes:
        for database in databases:
            found = run_child(args, database, total)
            if found is not None:
                results.append(found)
                print("\n" + block(found) + "\n")
    if not results:
        return 1
    text = section(results, args)
    if args.no_docs:
        print(text)
    else:
        common.write_section("pages", text)
        print(f"Written to {common.DOCS.relative_to(ROOT)}.")
    return 0 if len(results) == len(sizes) * len(databases) else 1


if __name__ == "__main__":
    common.run_main(main, "pages.py")

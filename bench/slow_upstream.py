"""A slow upstream and the rest of the portal: with Point taking 1 s to list groups, does a
page that never calls the upstream stay fast? Sync gunicorn workers versus gthread.

One run starts its own emulator (Point) and demo stack through devtools/stack.py (emulator on
--emulator-port, the stack's gunicorn on --portal-port, a fresh SQLite database under
var/bench/slow_upstream/), signs in Megan Bowen as IT staff (a session made directly, as the
other benches do), and sets the emulator's latency for Point's group list to 1 s. Then, for
each worker model, it starts gunicorn on --model-port and measures with wrk (one Lua `done`
hook gives p50/p95 from wrk's full latency histogram):

- "All requests" (/requests/all/: the database only, no upstream call) with --connections
  connections for --seconds s, alone;
- the same while another --connections connections load the groups list with ?fresh=1 (past
  the list cache: every load waits 1 s for Point);
- and once, on the last model, the groups list served from the list cache (warm) against the
  live one.

Models by default: sync (2 workers), gthread 2 × 8 threads, gthread 2 × 16 threads; others
(--models): gthread4 (2 × 4, as devtools/stack.py runs it), gthread32, gthread4x8, and
runserver (what `make demo` runs: Django's threaded development server).

Figures go to stdout and to this script's section of docs/performance.md. Compare the rows
with each other, not with other machines. About 3 minutes.

    .venv/bin/python bench/slow_upstream.py [--models sync,gthread,gthread16] [--seconds 15]
        [--connections 10] [--portal-port 8401] [--emulator-port 8402] [--model-port 8403]
        [--no-docs]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # devtools/, bench/ and the portal for django_setup()

from bench import common  # noqa: E402
from bench.load import Wrk, WrkResult, warm, write_script, wrk_path  # noqa: E402
from devtools.stack import HOST, Services, control, stack  # noqa: E402

WORK = ROOT / "var" / "bench" / "slow_upstream"

TENANT = "contoso"
STAFF_UPN = "megan.bowen@contoso.onmicrosoft.com"  # IT staff of Contoso in the demo
OTHER_PAGE = "/requests/all/"  # "All requests": the database only
LIST_PAGE = f"/directory/{TENANT}/groups/"
SLOW_MS = 1000
LIST_CACHE_SECONDS = 60  # DIRECTORY_CACHE_SECONDS for this run (the default)
GUNICORN_TIMEOUT = 30  # as README.md's production recipe


@dataclass(frozen=True)
class WorkerModel:
    key: str
    label: str
    args: tuple[str, ...]


MODELS = {
    "sync": WorkerModel("sync", "sync, 2 workers", ("-w", "2")),
    "gthread": WorkerModel(
        "gthread", "gthread, 2 workers × 8 threads", ("-w", "2", "--threads", "8")
    ),
    "gthread4": WorkerModel(
        "gthread4", "gthread, 2 workers × 4 threads", ("-w", "2", "--threads", "4")
    ),
    "gthread16": WorkerModel(
        "gthread16", "gthread, 2 workers × 16 threads", ("-w", "2", "--threads", "16")
    ),
    # What `make demo` runs (bin/demo): Django's threaded development server, a thread a request.
    "runserver": WorkerModel("runserver", "runserver --noreload (make demo)", ()),
    "gthread32": WorkerModel(
        "gthread32", "gthread, 2 workers × 32 threads", ("-w", "2", "--threads", "32")
    ),
    "gthread4x8": WorkerModel(
        "gthread4x8", "gthread, 4 workers × 8 threads", ("-w", "4", "--threads", "8")
    ),
}

# --- The portal, from inside -------------------------------------------------------------------


def sign_in() -> str:
    """Megan Bowen, IT staff of Contoso, signed in: a session made directly; its cookie."""
    from django.db import connection

    from core.roles import Role
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT)
    _, cookie = common.signed_in(TENANT, STAFF_UPN, Role.IT_STAFF, selected_tenant=tenant)
    connection.close()  # gunicorn's workers get the database to themselves
    return cookie


# --- Load --------------------------------------------------------------------------------------


def check_pages(base: str, cookie: str, *paths: str) -> None:
    """Every page answers 200 to this session (not a sign-in redirect), and both workers are
    warm: a few requests each, a few at a time."""
    problem = warm([base + path for path in paths], cookie, times=8, workers=4)
    if problem:
        raise RuntimeError(problem)


def seconds_of(value: float) -> int:
    """wrk's whole seconds for a load of ``value`` s."""
    return max(1, round(value))


# --- One worker model --------------------------------------------------------------------------


@dataclass
class ModelResult:
    model: WorkerModel
    alone: WrkResult | None = None
    other_with: WrkResult | None = None  # the other page while the slow list loads
    slow_list: WrkResult | None = None  # the slow list itself (past the cache: 1 s upstream)
    cached_list: WrkResult | None = None  # the list from the cache (warm), last model only
    notes: list[str] = field(default_factory=list)


def gunicorn_command(model: WorkerModel, port: int) -> list[str]:
    if model.key == "runserver":
        return [sys.executable, "manage.py", "runserver", "--noreload", f"{HOST}:{port}"]
    return common.gunicorn(port, *model.args, "--timeout", str(GUNICORN_TIMEOUT))


def measure_model(
    services: Services,
    wrk: Wrk,
    cookie: str,
    model: WorkerModel,
    args: argparse.Namespace,
    cache_row: bool,
) -> ModelResult:
    result = ModelResult(model)
    base = f"http://{HOST}:{args.model_port}"
    other, live = base + OTHER_PAGE, f"{base}{LIST_PAGE}?fresh=1"
    command = gunicorn_command(model, args.model_port)
    # This model's gunicorn, stopped after its loads; the stack stays.
    with common.serving(services, f"gunicorn-{model.key}", command, args.model_port) as web:
        check_pages(base, cookie, OTHER_PAGE, f"{LIST_PAGE}?fresh=1")

        print(f"  {OTHER_PAGE} alone, {args.seconds:g} s...")
        result.alone = wrk.run(other, seconds_of(args.seconds))
        web.check_alive()

        print(f"  {OTHER_PAGE} while {LIST_PAGE}?fresh=1 loads (Point 1 s)...")
        slow = wrk.start(live, seconds_of(args.seconds + 4))
        time.sleep(2)  # the slow list has every connection waiting on Point
        result.other_with = wrk.run(other, seconds_of(args.seconds))
        result.slow_list = slow.result(timeout=args.seconds + 90)
        web.check_alive()

        if cache_row:
            # The list's entry was stored by the loads above (fresh=1 re-reads and stores);
            # with the in-process cache each worker keeps its own: warm both first.
            check_pages(base, cookie, LIST_PAGE)
            print(f"  {LIST_PAGE} from the list cache, {args.cache_seconds:g} s...")
            result.cached_list = wrk.run(base + LIST_PAGE, seconds_of(args.cache_seconds))
            web.check_alive()
    for name, load in (("alone", result.alone), ("with", result.other_with)):
        if load is not None and load.errors:
            result.notes.append(f"{model.label}: {load.errors} errors {name}")
    return result


# --- Figures -----------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def pair(load: WrkResult | None) -> str:
    return "—" if load is None else f"{ms(load.p50_ms)} / {ms(load.p95_ms)}"


def rate(load: WrkResult | None) -> str:
    return "—" if load is None else f"{load.rps:.1f}"


def machine() -> str:
    from django.conf import settings

    cache = str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]
    return common.machine(
        [f"SQLite {sqlite3.sqlite_version}", f"cache {cache} (one per gunicorn worker)"],
        "`manage.py worker` running beside, emulator dialect `today`",
    )


def report(results: list[ModelResult], args: argparse.Namespace) -> str:
    lines = [
        "## A slow upstream and the rest: worker models",
        "",
        common.written_by("slow_upstream.py"),
        "",
        f"Machine: {machine()}.",
        "",
        "Method: one run starts its own emulator and demo stack on a fresh database, signs in "
        "IT staff (Megan Bowen) and makes the emulated Point answer its group list "
        f"(`GET /point/{TENANT}/v1.0/groups*`) after {SLOW_MS / 1000:g} s. For each worker "
        f"model it starts gunicorn (`--timeout {GUNICORN_TIMEOUT}`)"
        + (
            " or runserver (as bin/demo runs it)"
            if any(r.model.key == "runserver" for r in results)
            else ""
        )
        + " and loads, with wrk "
        f"({args.connections} connections each, one wrk thread, percentiles from wrk's full "
        f'histogram), "All requests" (`{OTHER_PAGE}`, no upstream call) for {args.seconds:g} s '
        f"alone, then for {args.seconds:g} s while another {args.connections} connections load "
        f"the groups list past the list cache (`{LIST_PAGE}?fresh=1`: every load waits "
        f"{SLOW_MS / 1000:g} s for Point).",
        "",
        "| Worker model | Other page p50 / p95, alone | p50 / p95 with the slow list | "
        "Other page req/s, alone / with | Slow list p50 / p95 (req/s) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.model.label} | {pair(r.alone)} | {pair(r.other_with)} | "
            f"{rate(r.alone)} / {rate(r.other_with)} | {pair(r.slow_list)} "
            f"({rate(r.slow_list)}) |"
        )
    cached = next((r for r in results if r.cached_list is not None), None)
    if cached is not None:
        lines += [
            "",
            f"The groups list itself, {cached.model.label}, {args.connections} connections:",
            "",
            "| Groups list | p50 / p95 | req/s |",
            "|---|---|---|",
            f"| Live (`?fresh=1`, Point {SLOW_MS / 1000:g} s), during the run above | "
            f"{pair(cached.slow_list)} | {rate(cached.slow_list)} |",
            f"| From the list cache (warm, DIRECTORY_CACHE_SECONDS={LIST_CACHE_SECONDS}), "
            f"{args.cache_seconds:g} s | {pair(cached.cached_list)} | "
            f"{rate(cached.cached_list)} |",
        ]
    lines += [
        "",
        verdict(results),
        "",
        "How to read it: a sync worker is held for the whole upstream wait, so two of them serve "
        "about two slow pages a second and everything else queues behind them. A gthread worker "
        "keeps accepting connections while all its threads wait (gunicorn queues the requests "
        "for its thread pool), and a keep-alive connection stays with the worker that took it: "
        "the other page waits behind the slow ones whenever one worker holds more requests than "
        "it has threads. So threads per worker must exceed the slow requests one worker may hold "
        "at once, with room for the rest. What remains of the difference is CPU: on two cores "
        "the slow list's own rendering, wrk and the emulator share the machine with the page "
        "measured. p95 moves by tens of percent between runs; compare rows of one run.",
    ]
    notes = [note for r in results for note in r.notes]
    if notes:
        lines += ["", "Errors under load: " + "; ".join(notes) + "."]
    return "\n".join(lines)


def verdict(results: list[ModelResult]) -> str:
    parts = []
    for r in results:
        if r.alone is None or r.other_with is None:
            continue
        parts.append(
            f"{r.model.label}: other page p95 ×{r.other_with.p95_ms / max(r.alone.p95_ms, 0.1):.1f} "
            "with the slow list"
        )
    return "; ".join(parts) + "." if parts else ""


# --- Main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        default="sync,gthread,gthread16",
        help=f"worker models, in order (sync,gthread,gthread16); known: {', '.join(MODELS)}",
    )
    parser.add_argument("--seconds", type=float, default=15, help="seconds per load (15)")
    parser.add_argument("--cache-seconds", type=float, default=10, help="cached list load (10)")
    parser.add_argument("--connections", type=int, default=10, help="connections per load (10)")
    parser.add_argument("--portal-port", type=int, default=8401)
    parser.add_argument("--emulator-port", type=int, default=8402)
    parser.add_argument("--model-port", type=int, default=8403)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args(argv)
    models = [MODELS[key.strip()] for key in args.models.split(",") if key.strip()]
    common.stop_on_signals()  # unwinds through stack(), which stops every process
    path = wrk_path()
    if path is None:
        raise RuntimeError("wrk is missing: sudo apt-get install wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    script = write_script(WORK / "wrk-report.lua")
    print(f"Starting the emulator and the stack (logs in {WORK.relative_to(ROOT)}/)...")
    extra = {"DIRECTORY_CACHE_SECONDS": str(LIST_CACHE_SECONDS)}
    results: list[ModelResult] = []
    with stack(
        WORK, args.portal_port, args.emulator_port, web="gunicorn", extra_env=extra
    ) as services:
        os.environ.update(services.env)  # this process reads the same settings
        common.django_setup()
        cookie = sign_in()
        wrk = Wrk(path, script, args.connections, headers=(f"Cookie: {cookie}",))
        emulator = f"http://{HOST}:{args.emulator_port}"
        control(
            emulator,
            "latency",
            {"method": "GET", "path": f"/point/{TENANT}/v1.0/groups*", "ms": SLOW_MS},
        )
        for number, model in enumerate(models, 1):
            print(f"{model.label}:")
            result = measure_model(
                services, wrk, cookie, model, args, cache_row=number == len(models)
            )
            services.check_alive()
            results.append(result)
            for name, load in (
                ("alone", result.alone),
                ("with the slow list", result.other_with),
                ("slow list", result.slow_list),
                ("cached list", result.cached_list),
            ):
                if load is not None:
                    print(
                        f"    {name:20} p50 {ms(load.p50_ms):>8}  p95 {ms(load.p95_ms):>8}  "
                        f"{load.rps:7.1f} req/s  errors {load.errors}"
                    )
        print("Stopping...")
    common.publish("slow_upstream", report(results, args), not args.no_docs)
    return 0


if __name__ == "__main__":
    common.run_main(main, "slow_upstream.py")

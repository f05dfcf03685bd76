"""What every benchmark shares: the machine line, its own section of docs/performance.md, fresh
databases, the emulator, signed-in sessions, child processes, percentiles and the way it stops.

The scripts put the repository's root on sys.path before importing this (devtools/, the portal).
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import requests

from devtools.stack import FIXTURE, HOST, Services, port_open

if TYPE_CHECKING:
    from portal.models import User

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
POSTGRES = "postgres://postgres@127.0.0.1:5432"  # the server, without a database
RESULT = "RESULT "  # the line a child process answers with, JSON after it


# --- The machine and docs/performance.md -------------------------------------------------------


def cpus() -> int:
    """The CPUs this process may use (what nproc says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def postgres_version() -> str:
    """The PostgreSQL server's version, or "unknown" when psql cannot reach it."""
    try:
        done = subprocess.run(
            ["psql", f"{POSTGRES}/postgres", "-Atc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip().split()[0] if done.returncode == 0 and done.stdout else "unknown"


def machine(parts: Sequence[str] | None = None, setup: str = "") -> str:
    """One line: CPUs, Python, then ``parts`` (default: the SQLite and PostgreSQL versions;
    none when empty), then ``setup`` after a semicolon (what ran beside the measurement)."""
    if parts is None:
        parts = [f"SQLite {sqlite3.sqlite_version}", f"PostgreSQL {postgres_version()}"]
    line = ", ".join([f"{cpus()} CPUs (nproc)", f"Python {platform.python_version()}", *parts])
    return f"{line}; {setup}" if setup else line


def now_utc() -> str:
    """This minute in UTC, as the sections date their figures ("2026-12-01 10:11")."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M")


def written_by(script: str) -> str:
    """The line under a section's title: which script wrote it, and when."""
    return (
        f"Written by `bench/{script}` (`make bench`) on {now_utc()} UTC; rerun it rather than "
        "editing by hand."
    )


def _marks(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def read_section(name: str) -> str | None:
    """The text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in
    docs/performance.md (without the newlines next to the markers), or None when absent."""
    start, end = _marks(name)
    current = DOCS.read_text() if DOCS.exists() else ""
    if start not in current or end not in current:
        return None
    return current.split(start, 1)[1].split(end, 1)[0].strip("\n")


def write_section(name: str, text: str) -> None:
    """Replace the section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in
    docs/performance.md (added at the end if missing); other sections stay as they are."""
    start, end = _marks(name)
    current = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    block = f"{start}\n{text.strip()}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        _, after = rest.split(end, 1)
        current = before + block + after
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(current)


def publish(name: str, text: str, write: bool) -> None:
    """Print a section and, when ``write`` (no --no-docs), put it in docs/performance.md."""
    print("\n" + text)
    if write:
        write_section(name, text)
        print(f"\nWritten to {DOCS.relative_to(ROOT)}.")


# --- Databases ---------------------------------------------------------------------------------


def fresh_sqlite(path: Path) -> str:
    """An empty SQLite database at ``path`` (the old one and its journals removed); its URL."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fresh_postgres(name: str) -> str:
    """An empty PostgreSQL database ``name`` (dropped, connections and all, then created); its
    URL."""
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        done = subprocess.run(
            ["psql", f"{POSTGRES}/postgres", "-q", "-c", sql], capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"psql: {sql} failed: {done.stderr.strip()}")
    return f"{POSTGRES}/{name}"


# --- The portal, from inside -------------------------------------------------------------------


def django_setup(tree: Path | None = None) -> None:
    """Django set up in this process (portal.settings unless DJANGO_SETTINGS_MODULE says
    otherwise), with the portal's code from ``tree`` when given (another copy of it)."""
    if tree is not None:
        sys.path.insert(0, str(tree))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def fixture_tenant(slug: str) -> dict[str, Any]:
    """One tenant of the emulator's demo fixture: its id, domain, apps and people."""
    tenants: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["tenants"]
    return next(t for t in tenants if t["slug"] == slug)


def fixture_user(slug: str, person: dict[str, Any], role: str, **defaults: Any) -> User:
    """The portal's user for a person of the fixture (as their first sign-in would make it)."""
    from portal.models import User
    from tenants.models import Tenant

    data = fixture_tenant(slug)
    user, _ = User.objects.update_or_create(
        entra_tenant_id=data["id"],
        entra_object_id=person["oid"],
        defaults={
            "username": f"{person['oid']}@{data['id']}",
            "home_tenant": Tenant.objects.get(slug=slug),
            "upn": person["upn"],
            "email": person["mail"],
            "first_name": person["name"].split()[0],
            "last_name": person["name"].split()[-1],
            "role": role,
            **defaults,
        },
    )
    return user


def signed_in(slug: str, upn: str, role: str, **defaults: Any) -> tuple[User, str]:
    """A person of the fixture signed in: a session made directly (no Entra round trip); the
    user and the session's cookie ("name=key")."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from portal.middleware import LAST_SEEN, SIGNED_IN_AT

    person = next(u for u in fixture_tenant(slug)["users"] if u["upn"] == upn)
    user = fixture_user(slug, person, role, **defaults)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    now = time.time()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "portal.backends.EntraBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[SIGNED_IN_AT] = now
    # The idle timeout counts from the last request; a load keeps it alive.
    session[LAST_SEEN] = now
    session.create()
    return user, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


# --- Processes: the emulator, gunicorn, children -----------------------------------------------


def start_emulator(
    services: Services, port: int, state_file: Path, *flags: str, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """The emulator (dialect `today`) on ``port`` with a fresh state file, once it listens."""
    state_file.unlink(missing_ok=True)
    listen = ["--host", HOST, "--port", str(port), "--dialect", "today", *flags]
    process = services.start(
        "emulator", sys.executable, "-m", "emulator", *listen, "--state-file", str(state_file)
    )
    services.wait_for_port("emulator", port, timeout=timeout)
    return process


def emulator_post(emulator: str, path: str, body: dict[str, Any], timeout: float = 600) -> Any:
    """POST to one of the emulator's /_control/ routes; its JSON answer."""
    answer = requests.post(f"{emulator}/_control/{path}", json=body, timeout=timeout)
    answer.raise_for_status()
    return answer.json()


def emulator_get(emulator: str, path: str, timeout: float = 120, **params: Any) -> Any:
    """GET one of the emulator's /_control/ routes; its JSON answer."""
    answer = requests.get(f"{emulator}/_control/{path}", params=params, timeout=timeout)
    answer.raise_for_status()
    return answer.json()


def gunicorn(port: int, *flags: str) -> list[str]:
    """gunicorn serving the portal on ``port`` with these flags (workers, threads, timeout)."""
    path = str(Path(sys.executable).with_name("gunicorn"))
    return [path, "portal.wsgi", *flags, "-b", f"{HOST}:{port}"]


@contextmanager
def serving(services: Services, name: str, command: list[str], port: int) -> Iterator[Services]:
    """A web server started beside ``services`` (same environment and logs) once it listens on
    ``port``, stopped on the way out; what the run started before it stays."""
    if port_open(port):
        raise RuntimeError(f"Port {port} is in use: stop what runs there.")
    web = Services(services.env, services.logs)
    try:
        web.start(name, *command)
        web.wait_for_port(name, port)
        yield web
    finally:
        web.stop_all()


def answer(result: dict[str, Any]) -> None:
    """A child process's answer to its parent: one line, RESULT and JSON."""
    print(RESULT + json.dumps(result, default=str), flush=True)


def child_answer(name: str, code: int, output: str, log: Path) -> dict[str, Any]:
    """A child's answer read from its output (kept in ``log``); RuntimeError when it has none."""
    with log.open("a") as kept:
        kept.write(f"--- {name} (exit {code})\n{output}\n")
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT):
            found: dict[str, Any] = json.loads(line[len(RESULT) :])
            return found
    raise RuntimeError(f"child {name} failed (exit {code}); see {log}")


def run_child(
    name: str, command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> dict[str, Any]:
    """Run a child process to its end; its answer (see child_answer)."""
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return child_answer(name, done.returncode, done.stdout.decode(errors="replace"), log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (s)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- Figures -----------------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], share: float) -> float:
    """The percentile ``share`` (0.9: p90) of the values, by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- Running a script --------------------------------------------------------------------------


def stop_on_signals() -> None:
    """SIGINT and SIGTERM unwind as KeyboardInterrupt, once: the cleanup that follows (stopping
    what the run started) is not interrupted by a second Ctrl-C."""

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def run_main(main: Callable[[], int | None], script: str) -> NoReturn:
    """Run a script's main(): its exit code, a line on Ctrl-C, and its RuntimeErrors (a process
    that would not start, wrk failing) said in one line."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; every process this run started is stopped.")
    except RuntimeError as error:
        sys.exit(f"bench/{script}: {error}")

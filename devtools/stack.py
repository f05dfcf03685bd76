"""Running the whole demo stack (emulator, django-q2 worker, web server) on spare ports with its
own SQLite database and emulator state, for scripts such as bench/webhook_latency.py and
bin/screenshots.py.

`stack()` sets it up the way `make demo` does (migrate, seed_demo, the emulator, then the worker
and the web server) in a work directory of the caller's choosing, and stops every process it
started on the way out, on failure too. Processes are only ever stopped by the process group
this module started, never by name. Callers that want SIGTERM to clean up turn it into an
exception (SystemExit, KeyboardInterrupt) that unwinds through `stack()`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

import requests

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# Contoso's Entra tenant runs the demo portal, as the Makefile's demo target sets it.
OPERATOR_TENANT_ID = "133d5974-f66e-426c-b6f1-7d0710433bc7"
FIXTURE = ROOT / "emulator" / "fixtures" / "demo.json"
# Names of the files stack() keeps in its work directory (removed at the start of each run).
DATABASE_FILE = "portal.sqlite3"
EMULATOR_STATE_FILE = "emulator-state.json"

WebServer = Literal["runserver", "gunicorn"]


class Services:
    """The processes this run started, stopped (politely, then not) on the way out.

    Each command's output goes to <logs>/<name>.log."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def run(self, name: str, *args: str) -> str:
        """Run a command to its end; its output (also kept in <name>.log)."""
        done = subprocess.run(
            args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.log_path(name).write_bytes(done.stdout)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed; see {self.log_path(name)}")
        return done.stdout.decode(errors="replace")

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.log_path(name).open("wb")
        try:
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: nothing it starts is left behind
            )
        except BaseException:
            log.close()
            raise
        self.started.append((name, process, log))
        return process

    def wait_for_port(self, name: str, port: int, timeout: float = 60) -> None:
        process = next(p for n, p, _ in self.started if n == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}); see {self.log_path(name)}"
                )
            if port_open(port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not listen on port {port} in {timeout:.0f} s")

    def check_alive(self) -> None:
        """Stop the run when a process it needs has gone (crashed, or killed from outside)."""
        for name, process, _ in self.started:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}) mid-run; see {self.log_path(name)}"
                )

    def stop_all(self) -> None:
        for _, process, _ in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        # manage.py worker gives its cluster up to 20 s to finish the current task.
        deadline = time.monotonic() + 30
        for _, process, log in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the group this run started, if any left
            except ProcessLookupError:
                pass
            process.wait()
            log.close()
        self.started.clear()


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def stack_env(
    work: Path, portal_port: int, emulator_port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What `make demo` exports, on these ports and the database in ``work``; ``extra`` last."""
    env = dict(os.environ)
    env.update(
        PORTAL_ENV="development",
        DEMO_MODE="true",
        DATABASE_URL=f"sqlite:///{work / DATABASE_FILE}",
        REDIS_URL="",  # the ORM broker, as the demo runs
        EMULATOR_URL=f"http://{HOST}:{emulator_port}",
        PORTAL_BASE_URL=f"http://{HOST}:{portal_port}",
        OPERATOR_TENANT_ID=OPERATOR_TENANT_ID,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def control(emulator: str, endpoint: str, body: Mapping[str, object]) -> None:
    """POST to one of the emulator's /_control/ switches."""
    answer = requests.post(f"{emulator}/_control/{endpoint}", json=body, timeout=10)
    answer.raise_for_status()


def register_callbacks(emulator: str, callback: str) -> None:
    """The demo app registrations know port 8000 only: add this run's callback, as bin/demo does."""
    for tenant in json.loads(FIXTURE.read_text())["tenants"]:
        client_id = tenant["apps"][0]["client_id"]
        control(emulator, "redirect-uris", {"client_id": client_id, "add": [callback]})


def web_command(web: WebServer, port: int) -> tuple[str, list[str]]:
    """The web server's name (its log file) and command line."""
    python = sys.executable
    if web == "gunicorn":
        gunicorn = str(Path(python).with_name("gunicorn"))
        workers = ["-w", "2", "--threads", "4"]
        return "gunicorn", [gunicorn, "portal.wsgi", *workers, "-b", f"{HOST}:{port}"]
    return "web", [python, "manage.py", "runserver", "--noreload", f"{HOST}:{port}"]


@contextmanager
def stack(
    work: Path,
    portal_port: int,
    emulator_port: int,
    *,
    web: WebServer = "runserver",
    extra_env: Mapping[str, str] | None = None,
    sign_in: bool = False,
    timing: Mapping[str, float] | None = None,
    webhooks: bool = False,
) -> Iterator[Services]:
    """Emulator, worker and web server on a fresh database in ``work``; everything stopped on exit.

    ``sign_in`` registers the portal's callback with the emulated Entra ID (for a browser),
    ``timing`` sets Point's phases, and ``webhooks`` turns every tenant's webhooks on; all three
    before the worker starts. Logs stay in ``work``."""
    for port in (portal_port, emulator_port):
        if port_open(port):
            raise RuntimeError(f"Port {port} is in use: stop what runs there or pick another.")
    work.mkdir(parents=True, exist_ok=True)
    for stale in (work / DATABASE_FILE, work / EMULATOR_STATE_FILE):
        stale.unlink(missing_ok=True)
    services = Services(stack_env(work, portal_port, emulator_port, extra_env), work)
    python = sys.executable
    emulator = f"http://{HOST}:{emulator_port}"
    try:
        services.run("migrate", python, "manage.py", "migrate", "--noinput")
        services.run("seed_demo", python, "manage.py", "seed_demo")
        listen = ["--host", HOST, "--port", str(emulator_port), "--dialect", "today"]
        state = ["--state-file", str(work / EMULATOR_STATE_FILE)]
        services.start("emulator", python, "-m", "emulator", *listen, *state)
        services.wait_for_port("emulator", emulator_port)
        if sign_in:
            register_callbacks(emulator, f"http://{HOST}:{portal_port}/auth/callback")
        if timing is not None:
            control(emulator, "timing", timing)
        if webhooks:
            services.run("webhooks", python, "manage.py", "webhooks", "on", "--all")
        services.start("worker", python, "manage.py", "worker")
        name, command = web_command(web, portal_port)
        services.start(name, *command)
        services.wait_for_port(name, portal_port)
        yield services
    finally:
        services.stop_all()

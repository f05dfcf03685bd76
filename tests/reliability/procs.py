"""Real processes for the kill tests (tests/reliability/test_kills.py): the portal's worker and
web server started as subprocesses on a database they share with the test, killed with SIGKILL
and started again; a private PostgreSQL server to restart.

Everything here is started in a session of its own and killed, session-wide, by the fixture that
started it, pass or fail. Nothing is ever stopped by name. Every wait has a deadline and fails
with the tail of the logs that explain it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tests.portal.test_worker_supervision import session_members

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
HOST = "127.0.0.1"


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for[T](
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    every: float = 0.2,
    explain: Callable[[], str] = lambda: "",
) -> T:
    """``check()`` until it returns something other than None/False, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{explain()}")
        time.sleep(every)


class Database:
    """Plain SQL on the database the processes share: the test waits on rows many times a
    second, which a Django shell per look (4 s each) could not do. One connection per call, so
    a database restart between two looks costs nothing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:///")

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.sqlite:
            with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=20) as connection:
                return connection.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as connection:
            return connection.execute(sql.encode(), params).fetchall()

    def value(self, sql: str, *params: Any) -> Any:
        found = self.rows(sql, *params)
        return found[0][0] if found else None


def sqlite_copy(template: str, target: Path) -> str:
    shutil.copyfile(template.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


def server_of(url: str) -> str:
    """postgres://user@host:port of a database URL (to create and drop databases there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_database(server: str, name: str, template: str = "") -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        copy = f' TEMPLATE "{template}"' if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{copy}'.encode())
    return f"{server}/{name}"


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


class Processes:
    """The portal's processes of one test, each in a session of its own, its output in
    <logs>/<name>.log. ``kill`` is the SIGKILL under test; ``kill_all`` the teardown."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def shell(self, script: str, timeout: float = 120, **values: Any) -> Any:
        """Run ``script`` in `manage.py shell` with ``values`` bound; its last line, as JSON."""
        bound = "".join(f"{name} = {value!r}\n" for name, value in values.items())
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", bound + script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"shell script failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    def manage(self, *args: str, timeout: float = 180) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-4000:]}"

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Start ``python argv...`` as ``name``; a second start of a name appends to its log."""
        assert name not in self.running, f"{name} is already running"
        self.starts[name] = self.starts.get(name, 0) + 1
        with self.log_path(name).open("ab") as out:
            out.write(f"\n===== start {self.starts[name]} of {name} =====\n".encode())
            out.flush()
            process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one session: the kill reaches all it forks
            )
        self.running[name] = process
        return process

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def log(self, name: str, lines: int = 60) -> str:
        path = self.log_path(name)
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {name}.log (last {lines} lines) ---\n" + "\n".join(text.splitlines()[-lines:])

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log(name, lines) for name in self.starts)

    def kill(self, name: str) -> float:
        """SIGKILL every process of ``name``'s session at once (its parent, the cluster's
        sentinel, workers, pusher and monitor, a server's workers) and wait until none is left.
        Returns the moment of the kill (time.monotonic())."""
        process = self.running.pop(name)
        at = time.monotonic()
        _kill_session(process)
        return at

    def kill_all(self) -> None:
        for name in list(self.running):
            _kill_session(self.running.pop(name))


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    sid = process.pid
    for _ in range(3):  # a member may fork while it is being killed
        for pid in {sid, *session_members(sid)}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=10)
        try:
            wait_for(
                f"every process of session {sid} gone",
                lambda: not session_members(sid),
                timeout=10,
                every=0.05,
            )
            return
        except AssertionError:
            continue
    raise AssertionError(f"session {sid} still has {session_members(sid)} after SIGKILL")


class PrivatePostgres:
    """A PostgreSQL 15 server of our own (initdb in a temp dir, a spare port) that a test may
    restart: never the shared server on 5432. It runs as the postgres user (initdb refuses
    root); the socket lives in its own directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kills-pg-"))
        self.data = self.root / "data"
        self.port = spare_port()
        self.server = f"postgres://postgres@{HOST}:{self.port}"
        shutil.chown(self.root, "postgres", "postgres")

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [str(PG_BIN / tool), *args],
            user="postgres",
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{tool} {' '.join(args)} failed:\n{done.stderr}{self.log()}"

    def start(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        # client_connection_check_interval: a statement of a killed client that waits (for a
        # lock) is cancelled rather than run once the lock is free, as if it never arrived.
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.root} "
            "-c fsync=off -c max_connections=200 -c client_connection_check_interval=100"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def restart(self, mode: str) -> float:
        """`pg_ctl restart -m <mode>`: every connection is cut. Seconds it took."""
        began = time.monotonic()
        # -l again: without it the new server writes to (and holds open) pg_ctl's output.
        log = str(self.root / "log")
        self._pg("pg_ctl", "-D", str(self.data), "-l", log, "-m", mode, "-w", "restart")
        return time.monotonic() - began

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "log"
        return "\n" + path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        import pytest

        pytest.skip(f"PostgreSQL 15 is not installed in {PG_BIN}")
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def portal_env(database_url: str, emulator_url: str, settings: dict[str, str]) -> dict[str, str]:
    """The environment of the portal's processes: this database and emulator, ``settings``."""
    inherited = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in inherited and k not in settings}
    env.update(
        DATABASE_URL=database_url,
        DEMO_MODE="true",
        EMULATOR_URL=emulator_url,
        PYTHONUNBUFFERED="1",
        **settings,
    )
    return env

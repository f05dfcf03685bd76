"""Shared helpers for the Point contract tests (no tests here): tokens, a client, a receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from emulator.server import RunningEmulator
from emulator.state import load_fixture

DEMO = load_fixture()
CONTOSO = DEMO["tenants"][0]
FABRIKAM = DEMO["tenants"][1]
FAST = {"approval": 0.0, "approved": 0.1, "in_progress": 0.2, "job": 0.2}


def user(tenant: dict[str, Any], role: str | None = None, guest: bool = False) -> str:
    for u in tenant["users"]:
        if bool(u.get("guest")) == guest and (role is None or role in u["roles"]):
            return str(u["upn"])
    raise LookupError(role)


def app(tenant: dict[str, Any], permissions: int | None = None) -> dict[str, Any]:
    """The full-permission portal app, or the one holding exactly ``permissions`` roles."""
    if permissions is None:
        return dict(tenant["apps"][0])
    return next(a for a in tenant["apps"] if len(a["point_permissions"]) == permissions)


def token(
    emulator: RunningEmulator,
    tenant: dict[str, Any],
    the_app: dict[str, Any] | None = None,
    scope: str | None = None,
) -> str:
    the_app = the_app or app(tenant)
    answer = requests.post(
        f"{emulator.url}/{tenant['id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": the_app["client_id"],
            "client_secret": the_app["secrets"][0]["value"],
            "scope": scope or f"{tenant['point']['api_app_id']}/.default",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class Point:
    """A thin client for one tenant's emulated Point API."""

    def __init__(
        self, emulator: RunningEmulator, tenant: dict[str, Any], bearer: str | None
    ) -> None:
        self.emulator = emulator
        self.tenant = tenant
        self.base = f"{emulator.url}/point/{tenant['slug']}/v1.0"
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        if path.startswith("/point/"):
            return self.emulator.url + path
        return self.base + path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(self.url(path), headers=self.headers, timeout=10, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return requests.post(self.url(path), headers=self.headers, json=body, timeout=10, **kw)

    def delete(self, path: str, body: Any) -> requests.Response:
        headers = {**self.headers, "Content-Type": "application/json"}
        return requests.delete(self.url(path), headers=headers, data=json.dumps(body), timeout=10)

    def provision(self, kind: str, **body: Any) -> requests.Response:
        return self.post(f"/provision/{kind}", body)

    def wait_for(
        self, request_id: str, statuses: tuple[str, ...], deadline: float = 5.0
    ) -> dict[str, Any]:
        """Poll a provisioning request until its status is one of ``statuses``."""
        end = time.monotonic() + deadline
        while True:
            body: dict[str, Any] = self.get(f"/provision/requests/{request_id}").json()
            if body["status"] in statuses or time.monotonic() > end:
                return body
            time.sleep(0.05)

    def wait_job(self, location: str, deadline: float = 5.0) -> requests.Response:
        """Poll an async status URL (no redirects) until it stops saying InProgress."""
        end = time.monotonic() + deadline
        while True:
            answer = self.get(location, allow_redirects=False)
            if (
                answer.status_code != 200
                or answer.json()["status"] != "InProgress"
                or time.monotonic() > end
            ):
                return answer
            time.sleep(0.05)


def eventually(check: Callable[[], Any], deadline: float = 5.0) -> Any:
    """Retry ``check`` until it returns something truthy (or the deadline passes)."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


@pytest.fixture
def fast(emulator: RunningEmulator) -> RunningEmulator:
    emulator.control("timing", **FAST)
    return emulator


@pytest.fixture
def contoso(fast: RunningEmulator) -> Point:
    return Point(fast, CONTOSO, token(fast, CONTOSO))


@pytest.fixture
def fabrikam(fast: RunningEmulator) -> Point:
    return Point(fast, FABRIKAM, token(fast, FABRIKAM))


class Receiver:
    """A tiny webhook receiver; answers ``fail`` times with 500 before answering 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(500)
                else:
                    outer.received.append((dict(self.headers.items()), raw))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/point?code=abc"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


TEAM = {
    "templateId": 3,
    "displayName": "Project Falcon",
    "desiredUrl": "project-falcon",
    "owners": [user(CONTOSO, "Portal.Requester")],
    "members": [user(CONTOSO, "Portal.ITStaff")],
    "description": "Workspace for the Falcon programme",
    "comment": "Needed for the kick-off",
    "metadata": {},
    "isPrivate": True,
}

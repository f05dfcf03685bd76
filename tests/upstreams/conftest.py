"""Fixtures of the upstream tests: token sources, a scripted HTTP session, and a Point
connection to the live emulator whose back-off waits are recorded instead of slept.

Nothing here touches the portal's models: a provider only needs a Connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from upstreams.contract import AuthenticationFailed, Connection
from upstreams.graph.provider import GraphProvider
from upstreams.point import provider, transport
from upstreams.point.provider import PointProvider

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

GRAPH_ROOT = "https://graph.microsoft.com/v1.0"
DEMO_FIXTURE = Path(__file__).resolve().parents[2] / "emulator" / "fixtures" / "demo.json"
BASE = "https://point.example/tenant"  # the base URL of scripted (offline) connections
POINT_PATH = "/point/contoso/v1.0"  # Contoso's Point on the emulator, for fault rules


def demo_app(slug: str, index: int = 0) -> dict[str, str]:
    """Tenant id, client id, secret and Point API app id of an app of the demo fixture."""
    tenant = next(t for t in json.loads(DEMO_FIXTURE.read_text())["tenants"] if t["slug"] == slug)
    app = tenant["apps"][index]
    return {
        "tenant_id": tenant["id"],
        "client_id": app["client_id"],
        "secret": app["secrets"][0]["value"],
        "point_app_id": tenant["point"]["api_app_id"],
    }


@pytest.fixture(autouse=True)
def _nothing_learnt() -> Iterator[None]:
    """Each test starts with a provider that has learnt nothing about any Point (whether it
    honours search or $skip is remembered per process)."""
    provider.forget_learned()
    yield
    provider.forget_learned()


# --- Token sources -----------------------------------------------------------------------------


@dataclass
class RecordingTokens:
    """A TokenSource handing out fixed tokens: ``tokens[0]`` first, the next one per fresh
    request; records what the provider asked and which tokens it reported rejected."""

    tokens: list[str] = field(default_factory=lambda: ["token-one", "token-two"])
    failure: AuthenticationFailed | None = None
    asked: list[bool] = field(default_factory=list)  # the ``fresh`` flag of every request
    rejections: list[str] = field(default_factory=list)
    _current: int = 0

    def token(self, *, fresh: bool = False) -> str:
        self.asked.append(fresh)
        if self.failure is not None:
            raise self.failure
        if fresh:
            self._current = min(self._current + 1, len(self.tokens) - 1)
        return self.tokens[self._current]

    def rejected(self, token: str) -> None:
        self.rejections.append(token)


class EmulatorTokens:
    """A TokenSource on the emulator's Entra: client credentials with
    ``scope=<Point API app id>/.default`` (reference 2.1), the token kept until rejected."""

    def __init__(self, emulator_url: str, app: dict[str, str]) -> None:
        self.url = f"{emulator_url}/{app['tenant_id']}/oauth2/v2.0/token"
        self.form = {
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["secret"],
            "scope": f"{app['point_app_id']}/.default",
        }
        self.cached: str | None = None
        self.asked: list[bool] = []
        self.rejections: list[str] = []

    def token(self, *, fresh: bool = False) -> str:
        self.asked.append(fresh)
        if self.cached and not fresh:
            return self.cached
        answer = requests.post(self.url, data=self.form, timeout=10)
        body = answer.json()
        if answer.status_code != 200:
            first_line = str(body.get("error_description", "")).splitlines()[0]
            raise AuthenticationFailed(
                f"Entra refused the portal's token request: {first_line}",
                guidance="Check the portal app's client secret (Entra ID > App registrations > "
                "the portal's app > Certificates & secrets).",
                retryable=answer.status_code >= 500,
            )
        self.cached = str(body["access_token"])
        return self.cached

    def rejected(self, token: str) -> None:
        self.rejections.append(token)
        if token == self.cached:
            self.cached = None


# --- A scripted HTTP session (offline transport tests) ----------------------------------------


def answer(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    """A requests.Response as the session would return it: JSON ``body`` or ``raw`` bytes."""
    response = requests.Response()
    response.status_code = status
    try:
        response.reason = HTTPStatus(status).phrase
    except ValueError:
        response.reason = ""
    if raw is not None:
        response._content = raw
    else:
        response._content = b"" if body is None else json.dumps(body).encode()
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(headers or {})})
    return response


@dataclass
class Sent:
    method: str
    url: str
    kwargs: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.kwargs["headers"]["Authorization"]).removeprefix("Bearer ")


Outcome = requests.Response | Exception


@dataclass
class ScriptedSession:
    """Stands in for transport._session: answers (or raises) from ``script`` in order, and
    records every request. Running out of script is a test failure."""

    script: Sequence[Outcome] = ()
    sent: list[Sent] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append(Sent(method, url, kwargs))
        if not self.script:
            raise AssertionError(f"Unexpected request: {method} {url}")
        outcome, *rest = self.script
        self.script = rest
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def scripted_transport(monkeypatch: pytest.MonkeyPatch, module: object) -> ScriptedSession:
    """A ScriptedSession in place of an upstream transport module's ``_session``."""
    session = ScriptedSession()
    monkeypatch.setattr(module, "_session", session)
    return session


def script(session: ScriptedSession, *outcomes: requests.Response | Exception) -> None:
    session.script = list(outcomes)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> ScriptedSession:
    return scripted_transport(monkeypatch, transport)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedSession:
    """Microsoft Graph's transport on a scripted session."""
    from upstreams.graph import transport as graph_transport

    return scripted_transport(monkeypatch, graph_transport)


@pytest.fixture
def graph(tokens: RecordingTokens, waits: list[float]) -> GraphProvider:
    """A Graph provider on the public v1.0 root, its waits recorded (offline tests)."""
    return GraphProvider(
        Connection(
            base_url=GRAPH_ROOT, tokens=tokens, backoff=0.1, max_retries=3, sleep=waits.append
        )
    )


@pytest.fixture
def waits() -> list[float]:
    """The back-off waits of a call, recorded instead of slept."""
    return []


@pytest.fixture
def tokens() -> RecordingTokens:
    return RecordingTokens()


@pytest.fixture
def offline(tokens: RecordingTokens, waits: list[float]) -> Connection:
    """A connection to a Point that only the scripted session answers."""
    return Connection(
        base_url=BASE,
        tokens=tokens,
        connect_timeout=2.0,
        read_timeout=5.0,
        max_retries=3,
        backoff=0.1,
        retry_budget=30.0,
        retry_after_max=900.0,
        sleep=waits.append,
    )


# --- The live emulator -------------------------------------------------------------------------


@pytest.fixture
def contoso_tokens(emulator: RunningEmulator) -> EmulatorTokens:
    return EmulatorTokens(emulator.url, demo_app("contoso"))


@pytest.fixture
def live(
    emulator: RunningEmulator, contoso_tokens: EmulatorTokens, waits: list[float]
) -> Connection:
    """Contoso's Point on the emulator: short timeouts, waits recorded (3 retries, 0.1 s)."""
    return Connection(
        base_url=f"{emulator.url}/point/contoso",
        tokens=contoso_tokens,
        connect_timeout=2.0,
        read_timeout=5.0,
        max_retries=3,
        backoff=0.1,
        retry_budget=30.0,
        sleep=waits.append,
    )


@pytest.fixture
def point(live: Connection) -> PointProvider:
    return PointProvider(live)

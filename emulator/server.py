"""The HTTP server: a route table, control-plane fault injection and a background runner.

Route modules (``emulator.entra``, ``emulator.control``, ``emulator.point.routes``) register
handlers with ``@route`` when imported; ``load_routes`` imports them. Latency, throttles and
faults set through ``/_control/`` are applied here, before (or, for ``*_after``, after) the
handler, so they work the same for every route.
"""

from __future__ import annotations

import fnmatch
import json
import re
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from emulator.state import DEFAULT_DIALECT, DEFAULT_ISSUER_HOST, EmulatorState, load_fixture


class BadRequest(Exception):
    """Raised by a handler (or Request.json) to answer 400 with a JSON error."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str]
    state: EmulatorState
    base_url: str

    def json(self) -> Any:
        if not self.body.strip():
            raise BadRequest("A JSON body is required.")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"The body is not valid JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Response(status, json.dumps(obj).encode(), all_headers)


def html_response(html: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return Response(status, html.encode(), all_headers)


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location, "Cache-Control": "no-store"})


@dataclass
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


ROUTES: list[_Route] = []
TICKERS: list[Callable[[EmulatorState], None]] = []
# Hooks that re-shape an error the server answers itself (an injected fault, a throttle, a
# handler crash) in the shape of the API the request was aimed at (a Point dialect's problem
# details); each returns the response unchanged when the request is none of its business.
ERROR_SHAPERS: list[Callable[[Request, Response], Response]] = []


def _shaped(request: Request, response: Response) -> Response:
    for shaper in ERROR_SHAPERS:
        try:
            response = shaper(request, response)
        except Exception:
            # A broken hook must not hide the error it was asked to dress.
            traceback.print_exc(file=sys.stderr)
    return response


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-zA-Z_][a-zA-Z0-9_]*\})", pattern)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    # ASP.NET Core matches routes case-insensitively and tolerates a trailing slash.
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append(_Route(method.upper(), pattern, _compile(pattern), handler))
        return handler

    return register


def load_routes() -> None:
    """Import the route modules (each registers itself once, at first import)."""
    import emulator.control  # noqa: F401
    import emulator.entra  # noqa: F401
    import emulator.graph.routes  # noqa: F401
    import emulator.gt365.routes  # noqa: F401
    import emulator.point.routes  # noqa: F401


def _match(method: str, path: str) -> tuple[Handler | None, dict[str, str], list[str]]:
    allowed: list[str] = []
    for r in ROUTES:
        m = r.regex.match(path)
        if not m:
            continue
        if r.method == method:
            return r.handler, {k: unquote(v) for k, v in m.groupdict().items()}, []
        allowed.append(r.method)
    return None, {}, allowed


# -- control-plane rules -------------------------------------------------------------------


def _rule_matches(rule: dict[str, Any], method: str, path: str) -> bool:
    wanted = str(rule.get("method") or "*").upper()
    if wanted not in ("*", method):
        return False
    return fnmatch.fnmatchcase(path.lower(), str(rule["path"]).lower())


def _take(rules: list[dict[str, Any]], method: str, path: str) -> dict[str, Any] | None:
    """The first armed rule matching the request, its count decremented (caller holds lock)."""
    for rule in rules:
        if rule["remaining"] > 0 and _rule_matches(rule, method, path):
            rule["remaining"] -= 1
            return dict(rule)
    return None


_MALFORMED_BODY = b'{"value": [{"id": 1, "displayName": "trunc'


def _fault_response(kind: str) -> Response:
    reasons = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}
    return json_response(
        {
            "message": "An error has occurred.",
            "exceptionMessage": f"Injected fault: {kind} {reasons[kind]}.",
            "exceptionType": "Emulator.InjectedFault",
        },
        status=int(kind),
    )


# -- the request handler -------------------------------------------------------------------


def _first_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, value)
    return values


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: EmulatorState, log_requests: bool) -> None:
        self.state = state
        self.log_requests = log_requests
        self.stopping = threading.Event()
        super().__init__(address, _RequestHandler)


class _Dropped(Exception):
    """The connection was reset or abandoned on purpose; send nothing."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body leave as two writes, and Nagle's algorithm held the
    # second back until the client's delayed ACK (~40 ms on every kept-alive call).
    disable_nagle_algorithm = True
    server: _Server
    server_version = "PointEmulator/1.0"
    sys_version = ""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        # The default logger prints the raw request line, query string included; we log
        # our own line in _handle without the query string.
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.monotonic()
        method = self.command.upper()
        split = urlsplit(self.path)
        path = split.path or "/"
        status = 0
        try:
            body = self._read_body()
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            request = Request(
                method=method,
                path=path,
                query=_first_values(split.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                params={},
                state=self.server.state,
                base_url=f"http://{host}",
            )
            response = self._dispatch(request)
            status = response.status
            # Logged before the answer goes out, so a test that ends on receipt doesn't
            # see the line spill into the next test's captured output.
            self._log(method, path, str(status), started)
            self._send(response, head_only=method == "HEAD")
        except _Dropped as dropped:
            self.close_connection = True
            self._log(method, path, str(dropped), started)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            if not status:
                self._log(method, path, "client-gone", started)

    def _dispatch(self, request: Request) -> Response:
        state = request.state
        fault: dict[str, Any] | None = None
        if not request.path.lower().startswith("/_control/"):
            with state.lock:
                latency = [
                    r
                    for r in state.runtime["latency"]
                    if _rule_matches(r, request.method, request.path)
                ]
                throttle = _take(state.runtime["throttles"], request.method, request.path)
                fault = (
                    None
                    if throttle
                    else _take(state.runtime["faults"], request.method, request.path)
                )
            if latency:
                self.server.stopping.wait(max(int(r["ms"]) for r in latency) / 1000)
            if throttle:
                seconds = int(throttle["retry_after"])
                return _shaped(
                    request,
                    json_response(
                        {
                            "message": "Too many requests.",
                            "exceptionMessage": f"Rate limit exceeded. Retry after {seconds} seconds.",
                            "exceptionType": "Emulator.Throttled",
                        },
                        status=429,
                        headers={"Retry-After": str(seconds)},
                    ),
                )
            if fault:
                kind = fault["kind"]
                if kind in ("500", "502", "503"):
                    return _shaped(request, _fault_response(kind))
                if kind == "401":
                    # As a JwtBearer API answers a token it no longer accepts (point/auth.py).
                    challenge = 'Bearer error="invalid_token", error_description="Injected fault"'
                    return Response(401, b"", {"WWW-Authenticate": challenge})
                if kind == "403":
                    return Response(403, b"", {})
                if kind == "hang":
                    self._hang(float(fault.get("seconds") or 30))
                if kind == "reset":
                    self._reset()
                if kind == "malformed":
                    return Response(
                        200, _MALFORMED_BODY, {"Content-Type": "application/json; charset=utf-8"}
                    )
                if kind == "aadsts":
                    from emulator.entra import entra_error  # entra imports this module

                    return entra_error(
                        int(fault["status"]),
                        str(fault["error"]),
                        int(fault["code"]),
                        "Injected fault: the service is temporarily unavailable. Try again.",
                    )

        response = self._run_handler(request)
        if fault and fault["kind"] == "hang_after":
            self._hang(float(fault.get("seconds") or 30))
        if fault and fault["kind"] == "reset_after":
            self._reset()
        return response

    def _run_handler(self, request: Request) -> Response:
        handler, params, allowed = _match(request.method, request.path)
        if handler is None:
            if allowed:
                return json_response(
                    {
                        "error": "method_not_allowed",
                        "message": f"{request.method} is not allowed on {request.path}.",
                    },
                    status=405,
                    headers={"Allow": ", ".join(sorted(set(allowed)))},
                )
            return json_response(
                {"error": "not_found", "message": f"No route for {request.path}."}, status=404
            )
        request.params = params
        try:
            return handler(request)
        except BadRequest as exc:
            return json_response({"error": "bad_request", "message": str(exc)}, status=400)
        except Exception:
            trace_id = str(uuid.uuid4())
            print(
                f"emulator: unhandled error (trace id {trace_id}) in {request.method} {request.path}",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            return _shaped(
                request,
                json_response(
                    {
                        "error": "internal_error",
                        "message": "The emulator failed to handle this request.",
                        "traceId": trace_id,
                    },
                    status=500,
                ),
            )

    def _hang(self, seconds: float) -> None:
        # Wait (interruptibly, so stop() is quick), then close without answering.
        self.server.stopping.wait(seconds)
        raise _Dropped("hang")

    def _reset(self) -> None:
        # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
        raise _Dropped("reset")

    def _send(self, response: Response, head_only: bool = False) -> None:
        self.send_response(response.status)
        headers = {k.lower(): (k, v) for k, v in response.headers.items()}
        for name, value in headers.values():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head_only and response.body:
            self.wfile.write(response.body)

    def _log(self, method: str, path: str, status: str, started: float) -> None:
        if self.server.log_requests:
            ms = (time.monotonic() - started) * 1000
            print(f"emulator: {method} {path} {status} {ms:.0f}ms", file=sys.stderr, flush=True)


# -- running it ------------------------------------------------------------------------------


def _tick_forever(state: EmulatorState, stopping: threading.Event) -> None:
    while not stopping.wait(0.1):
        for ticker in list(TICKERS):
            try:
                ticker(state)
            except Exception:
                print("emulator: a ticker failed", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)


class RunningEmulator:
    """An emulator serving from daemon threads; ``stop()`` shuts it down."""

    def __init__(self, server: _Server, state: EmulatorState) -> None:
        self._server = server
        self.state = state
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="emulator-http",
                daemon=True,
            ),
            threading.Thread(
                target=_tick_forever,
                args=(state, server.stopping),
                name="emulator-ticker",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    def control(self, endpoint: str, /, **body: Any) -> dict[str, Any]:
        """POST /_control/<endpoint> with ``body`` as JSON; returns the decoded answer (raises on >= 400).

        ``endpoint`` is positional-only so a JSON field may itself be called ``path``.
        """
        answer = requests.post(f"{self.url}/_control/{endpoint.lstrip('/')}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def control_get(self, endpoint: str, /) -> Any:
        """GET /_control/<endpoint>; returns the decoded answer (raises on >= 400)."""
        answer = requests.get(f"{self.url}/_control/{endpoint.lstrip('/')}", timeout=10)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def start_background(
    fixture_path: str | None = None,
    state_file: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    issuer_host: str = DEFAULT_ISSUER_HOST,
    log_requests: bool = True,
    dialect: str = DEFAULT_DIALECT,
) -> RunningEmulator:
    """Start an emulator in background threads; port 0 picks a free port (see ``.url``).

    ``dialect``: the shape every Point instance answers in until the control API says
    otherwise (``emulator.point.dialects``); an unknown name raises ValueError.
    """
    load_routes()
    from emulator.point.dialects import check  # the Point routes import this module

    state = EmulatorState(
        load_fixture(fixture_path),
        state_file=state_file,
        issuer_host=issuer_host,
        dialect=check(dialect),
    )
    server = _Server((host, port), state, log_requests)
    return RunningEmulator(server, state)

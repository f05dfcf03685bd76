"""Tests for the HTTP plumbing: routing, errors, keep-alive, logging and the command line."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from emulator.server import Request, Response, RunningEmulator, json_response, route
from emulator.state import load_fixture

TID = load_fixture()["tenants"][0]["id"]
REPO = Path(__file__).resolve().parents[2]


@route("GET", "/_test/boom")
def _boom(request: Request) -> Response:
    raise RuntimeError("kaboom with a secret-looking detail")


@route("POST", "/_test/echo/{name}")
def _echo(request: Request) -> Response:
    return json_response(
        {"name": request.params["name"], "body": request.json(), "query": request.query}
    )


def test_an_unknown_route_answers_404_json(emulator: RunningEmulator) -> None:
    answer = requests.get(f"{emulator.url}/no/such/thing", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_a_known_path_with_the_wrong_method_answers_405_with_allow(
    emulator: RunningEmulator,
) -> None:
    answer = requests.delete(f"{emulator.url}/{TID}/oauth2/v2.0/token", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_a_failing_handler_answers_500_json_with_a_trace_id(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = requests.get(f"{emulator.url}/_test/boom", timeout=10)
    assert answer.status_code == 500
    body = answer.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", body["traceId"])
    assert "kaboom" not in answer.text
    logged = capsys.readouterr().err
    assert body["traceId"] in logged and "RuntimeError" in logged


def test_routes_match_case_insensitively_and_decode_parameters(emulator: RunningEmulator) -> None:
    answer = requests.post(f"{emulator.url}/_TEST/Echo/a%20b?x=1&x=2", json={"k": "v"}, timeout=10)
    assert answer.json() == {"name": "a b", "body": {"k": "v"}, "query": {"x": "1"}}


def test_malformed_json_in_a_request_answers_400(emulator: RunningEmulator) -> None:
    answer = requests.post(
        f"{emulator.url}/_test/echo/x",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_one_connection_serves_several_requests(emulator: RunningEmulator) -> None:
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        for path in (
            f"/{TID}/v2.0/.well-known/openid-configuration",
            "/no/such/thing",
            f"/{TID}/discovery/v2.0/keys",
        ):
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
            assert int(answer.headers["Content-Length"]) == len(body)
            json.loads(body)
        connection.request(
            "POST", "/_test/echo/x", body=b'{"a": 1}', headers={"Content-Type": "application/json"}
        )
        assert json.loads(connection.getresponse().read())["body"] == {"a": 1}
    finally:
        connection.close()


def test_the_request_log_omits_query_strings_bodies_and_authorization(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    requests.post(
        f"{emulator.url}/{TID}/oauth2/v2.0/token?client_secret=query-secret",
        data={"client_secret": "body-secret", "grant_type": "client_credentials"},
        headers={"Authorization": "Bearer header-secret"},
        timeout=10,
    )
    logged = capsys.readouterr().err
    assert re.search(rf"POST /{TID}/oauth2/v2\.0/token 4\d\d \d+ms", logged)
    for secret in ("query-secret", "body-secret", "header-secret"):
        assert secret not in logged


def test_the_command_line_serves_until_sigterm_and_keeps_state(tmp_path: Path) -> None:
    state_file = tmp_path / "var" / "emulator-state.json"
    env = {
        **os.environ,
        "EMULATOR_PORT": "0",
        "EMULATOR_STATE_FILE": str(state_file),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--quiet"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert url, banner
        answer = requests.get(f"{url.group(0)}/contoso/discovery/v2.0/keys", timeout=10)
        assert answer.status_code == 200
        assert state_file.exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        saved = json.loads(state_file.read_text())
        assert TID in saved["keys"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_start_background_reports_a_usable_url() -> None:
    from emulator.server import start_background

    running = start_background(log_requests=False)
    try:
        assert running.url == f"http://127.0.0.1:{running.port}"
        started = time.monotonic()
        assert (
            requests.get(f"{running.url}/contoso/discovery/v2.0/keys", timeout=10).status_code
            == 200
        )
        assert time.monotonic() - started < 5
    finally:
        running.stop()

"""Contract of the `aadsts` fault kind: an Entra-shaped error answer instead of the handler's."""

from __future__ import annotations

import pytest
import requests

from emulator.server import RunningEmulator
from emulator.state import load_fixture

CONTOSO = load_fixture()["tenants"][0]
APP = CONTOSO["apps"][0]
TOKEN_PATH = f"/{CONTOSO['id']}/oauth2/v2.0/token"


def get_token(emulator: RunningEmulator) -> requests.Response:
    return requests.post(
        emulator.url + TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": APP["client_id"],
            "client_secret": APP["secrets"][0]["value"],
            "scope": f"{CONTOSO['point']['api_app_id']}/.default",
        },
        timeout=10,
    )


def test_an_aadsts_fault_answers_entras_error_shape_then_clears(emulator: RunningEmulator) -> None:
    emulator.control("faults", method="POST", path=TOKEN_PATH, kind="aadsts", count=1)
    failed = get_token(emulator)
    assert failed.status_code == 400
    body = failed.json()
    assert body["error"] == "temporarily_unavailable" and body["error_codes"] == [90033]
    assert body["error_description"].startswith("AADSTS90033: ")
    assert "Trace ID: " in body["error_description"] and body["correlation_id"]
    assert get_token(emulator).status_code == 200
    # The handler never ran: no token request was logged for the faulted call.
    assert emulator.control_get("token-requests")["count"] == 1


def test_an_aadsts_fault_takes_its_code_error_and_status(emulator: RunningEmulator) -> None:
    emulator.control(
        "faults", path=TOKEN_PATH, kind="aadsts", code=90055, error="invalid_request", status=429
    )
    failed = get_token(emulator)
    assert failed.status_code == 429
    assert failed.json()["error"] == "invalid_request" and failed.json()["error_codes"] == [90055]


@pytest.mark.parametrize("status", [200, 302, 600])
def test_an_aadsts_fault_needs_an_error_status(emulator: RunningEmulator, status: int) -> None:
    answer = requests.post(
        f"{emulator.url}/_control/faults",
        json={"path": TOKEN_PATH, "kind": "aadsts", "status": status},
        timeout=10,
    )
    assert answer.status_code == 400 and "status" in answer.json()["message"]

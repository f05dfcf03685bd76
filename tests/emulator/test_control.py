"""Contract tests for the control API: faults, latency, throttling and Entra knobs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from emulator.entra import verify_access_token
from emulator.server import RunningEmulator, start_background
from emulator.state import load_fixture

DEMO = load_fixture()
CONTOSO = DEMO["tenants"][0]
TID = CONTOSO["id"]
APP = CONTOSO["apps"][0]
CLIENT_ID = APP["client_id"]
SECRET = APP["secrets"][0]["value"]
POINT_APP = CONTOSO["point"]["api_app_id"]
DISCOVERY = "/contoso/v2.0/.well-known/openid-configuration"


def get_token(emulator: RunningEmulator, secret: str = SECRET) -> requests.Response:
    return requests.post(
        f"{emulator.url}/{TID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "scope": f"{POINT_APP}/.default",
        },
        timeout=10,
    )


def discovery(emulator: RunningEmulator, timeout: float = 10) -> requests.Response:
    return requests.get(emulator.url + DISCOVERY, timeout=timeout)


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_a_status_fault_fails_the_next_n_calls_then_clears(
    emulator: RunningEmulator, kind: str
) -> None:
    emulator.control("faults", method="GET", path="/contoso/v2.0/*", kind=kind, count=2)
    assert [discovery(emulator).status_code for _ in range(3)] == [int(kind), int(kind), 200]


def test_a_fault_matches_method_and_path_glob_only(emulator: RunningEmulator) -> None:
    emulator.control("faults", method="POST", path="/contoso/v2.0/*", kind="503", count=1)
    emulator.control("faults", method="GET", path="/fabrikam/*", kind="503", count=1)
    assert discovery(emulator).status_code == 200
    assert (
        requests.get(
            f"{emulator.url}/FABRIKAM/v2.0/.well-known/openid-configuration", timeout=10
        ).status_code
        == 503
    )


def test_a_hang_outlasts_a_short_client_timeout(emulator: RunningEmulator) -> None:
    emulator.control("faults", path=DISCOVERY, kind="hang", seconds=2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        discovery(emulator, timeout=0.3)
    assert discovery(emulator).status_code == 200


def test_a_hang_closes_without_an_answer_after_its_seconds(emulator: RunningEmulator) -> None:
    emulator.control("faults", path=DISCOVERY, kind="hang", seconds=0.2)
    with pytest.raises(requests.exceptions.ConnectionError):
        discovery(emulator, timeout=5)


def test_a_reset_fault_drops_the_connection(emulator: RunningEmulator) -> None:
    emulator.control("faults", path=DISCOVERY, kind="reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        discovery(emulator)
    assert discovery(emulator).status_code == 200


def test_a_malformed_fault_answers_200_with_broken_json(emulator: RunningEmulator) -> None:
    emulator.control("faults", path=DISCOVERY, kind="malformed")
    answer = discovery(emulator)
    assert answer.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        answer.json()


def test_reset_after_runs_the_handler_then_drops_the_connection(emulator: RunningEmulator) -> None:
    emulator.control("faults", method="POST", path="/*/oauth2/v2.0/token", kind="reset_after")
    with pytest.raises(requests.exceptions.ConnectionError):
        get_token(emulator)
    log = emulator.control_get("token-requests")
    assert log["count"] == 1 and log["requests"][0]["outcome"] == "success"


def test_hang_after_runs_the_handler_then_hangs(emulator: RunningEmulator) -> None:
    emulator.control(
        "faults", method="POST", path="/*/oauth2/v2.0/token", kind="hang_after", seconds=2
    )
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(
            f"{emulator.url}/{TID}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "scope": f"{POINT_APP}/.default",
            },
            timeout=0.5,
        )
    assert emulator.control_get("token-requests")["count"] == 1


def test_an_unknown_fault_kind_is_refused(emulator: RunningEmulator) -> None:
    answer = requests.post(
        f"{emulator.url}/_control/faults", json={"path": "/x", "kind": "explode"}, timeout=10
    )
    assert answer.status_code == 400
    assert "kind" in answer.json()["message"]


def test_control_routes_are_never_faulted(emulator: RunningEmulator) -> None:
    emulator.control("faults", path="*", kind="503", count=5)
    assert emulator.control_get("state")["faults"][0]["remaining"] == 5
    emulator.control("clear")
    assert discovery(emulator).status_code == 200


# -- throttling and latency --------------------------------------------------------------------


def test_throttle_answers_429_with_retry_after_for_count_calls(emulator: RunningEmulator) -> None:
    emulator.control("throttle", method="GET", path=DISCOVERY, count=2, retry_after=7)
    first, second, third = (discovery(emulator) for _ in range(3))
    for answer in (first, second):
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "7"
        assert "message" in answer.json()
    assert third.status_code == 200


def test_latency_delays_matching_requests_until_cleared(emulator: RunningEmulator) -> None:
    emulator.control("latency", path="/contoso/*", ms=300)
    started = time.monotonic()
    assert discovery(emulator).status_code == 200
    assert time.monotonic() - started >= 0.3
    emulator.control("latency", path="/contoso/*", ms=0)
    assert emulator.control_get("state")["latency"] == []


def test_clear_removes_latency_faults_and_throttles(emulator: RunningEmulator) -> None:
    emulator.control("latency", path="/*", ms=5000)
    emulator.control("faults", path="/*", kind="500")
    emulator.control("throttle", path="/*", count=3, retry_after=1)
    cleared = emulator.control("clear")
    assert cleared == {"latency": [], "faults": [], "throttles": []}
    assert discovery(emulator, timeout=2).status_code == 200


# -- Entra knobs -------------------------------------------------------------------------------


def test_expire_secret_makes_the_token_endpoint_answer_aadsts7000222(
    emulator: RunningEmulator,
) -> None:
    emulator.control("expire-secret", client_id=CLIENT_ID)
    answer = get_token(emulator)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["error_codes"] == [7000222]
    # A wrong secret is still the "invalid secret" error, not "expired".
    assert get_token(emulator, secret="wrong").json()["error_codes"] == [7000215]


def test_expire_secret_accepts_an_explicit_future_date(emulator: RunningEmulator) -> None:
    emulator.control("expire-secret", client_id=CLIENT_ID, expires="2099-01-01")
    assert get_token(emulator).status_code == 200


def test_revoking_a_permission_removes_it_from_the_next_token(emulator: RunningEmulator) -> None:
    answer = emulator.control(
        "permissions", client_id=CLIENT_ID, revoke=["Point.Provisioning", "Point.Admin"]
    )
    assert answer["point_permissions"] == ["SharePoint.Read.All", "Point.AsyncRequests"]
    claims = verify_access_token(
        emulator.state, get_token(emulator).json()["access_token"], POINT_APP
    )
    assert "Point.Provisioning" not in claims["roles"] and "Point.Admin" not in claims["roles"]
    emulator.control("permissions", client_id=CLIENT_ID, grant=["Point.Admin"])
    claims = verify_access_token(
        emulator.state, get_token(emulator).json()["access_token"], POINT_APP
    )
    assert "Point.Admin" in claims["roles"]


def test_revoking_every_permission_leaves_no_roles_claim(emulator: RunningEmulator) -> None:
    emulator.control("permissions", client_id=CLIENT_ID, revoke=list(APP["point_permissions"]))
    claims = verify_access_token(
        emulator.state, get_token(emulator).json()["access_token"], POINT_APP
    )
    assert "roles" not in claims


def test_unknown_permissions_are_refused(emulator: RunningEmulator) -> None:
    answer = requests.post(
        f"{emulator.url}/_control/permissions",
        json={"client_id": CLIENT_ID, "grant": ["Everything"]},
        timeout=10,
    )
    assert answer.status_code == 400


def test_token_lifetime_changes_expires_in_and_exp(emulator: RunningEmulator) -> None:
    emulator.control("token-lifetime", seconds=120)
    body = get_token(emulator).json()
    assert body["expires_in"] == 120
    claims = verify_access_token(emulator.state, body["access_token"], POINT_APP)
    assert claims["exp"] - claims["iat"] == 120


def test_an_expired_access_token_no_longer_verifies(emulator: RunningEmulator) -> None:
    from emulator.entra import InvalidToken

    emulator.control("token-lifetime", seconds=1)
    token = get_token(emulator).json()["access_token"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            verify_access_token(emulator.state, token, POINT_APP)
        except InvalidToken:
            return
        time.sleep(0.1)
    pytest.fail("the token never expired")


def test_token_requests_are_logged_without_secrets(emulator: RunningEmulator) -> None:
    get_token(emulator)
    get_token(emulator, secret="wrong-secret-value")
    answer = requests.get(f"{emulator.url}/_control/token-requests", timeout=10)
    log = answer.json()
    assert log["count"] == 2
    assert [r["outcome"] for r in log["requests"]] == ["success", "AADSTS7000215 invalid_client"]
    assert set(log["requests"][0]) == {"time", "tenant", "client_id", "grant_type", "outcome"}
    assert log["requests"][0]["client_id"] == CLIENT_ID
    assert SECRET not in answer.text and "wrong-secret-value" not in answer.text
    assert SECRET not in requests.get(f"{emulator.url}/_control/state", timeout=10).text


def test_reset_restores_the_fixture(emulator: RunningEmulator) -> None:
    emulator.control("permissions", client_id=CLIENT_ID, revoke=["Point.Admin"])
    emulator.control("expire-secret", client_id=CLIENT_ID)
    emulator.control("faults", path="/nowhere", kind="500")
    get_token(emulator)
    emulator.control("reset")
    state = emulator.control_get("state")
    assert state["faults"] == [] and state["token_requests"] == 0
    claims = verify_access_token(
        emulator.state, get_token(emulator).json()["access_token"], POINT_APP
    )
    assert "Point.Admin" in claims["roles"]


def test_state_survives_a_restart_with_a_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "nested" / "state.json"
    first = start_background(state_file=str(state_file))
    try:
        first.control("permissions", client_id=CLIENT_ID, revoke=["Point.Admin"])
        token = get_token(first).json()["access_token"]
    finally:
        first.stop()
    assert state_file.exists()
    second = start_background(state_file=str(state_file))
    try:
        # The signing key was persisted, so a token issued before the restart still verifies.
        assert verify_access_token(second.state, token, POINT_APP)["tid"] == TID
        claims = verify_access_token(
            second.state, get_token(second).json()["access_token"], POINT_APP
        )
        assert "Point.Admin" not in claims["roles"]
        assert second.control_get("token-requests")["count"] == 2
    finally:
        second.stop()


def test_a_fresh_emulator_starts_clean(emulator: RunningEmulator) -> None:
    state = emulator.control_get("state")
    assert state["token_requests"] == 0 and state["state_file"] is None
    assert [t["slug"] for t in state["tenants"]] == ["contoso", "fabrikam", "litware", "tailspin"]

"""The emulated GT365 over HTTP: seed 001's call and errors, its dialects, and the control API."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from emulator.server import RunningEmulator
from tests.upstreams.conftest import demo_app

TAILSPIN = "tailspin"
KIM = "kim.abercrombie@tailspin.onmicrosoft.com"
OMAR = "omar.bennett@tailspin.onmicrosoft.com"
VISIBILITY = "No visibility (Private|Public) was provided or had a wrong label."


def graph_token(emulator: RunningEmulator, slug: str = TAILSPIN, index: int = 0) -> str:
    app = demo_app(slug, index)
    answer = requests.post(
        f"{emulator.url}/{app['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["secret"],
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def body(**changes: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "displayName": "Falcon",
        "mailNickname": "falcon",
        "description": "Project Falcon",
        "ownerUPNs": [KIM],
        "memberUPNs": [OMAR],
        "createTeam": True,
        "visibility": "Private",
    }
    sent.update(changes)
    return {k: v for k, v in sent.items() if v is not None}


def provision(
    emulator: RunningEmulator, sent: Any, *, token: str | None = None, timeout: float = 10
) -> requests.Response:
    return requests.post(
        f"{emulator.url}/gt365/api/ProvisionGroup",
        json=sent,
        headers={"Authorization": f"Bearer {token or graph_token(emulator)}"},
        timeout=timeout,
    )


def ledger(emulator: RunningEmulator, slug: str = TAILSPIN) -> dict[str, Any]:
    found: dict[str, Any] = emulator.control_get(f"gt365/ledger?tenant={slug}")
    return found


def header(wrapped: dict[str, Any], name: str) -> str:
    return next(h["value"][0] for h in wrapped["headers"] if h["key"] == name)


# --- The documented call -------------------------------------------------------------------------


def test_a_group_is_created_and_answered_as_a_wrapped_201(emulator: RunningEmulator) -> None:
    answer = provision(emulator, body())
    assert answer.status_code == 201
    wrapped = answer.json()
    assert wrapped["isSuccessStatusCode"] is True and wrapped["statusCode"] == 201
    [group] = ledger(emulator)["groups"]
    tenant_id = demo_app(TAILSPIN)["tenant_id"]
    assert header(wrapped, "Location") == (
        f"https://graph.microsoft.com/v2/{tenant_id}/directoryObjects/{group['id']}"
        "/Microsoft.DirectoryServices.Group"
    )
    assert group["mail"] == "falcon@tailspin.onmicrosoft.com"
    assert (group["createTeam"], group["visibility"]) == (True, "Private")
    assert group["owners"] == [KIM] and group["members"] == [OMAR]


def test_the_ledger_records_every_attempt_and_each_group_once(emulator: RunningEmulator) -> None:
    provision(emulator, body())
    provision(emulator, body())
    seen = ledger(emulator)
    assert [a["status"] for a in seen["attempts"]] == [201, 400]
    assert seen["attempts"][1]["error"] == "Request_BadRequest"
    assert all(
        {"displayName", "mailNickname", "createTeam", "at"} <= set(a) for a in seen["attempts"]
    )
    assert len(seen["groups"]) == 1


def test_groups_of_another_tenant_do_not_clash(emulator: RunningEmulator) -> None:
    litware = "nancy.davolio@litware.onmicrosoft.com"
    assert provision(emulator, body()).status_code == 201
    token = graph_token(emulator, "litware")
    assert (
        provision(emulator, body(ownerUPNs=[litware], memberUPNs=[]), token=token).status_code
        == 201
    )
    assert len(ledger(emulator, "litware")["groups"]) == 1


# --- Seed 001's errors -----------------------------------------------------------------------------


def test_a_bad_token_is_invalid_authentication_token(emulator: RunningEmulator) -> None:
    answer = provision(emulator, body(), token="not-a-token")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_token_for_another_resource_is_refused(emulator: RunningEmulator) -> None:
    app = demo_app("contoso")
    point_token = requests.post(
        f"{emulator.url}/{app['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["secret"],
            "scope": f"{app['point_app_id']}/.default",
        },
        timeout=10,
    ).json()["access_token"]
    assert provision(emulator, body(), token=point_token).status_code == 401


def test_an_app_without_group_readwrite_all_is_denied(emulator: RunningEmulator) -> None:
    answer = provision(
        emulator,
        body(ownerUPNs=["adele.vance@contoso.onmicrosoft.com"]),
        token=graph_token(emulator, "contoso"),
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "Authorization_RequestDenied"
    assert ledger(emulator, "contoso")["groups"] == []


@pytest.mark.parametrize("visibility", [None, "Hidden"])
def test_a_missing_or_wrong_visibility_is_a_plain_text_sentence(
    emulator: RunningEmulator, visibility: str | None
) -> None:
    answer = provision(emulator, body(visibility=visibility))
    assert (answer.status_code, answer.text) == (400, VISIBILITY)
    assert answer.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("key", ["displayName", "mailNickname", "ownerUPNs"])
def test_each_mandatory_key_is_required(emulator: RunningEmulator, key: str) -> None:
    answer = provision(emulator, {k: v for k, v in body().items() if k != key})
    assert (answer.status_code, answer.text) == (400, f"No {key} was provided.")


def test_a_classification_outside_the_policy_is_an_invalid_value(emulator: RunningEmulator) -> None:
    answer = provision(emulator, body(classification="Secret"))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "Request_BadRequest",
        "Property classification has an invalid value.",
    )
    assert error["details"] == [{"target": "classification", "code": "InvalidValue"}]
    assert provision(emulator, body(classification="confidential")).status_code == 201


def test_the_classification_policy_is_set_per_tenant(emulator: RunningEmulator) -> None:
    emulator.control("gt365/classifications", tenant=TAILSPIN, values=["Secret"])
    assert provision(emulator, body(classification="Secret")).status_code == 201
    assert provision(emulator, body(mailNickname="x2", classification="General")).status_code == 400


def test_a_taken_mail_nickname_is_an_object_conflict(emulator: RunningEmulator) -> None:
    provision(emulator, body())
    answer = provision(emulator, body(displayName="Other", mailNickname="FALCON"))
    assert answer.status_code == 400
    assert answer.json()["error"]["details"] == [
        {"target": "mailNickname", "code": "ObjectConflict"}
    ]


def test_a_mail_nickname_that_is_not_ascii_is_an_invalid_value(emulator: RunningEmulator) -> None:
    answer = provision(emulator, body(mailNickname="café team"))
    assert answer.json()["error"]["details"] == [{"target": "mailNickname", "code": "InvalidValue"}]


@pytest.mark.parametrize(("key", "word"), [("ownerUPNs", "owner"), ("memberUPNs", "member")])
def test_a_person_not_in_the_tenant_is_not_found(
    emulator: RunningEmulator, key: str, word: str
) -> None:
    answer = provision(emulator, body(**{key: ["nobody@tailspin.onmicrosoft.com"]}))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "InvalidRequest"
    assert error["message"] == f"Team {word} not found for nobody@tailspin.onmicrosoft.com."


# --- The plain dialect -----------------------------------------------------------------------------


def test_the_plain_dialect_answers_a_bare_group_in_pascal_case(emulator: RunningEmulator) -> None:
    emulator.control("gt365/dialect", tenant=TAILSPIN, dialect="plain")
    answer = provision(emulator, body())
    assert answer.status_code == 201
    [group] = ledger(emulator)["groups"]
    assert answer.json() == {
        "Id": group["id"],
        "DisplayName": "Falcon",
        "MailNickname": "falcon",
        "Mail": "falcon@tailspin.onmicrosoft.com",
    }


def test_the_plain_dialect_words_every_error_as_a_message(emulator: RunningEmulator) -> None:
    emulator.control("gt365/dialect", dialect="plain")
    assert provision(emulator, body(visibility="x")).json() == {"Message": VISIBILITY}
    provision(emulator, body())
    conflict = provision(emulator, body())
    assert conflict.status_code == 400
    assert conflict.json() == {
        "Message": "Another object with the same value for property mailNickname already exists."
    }
    assert provision(emulator, body(), token="bad").status_code == 401


def test_a_dialect_is_per_tenant_and_unknown_ones_are_refused(emulator: RunningEmulator) -> None:
    emulator.control("gt365/dialect", tenant="litware", dialect="plain")
    assert provision(emulator, body()).json()["isSuccessStatusCode"] is True
    with pytest.raises(requests.HTTPError):
        emulator.control("gt365/dialect", dialect="graph")


# --- Slow calls, lost answers, faults --------------------------------------------------------------


def test_a_call_takes_the_duration_set(emulator: RunningEmulator) -> None:
    emulator.control("gt365/duration", tenant=TAILSPIN, seconds=0.5)
    started = time.monotonic()
    assert provision(emulator, body()).status_code == 201
    assert time.monotonic() - started >= 0.5


def test_a_client_giving_up_on_a_slow_call_still_gets_its_group(emulator: RunningEmulator) -> None:
    emulator.control("gt365/duration", seconds=2)
    with pytest.raises(requests.ReadTimeout):
        provision(emulator, body(), token=graph_token(emulator), timeout=0.5)
    assert len(ledger(emulator)["groups"]) == 1


@pytest.mark.parametrize("mode", ["reset", "hang"])
def test_a_lost_answer_still_creates_the_group(emulator: RunningEmulator, mode: str) -> None:
    emulator.control("gt365/lose-answer", mode=mode, seconds=0.2)
    with pytest.raises(requests.ConnectionError):
        provision(emulator, body())
    assert len(ledger(emulator)["groups"]) == 1
    assert provision(emulator, body(mailNickname="next")).status_code == 201  # only the next one


def test_an_injected_fault_is_worded_as_the_dialect_words_errors(emulator: RunningEmulator) -> None:
    emulator.control("faults", method="POST", path="/gt365/*", kind="503")
    emulator.control("throttle", method="POST", path="/gt365/*", retry_after=3)
    throttled = provision(emulator, body())
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    emulator.control("gt365/dialect", dialect="plain")
    unavailable = provision(emulator, body())
    assert unavailable.status_code == 503 and "Message" in unavailable.json()


def test_reset_forgets_gt365s_groups_and_settings(emulator: RunningEmulator) -> None:
    emulator.control("gt365/dialect", dialect="plain")
    provision(emulator, body())
    emulator.control("reset")
    assert ledger(emulator)["groups"] == []
    assert emulator.control_get("gt365/dialect")["defaults"]["dialect"] == "documented"
    assert provision(emulator, body()).status_code == 201


def test_the_ledger_needs_a_known_tenant(emulator: RunningEmulator) -> None:
    with pytest.raises(requests.HTTPError):
        emulator.control_get("gt365/ledger")
    with pytest.raises(requests.HTTPError):
        emulator.control_get("gt365/ledger?tenant=nowhere")

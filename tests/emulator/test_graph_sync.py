"""Service principals, synchronization jobs and acquireAccessToken on the emulated Graph; a
credential value handed over must never come back out of the emulator."""

from __future__ import annotations

import json

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator.test_graph_support import CONTOSO, FABRIKAM, Graph, error_code

SECRET = "s3cr3t-TOKEN-value-that-must-never-leak-7f1c"
BASE = "https://tenant.slack.example/scim/v2"


@pytest.fixture
def contoso(emulator: RunningEmulator) -> Graph:
    return Graph(emulator, CONTOSO)  # Application.Read.All + Synchronization.ReadWrite.All


def slack(graph: Graph) -> str:
    found = graph.get("/servicePrincipals", params={"$filter": "displayName eq 'Slack'"})
    return str(found.json()["value"][0]["id"])


def credentials(secret: str = SECRET) -> dict[str, list[dict[str, str]]]:
    return {
        "credentials": [
            {"key": "BaseAddress", "value": BASE},
            {"key": "SecretToken", "value": secret},
        ]
    }


def test_service_principals_list_the_enterprise_apps(contoso: Graph) -> None:
    principals = contoso.get("/servicePrincipals").json()["value"]
    names = {p["displayName"] for p in principals}
    assert {"Slack", "ServiceNow", "Provisioning portal"} <= names
    assert all({"id", "appId", "displayName", "tags"} <= set(p) for p in principals)


def test_service_principals_are_searched_with_consistency_level(contoso: Graph) -> None:
    params = {"$search": '"displayName:servicen"'}
    assert contoso.get("/servicePrincipals", params=params).status_code == 400
    found = contoso.get(
        "/servicePrincipals", params=params, headers={"ConsistencyLevel": "eventual"}
    ).json()["value"]
    assert [p["displayName"] for p in found] == ["ServiceNow"]


def test_synchronization_jobs_show_schedule_and_status(contoso: Graph) -> None:
    jobs = contoso.get(f"/servicePrincipals/{slack(contoso)}/synchronization/jobs").json()
    job = jobs["value"][0]
    assert job["templateId"] == "slack" and job["schedule"]["state"] == "Active"
    assert job["status"]["code"] == "Active"
    assert job["status"]["lastExecution"]["state"] == "Succeeded"
    now = contoso.get("/servicePrincipals", params={"$filter": "displayName eq 'ServiceNow'"})
    sp = now.json()["value"][0]["id"]
    quarantined = contoso.get(f"/servicePrincipals/{sp}/synchronization/jobs").json()["value"][0]
    assert quarantined["status"]["code"] == "Quarantine"
    assert quarantined["status"]["lastExecution"]["error"]["message"]


def test_jobs_of_an_unknown_service_principal_are_404(contoso: Graph) -> None:
    answer = contoso.get(
        "/servicePrincipals/00000000-0000-0000-0000-000000000000/synchronization/jobs"
    )
    assert answer.status_code == 404
    assert error_code(answer) == "Request_ResourceNotFound"


def test_acquire_access_token_is_204_and_records_only_the_keys(contoso: Graph) -> None:
    sp = slack(contoso)
    answer = contoso.post(
        f"/servicePrincipals/{sp}/synchronization/acquireAccessToken", credentials()
    )
    assert answer.status_code == 204
    entry = contoso.ledger()[-1]
    assert entry["kind"] == "syncCredentials" and entry["servicePrincipalId"] == sp
    assert entry["keys"] == ["BaseAddress", "SecretToken"] and entry["at"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"credentials": []},
        {"credentials": [{"key": "NotAKey", "value": SECRET}]},
        {"credentials": [{"value": SECRET}]},
        {"credentials": [SECRET]},
    ],
)
def test_acquire_access_token_without_proper_credentials_is_400(
    contoso: Graph, body: dict[str, object]
) -> None:
    answer = contoso.post(
        f"/servicePrincipals/{slack(contoso)}/synchronization/acquireAccessToken", body
    )
    assert answer.status_code == 400
    assert error_code(answer) == "Request_BadRequest"
    assert SECRET not in answer.text


def test_acquire_access_token_for_an_unknown_service_principal_is_404(contoso: Graph) -> None:
    answer = contoso.post(
        "/servicePrincipals/00000000-0000-0000-0000-000000000000/synchronization/acquireAccessToken",
        credentials(),
    )
    assert answer.status_code == 404


def test_acquire_access_token_needs_synchronization_readwrite(emulator: RunningEmulator) -> None:
    emulator.control(
        "graph/permissions",
        tenant="contoso",
        permissions=["Application.Read.All", "Synchronization.Read.All"],
    )
    graph = Graph(emulator, CONTOSO)
    sp = slack(graph)
    assert graph.get(f"/servicePrincipals/{sp}/synchronization/jobs").status_code == 200
    answer = graph.post(
        f"/servicePrincipals/{sp}/synchronization/acquireAccessToken", credentials()
    )
    assert answer.status_code == 403
    assert Graph(emulator, FABRIKAM, app_index=1).get("/servicePrincipals").status_code == 403


def test_rejected_credentials_are_400_invalid_credentials(contoso: Graph) -> None:
    contoso.control("fail-next", kind="sync", message="The SCIM endpoint answered 401.")
    path = f"/servicePrincipals/{slack(contoso)}/synchronization/acquireAccessToken"
    answer = contoso.post(path, credentials())
    assert answer.status_code == 400
    assert error_code(answer) == "InvalidCredentials"
    assert SECRET not in answer.text
    assert contoso.post(path, credentials()).status_code == 204


def test_a_credential_value_appears_nowhere_the_emulator_answers(
    emulator: RunningEmulator, contoso: Graph
) -> None:
    path = f"/servicePrincipals/{slack(contoso)}/synchronization/acquireAccessToken"
    contoso.post(path, credentials())
    contoso.control("fail-next", kind="sync", message="nope")
    contoso.post(path, credentials())
    contoso.post(path, {"credentials": [{"key": "Bogus", "value": SECRET}]})
    answers = [
        json.dumps(contoso.ledger()),
        json.dumps(emulator.control_get("graph/ledger")),
        json.dumps(emulator.control_get("graph/config?tenant=contoso")),
        json.dumps(emulator.control_get("state")),
        json.dumps(emulator.control_get("token-requests")),
        requests.get(
            contoso.url(f"/servicePrincipals/{slack(contoso)}/synchronization/jobs"),
            headers=contoso.headers(),
            timeout=10,
        ).text,
        json.dumps(emulator.state.data),
    ]
    for text in answers:
        assert SECRET not in text
        assert BASE not in text

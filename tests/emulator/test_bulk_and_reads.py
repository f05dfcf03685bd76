"""Control API for benchmarks: many Point requests at once, and the status reads of each."""

from __future__ import annotations

import time
from typing import Any

import requests

from emulator.server import RunningEmulator
from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import CONTOSO, FABRIKAM, TEAM, Point

fast, contoso, fabrikam = support.fast, support.contoso, support.fabrikam

BODY: dict[str, Any] = {
    "templateId": 3,
    "displayName": "Bench",
    "owners": TEAM["owners"],
}


def bulk(emulator: RunningEmulator, **body: Any) -> requests.Response:
    return requests.post(f"{emulator.url}/_control/requests/bulk", json=body, timeout=30)


def reads(emulator: RunningEmulator, **query: Any) -> list[list[Any]]:
    answer = requests.get(f"{emulator.url}/_control/requests/reads", params=query, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    assert body["count"] == len(body["reads"])
    return list(body["reads"])


def test_bulk_creates_numbered_requests_that_follow_the_lifecycle(contoso: Point) -> None:
    emulator = contoso.emulator
    answer = bulk(emulator, tenant="contoso", kind="teams", count=3, body=BODY)
    assert answer.status_code == 200
    made = answer.json()
    assert made["tenant"] == "contoso" and made["count"] == 3
    assert [r["displayName"] for r in made["requests"]] == ["Bench 1", "Bench 2", "Bench 3"]
    first = made["requests"][0]["id"]
    status = contoso.wait_for(first, ("Completed",))
    assert status["status"] == "Completed" and status["displayName"] == "Bench 1"
    ledger = emulator.control_get("ledger?tenant=contoso")
    assert first in {w["requestId"] for w in ledger["workspaces"]}
    # Made by the tenant's portal app, so its request lookup finds them.
    found = contoso.get("/provision/requests", params={"displayName": "Bench 2"}).json()
    assert [r["id"] for r in found["value"]] == [made["requests"][1]["id"]]


def test_bulk_refuses_what_the_post_refuses_and_bad_control_bodies(
    emulator: RunningEmulator,
) -> None:
    refused = bulk(emulator, tenant="contoso", kind="teams", count=2, body={**BODY, "owners": []})
    assert refused.status_code == 400
    assert "owners" in refused.json()["errors"]
    assert emulator.control_get("requests")["count"] == 0
    for body in (
        {"tenant": "nowhere", "kind": "teams", "count": 1, "body": BODY},
        {"tenant": "contoso", "kind": "boats", "count": 1, "body": BODY},
        {"tenant": "contoso", "kind": "teams", "count": 0, "body": BODY},
        {"tenant": "contoso", "kind": "teams", "count": True, "body": BODY},
        {"tenant": "contoso", "kind": "teams", "count": 1, "body": {"templateId": 3}},
    ):
        assert bulk(emulator, **body).status_code == 400, body


def test_reads_list_each_status_read_by_tenant_and_time(contoso: Point, fabrikam: Point) -> None:
    emulator = contoso.emulator
    ours = bulk(emulator, tenant="contoso", kind="teams", count=2, body=BODY).json()["requests"]
    fab_body = {**BODY, "owners": [support.user(FABRIKAM, "Portal.Requester")]}
    theirs = bulk(emulator, tenant="fabrikam", kind="teams", count=1, body=fab_body).json()
    assert reads(emulator) == []
    before = time.time()
    contoso.get(f"/provision/requests/{ours[0]['id']}")
    contoso.get(f"/provision/requests/{ours[0]['id'].upper()}")
    contoso.get(f"/provision/requests/{ours[1]['id']}")
    fabrikam.get(f"/provision/requests/{theirs['requests'][0]['id']}")
    contoso.get("/provision/requests", params={"displayName": "Bench 1"})  # a lookup, not a read
    after = time.time()
    seen = reads(emulator)
    assert [(slug, request_id) for slug, request_id, _ in seen] == [
        ("contoso", ours[0]["id"]),
        ("contoso", ours[0]["id"]),
        ("contoso", ours[1]["id"]),
        ("fabrikam", theirs["requests"][0]["id"]),
    ]
    assert all(before <= at <= after for _, _, at in seen)
    assert len(reads(emulator, tenant="fabrikam")) == 1
    assert reads(emulator, since=after + 1) == []
    assert len(reads(emulator, until=seen[1][2])) == 2
    assert (
        requests.get(f"{emulator.url}/_control/requests/reads?since=x", timeout=10).status_code
        == 400
    )
    emulator.control("reset")
    assert reads(emulator) == []


def test_existing_post_still_refuses_duplicates(contoso: Point) -> None:
    assert contoso.provision("teams", **TEAM).status_code in (200, 201)
    again = contoso.provision("teams", **{**TEAM, "desiredUrl": "other"})
    assert again.status_code == 400 and "displayName" in again.json()["errors"]
    assert CONTOSO["slug"] == "contoso"

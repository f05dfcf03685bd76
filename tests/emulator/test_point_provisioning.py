"""Point's templates, provisioning requests, their lifecycle and the creation ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import CONTOSO, FABRIKAM, TEAM, Point, eventually, user

# Fixtures shared by the Point tests.
fast, contoso, fabrikam = support.fast, support.contoso, support.fabrikam

REQUESTER = user(CONTOSO, "Portal.Requester")
IT = user(CONTOSO, "Portal.ITStaff")
ADMIN = user(CONTOSO, "Portal.Admin")
GUEST = user(CONTOSO, guest=True)
PROJECT: dict[str, Any] = {
    "templateId": 1,
    "displayName": "Falcon",
    "owners": [REQUESTER, IT],
    "metadata": {"Cost Center": "CC-1001", "Project Manager": REQUESTER, "Department": "Finance"},
}


def team(**overrides: Any) -> dict[str, Any]:
    return {**TEAM, **overrides}


# --- Templates ---------------------------------------------------------------------------------


def test_templates_cover_the_four_workloads_and_points_three_defaults(contoso: Point) -> None:
    templates = contoso.get("/provision/templates").json()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for t in templates:
        by_type.setdefault(t["workspaceType"], []).append(t)
    assert set(by_type) == {
        "MicrosoftTeams",
        "M365Group",
        "SharePointSiteCollection",
        "YammerCommunity",
    }
    assert all(2 <= len(ts) <= 4 for ts in by_type.values())
    assert {"Manage a project", "Department team", "Public team"} <= {
        t["name"] for t in by_type["MicrosoftTeams"]
    }
    assert all(isinstance(t["id"], int) for t in templates)
    assert len({t["id"] for t in templates}) == len(templates)


def test_templates_describe_approval_naming_owners_guests_privacy_and_metadata(
    contoso: Point,
) -> None:
    templates = contoso.get("/provision/templates").json()
    assert {t["approvalProcess"]["isAutomatic"] for t in templates} == {True, False}
    assert any(t["approvalProcess"]["stages"] == 2 for t in templates)
    assert {t["privacy"] for t in templates} == {"Private", "Public", "RequesterDecides"}
    kinds = {f["type"] for t in templates for f in t["customMetadata"]}
    assert kinds == {"Text", "People", "Date", "Dropdown", "YesNo", "Number"}
    assert all(
        f["options"] for t in templates for f in t["customMetadata"] if f["type"] == "Dropdown"
    )
    assert {f["required"] for t in templates for f in t["customMetadata"]} == {True, False}
    project = next(t for t in templates if t["name"] == "Manage a project")
    assert project["namingRule"] == {"prefix": "PRJ - ", "suffix": ""}
    assert project["owners"]["min"] == 2 and project["owners"]["max"] == 5
    assert all(t["guests"]["allowAsOwners"] is False for t in templates)
    assert {t["guests"]["allowAsMembers"] for t in templates} == {True, False}
    assert (
        next(t for t in templates if t["workspaceType"] == "YammerCommunity")["urlSettings"] is None
    )


def test_templates_are_the_same_per_tenant_but_with_the_tenants_own_predefined_owners(
    contoso: Point, fabrikam: Point
) -> None:
    ours, theirs = (
        contoso.get("/provision/templates").json(),
        fabrikam.get("/provision/templates").json(),
    )
    assert [t["id"] for t in ours] == [t["id"] for t in theirs]
    dept_ours = next(t for t in ours if t["name"] == "Department team")["owners"]["predefined"]
    dept_theirs = next(t for t in theirs if t["name"] == "Department team")["owners"]["predefined"]
    assert dept_ours == [IT]
    assert dept_theirs == [user(FABRIKAM, "Portal.ITStaff")]


# --- Each workload completes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "listing"),
    [
        ("teams", team(), "/groups"),
        (
            "groups",
            {"templateId": 11, "displayName": "Choir", "owners": [REQUESTER], "isPrivate": False},
            "/groups",
        ),
        (
            "sites",
            {
                "templateId": 21,
                "displayName": "Newsroom",
                "owners": [REQUESTER],
                "metadata": {"Audience": "Everyone", "Expected Visitors": 300},
            },
            "/sites",
        ),
        (
            "yammer",
            {
                "templateId": 31,
                "displayName": "Cyclists",
                "owners": [REQUESTER],
                "metadata": {"Topic": "Bikes"},
            },
            "/groups",
        ),
    ],
)
def test_each_workload_completes_and_appears_in_the_inventory(
    contoso: Point, kind: str, body: dict[str, Any], listing: str
) -> None:
    created = contoso.provision(kind, **body)
    assert created.status_code == 201, created.text
    request = created.json()
    assert created.headers["Location"] == f"/point/contoso/v1.0/provision/requests/{request['id']}"
    assert request["status"] == "Approved"
    done = contoso.wait_for(request["id"], ("Completed", "Failed"))
    assert done["status"] == "Completed"
    assert done["result"]["microsoftId"]
    assert done["result"]["url"].startswith("https://")
    if kind in ("teams", "groups"):
        assert done["result"]["email"].endswith("@contoso.onmicrosoft.com")
    if kind == "sites":
        assert done["displayName"] == "Newsroom Hub"
        assert done["result"]["url"] == "https://contoso.sharepoint.com/sites/comm-newsroom"
    found = contoso.get(listing, params={"search": done["displayName"]}).json()["value"]
    assert [item.get("name") or item.get("title") for item in found] == [done["displayName"]]


def test_it_accepts_json_patch_content_type_and_ignores_unknown_fields(contoso: Point) -> None:
    body = json.dumps({**TEAM, "sensitivityLabel": "Secret", "somethingNew": [1, 2]})
    answer = requests.post(
        contoso.url("/provision/teams"),
        data=body,
        headers={
            **contoso.headers,
            "Content-Type": "application/json-patch+json",
            "accept": "application/json",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def test_it_rejects_a_body_that_is_not_json(contoso: Point) -> None:
    answer = requests.post(
        contoso.url("/provision/teams"),
        data="{nope",
        headers={**contoso.headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "$" in answer.json()["errors"]


def test_an_auto_approved_request_skips_pending_and_reports_progress(contoso: Point) -> None:
    contoso.emulator.control("timing", approval=0, approved=0, in_progress=1.0)
    request = contoso.provision("teams", **team()).json()
    running = contoso.wait_for(request["id"], ("InProgress",))
    assert running["status"] == "InProgress"
    assert 0 <= running["progress"] <= 99
    assert running["approval"]["process"] == "Automatically Approve"
    statuses = {contoso.get(f"/provision/requests/{request['id']}").json()["status"]}
    assert "Pending" not in statuses


def test_a_manual_approval_request_waits_for_the_control_call_then_completes(
    contoso: Point,
) -> None:
    created = contoso.provision(
        "teams",
        templateId=2,
        displayName="Finance",
        owners=[REQUESTER],
        metadata={"Department": "Finance"},
    )
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "Pending"
    assert [s["status"] for s in request["approval"]["stages"]] == ["Pending", "Pending"]
    assert request["owners"] == [IT, REQUESTER]  # the template's predefined owner comes first
    assert contoso.wait_for(request["id"], ("Completed",), deadline=0.5)["status"] == "Pending"
    approved = contoso.emulator.control(
        f"requests/{request['id']}/approve", by=ADMIN, comment="Go ahead"
    )
    assert approved["status"] == "Approved"
    assert approved["approval"]["stages"][0]["resolvedBy"] == ADMIN
    done = contoso.wait_for(request["id"], ("Completed", "Failed"))
    assert done["status"] == "Completed"
    assert done["displayName"] == "DEPT - Finance"


def test_a_rejected_request_stays_rejected_and_creates_nothing(contoso: Point) -> None:
    request = contoso.provision(
        "groups",
        templateId=12,
        displayName="Partner X",
        owners=[REQUESTER],
        metadata={"Partner Company": "Northwind", "Contract End": "2027-01-31"},
    ).json()
    rejected = contoso.emulator.control(
        f"requests/{request['id']}/reject", comment="Use the existing one"
    )
    assert rejected["status"] == "Rejected"
    assert rejected["approval"]["stages"][0]["status"] == "Rejected"
    assert contoso.wait_for(request["id"], ("Completed",), deadline=0.5)["status"] == "Rejected"
    assert contoso.emulator.control_get("ledger")["count"] == 0
    answer = requests.post(
        f"{contoso.emulator.url}/_control/requests/{request['id']}/approve", timeout=10
    )
    assert answer.status_code == 409


def test_a_failed_provisioning_reports_an_error_and_a_correlation_id(contoso: Point) -> None:
    contoso.emulator.control("requests/fail-next", tenant="contoso")
    request = contoso.provision("teams", **team()).json()
    done = contoso.wait_for(request["id"], ("Completed", "Failed"))
    assert done["status"] == "Failed"
    assert done["error"].startswith("System.Exception: Team with group id ")
    assert done["correlationId"]
    assert done["result"] is None
    # Only the next request fails.
    again = contoso.provision("teams", **team(displayName="Falcon 2", desiredUrl="falcon-2")).json()
    assert contoso.wait_for(again["id"], ("Completed", "Failed"))["status"] == "Completed"


def test_fail_next_takes_a_custom_message(contoso: Point) -> None:
    contoso.emulator.control(
        "requests/fail-next", tenant="contoso", message="Exceeded changed links limit(20)"
    )
    request = contoso.provision("teams", **team()).json()
    assert (
        contoso.wait_for(request["id"], ("Failed",))["error"] == "Exceeded changed links limit(20)"
    )


def test_an_unknown_request_is_404_in_the_documented_shape(contoso: Point) -> None:
    answer = contoso.get("/provision/requests/6f1c2d0e-3a7b-4c55-9f0e-2b8d7e61a9c4")
    assert answer.status_code == 404
    assert set(answer.json()) == {"message", "exceptionMessage", "exceptionType"}


def test_a_request_is_invisible_from_another_tenants_point(contoso: Point, fabrikam: Point) -> None:
    request = contoso.provision("teams", **team()).json()
    assert fabrikam.get(f"/provision/requests/{request['id']}").status_code == 404


# --- Validation --------------------------------------------------------------------------------

TOO_MANY = [
    f"{first}.{last}@contoso.onmicrosoft.com"
    for first in ("adam", "alex", "anna")
    for last in ("berg", "costa", "dietrich", "evans")
]


@pytest.mark.parametrize(
    ("kind", "body", "field", "fragment"),
    [
        ("teams", team(templateId=999), "templateId", "does not exist"),
        ("teams", team(templateId=None), "templateId", "required"),
        ("teams", team(templateId="3"), "templateId", "integer"),
        ("sites", team(), "templateId", "use POST /v1.0/provision/teams"),
        ("teams", team(displayName="  "), "displayName", "required"),
        ("teams", team(owners=[]), "owners", "At least one owner"),
        ("teams", {k: v for k, v in TEAM.items() if k != "owners"}, "owners", "At least one owner"),
        ("teams", {**PROJECT, "owners": [REQUESTER]}, "owners", "at least 2 owners"),
        ("teams", team(owners=TOO_MANY[:11]), "owners", "at most 10 owners"),
        ("teams", team(owners=[REQUESTER, GUEST]), "owners", "Guest users cannot be owners"),
        ("teams", team(owners=["nobody@contoso.onmicrosoft.com"]), "owners", "was not found"),
        ("teams", team(members=["ghost@contoso.onmicrosoft.com"]), "members", "was not found"),
        (
            "teams",
            {
                "templateId": 2,
                "displayName": "Ops",
                "owners": [REQUESTER],
                "members": [GUEST],
                "metadata": {"Department": "IT"},
            },
            "members",
            "does not allow guests",
        ),
        ("teams", team(desiredUrl="falcon/../admin"), "desiredUrl", "only letters"),
        ("teams", team(desiredUrl="x" * 65), "desiredUrl", "longer than"),
        ("teams", {**PROJECT, "metadata": {}}, "metadata.Cost Center", "required"),
        (
            "teams",
            {**PROJECT, "metadata": {**PROJECT["metadata"], "Budget": "lots"}},
            "metadata.Budget",
            "number",
        ),
        (
            "teams",
            {**PROJECT, "metadata": {**PROJECT["metadata"], "End Date": "31/12/2026"}},
            "metadata.End Date",
            "date",
        ),
        (
            "teams",
            {**PROJECT, "metadata": {**PROJECT["metadata"], "Department": "Space"}},
            "metadata.Department",
            "one of",
        ),
        (
            "teams",
            {
                **PROJECT,
                "metadata": {
                    **PROJECT["metadata"],
                    "Project Manager": "nobody@contoso.onmicrosoft.com",
                },
            },
            "metadata.Project Manager",
            "not found",
        ),
        (
            "teams",
            {**PROJECT, "metadata": {**PROJECT["metadata"], "External Partners": "yes"}},
            "metadata.External Partners",
            "true or false",
        ),
        (
            "teams",
            {**PROJECT, "metadata": {**PROJECT["metadata"], "Colour": "red"}},
            "metadata.Colour",
            "Metadata definition 'Colour' not found",
        ),
        (
            "teams",
            team(displayName="All Company", desiredUrl="all-company-2"),
            "displayName",
            "already exists",
        ),
        (
            "teams",
            team(displayName="Anything", desiredUrl="allcompany"),
            "desiredUrl",
            "already taken",
        ),
    ],
)
def test_it_rejects_an_invalid_request_with_field_level_errors(
    contoso: Point, kind: str, body: dict[str, Any], field: str, fragment: str
) -> None:
    answer = contoso.provision(kind, **body)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["status"] == 400
    assert problem["title"] == "One or more validation errors occurred."
    assert field in problem["errors"], problem["errors"]
    assert any(fragment in message for message in problem["errors"][field]), problem["errors"]
    assert contoso.emulator.control_get("requests")["count"] == 0


def test_a_valid_project_request_with_every_metadata_type_is_accepted(contoso: Point) -> None:
    metadata = {
        **PROJECT["metadata"],
        "End Date": "2026-12-31",
        "Budget": 12500.5,
        "External Partners": True,
    }
    created = contoso.provision("teams", **{**PROJECT, "metadata": metadata})
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == "PRJ - Falcon"
    assert created.json()["desiredUrl"] == "prj-falcon"


def test_a_name_or_url_held_by_an_in_flight_request_is_taken(contoso: Point) -> None:
    first = contoso.provision(
        "teams",
        templateId=2,
        displayName="Legal",
        owners=[REQUESTER],
        metadata={"Department": "Legal"},
    )
    assert first.status_code == 201
    same_name = contoso.provision(
        "teams",
        templateId=2,
        displayName="Legal",
        desiredUrl="legal-2",
        owners=[REQUESTER],
        metadata={"Department": "Legal"},
    )
    assert "is already requested" in same_name.json()["errors"]["displayName"][0]
    same_url = contoso.provision(
        "teams",
        templateId=2,
        displayName="Legal Two",
        desiredUrl="legal",
        owners=[REQUESTER],
        metadata={"Department": "Legal"},
    )
    assert "is already requested" in same_url.json()["errors"]["desiredUrl"][0]
    # Once the first is rejected, its name is free again.
    contoso.emulator.control(f"requests/{first.json()['id']}/reject")
    assert (
        contoso.provision(
            "teams",
            templateId=2,
            displayName="Legal",
            owners=[REQUESTER],
            metadata={"Department": "Legal"},
        ).status_code
        == 201
    )


def test_a_hidden_name_template_gets_a_numeric_url(contoso: Point) -> None:
    created = contoso.provision(
        "teams",
        templateId=4,
        displayName="Merger",
        owners=[REQUESTER, IT],
        metadata={"Review Date": "2027-01-01", "Data Owner": IT},
    )
    assert created.status_code == 201, created.text
    slug = created.json()["desiredUrl"]
    assert slug.startswith("conf-") and slug[5:].isdigit()


# --- Finding a request after an unknown outcome; the ledger -------------------------------------


def test_a_client_can_find_the_request_its_lost_post_created(contoso: Point) -> None:
    contoso.emulator.control(
        "faults", method="POST", path="/point/contoso/v1.0/provision/*", kind="reset_after", count=1
    )
    with pytest.raises(requests.ConnectionError):
        contoso.provision("teams", **team())
    found = contoso.get("/provision/requests", params={"desiredUrl": "project-falcon"}).json()
    assert found["@odata.count"] == 1
    assert found["value"][0]["displayName"] == "Project Falcon"
    assert (
        contoso.get("/provision/requests", params={"displayName": "Project Falcon"}).json()[
            "@odata.count"
        ]
        == 1
    )
    assert (
        contoso.get("/provision/requests", params={"desiredUrl": "other"}).json()["@odata.count"]
        == 0
    )


def test_the_ledger_lists_each_created_workspace_exactly_once(contoso: Point) -> None:
    ids = [
        contoso.provision(
            "teams", **team(displayName=f"Falcon {i}", desiredUrl=f"falcon-{i}")
        ).json()["id"]
        for i in range(3)
    ]
    for request_id in ids:
        assert contoso.wait_for(request_id, ("Completed",))["status"] == "Completed"
    for _ in range(5):  # reading again, and more ticks, must not add anything
        contoso.get(f"/provision/requests/{ids[0]}")
    ledger = contoso.emulator.control_get("ledger")
    assert ledger["count"] == 3
    assert sorted(w["requestId"] for w in ledger["workspaces"]) == sorted(ids)
    entry = ledger["workspaces"][0]
    assert {
        "tenant",
        "requestId",
        "workspaceType",
        "displayName",
        "url",
        "microsoftId",
        "created",
    } <= set(entry)
    assert contoso.emulator.control_get("ledger?tenant=fabrikam")["count"] == 0


def test_the_ticker_completes_requests_nobody_polls(contoso: Point) -> None:
    request_id = contoso.provision("teams", **team()).json()["id"]
    ledger = eventually(lambda: contoso.emulator.control_get("ledger?tenant=contoso")["count"])
    assert ledger == 1
    assert contoso.emulator.control_get("ledger")["workspaces"][0]["requestId"] == request_id


def test_a_reset_forgets_requests_and_the_ledger(contoso: Point) -> None:
    request_id = contoso.provision("teams", **team()).json()["id"]
    contoso.wait_for(request_id, ("Completed",))
    contoso.emulator.control("reset")
    assert contoso.get(f"/provision/requests/{request_id}").status_code == 404
    assert contoso.emulator.control_get("ledger")["count"] == 0


def test_timing_control_rejects_unknown_phases(fast: RunningEmulator) -> None:
    answer = requests.post(f"{fast.url}/_control/timing", json={"forever": 1}, timeout=10)
    assert answer.status_code == 400
    assert fast.control("timing", in_progress=0.3)["timing"]["in_progress"] == 0.3

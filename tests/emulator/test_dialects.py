"""Point dialects (docs/point-dialects.md): the switch, then each endpoint family in each dialect.

Every shape asserted here is the one the spec promises, so a client written against the spec
can rely on these tests to know the emulator answers as it says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.point import dialects
from emulator.server import RunningEmulator, start_background
from tests.emulator import test_point_support as support
from tests.emulator.test_point_support import CONTOSO, FABRIKAM, TEAM, Point, token, user

# Fixtures shared by the Point tests.
fast, contoso, fabrikam, receiver = (
    support.fast,
    support.contoso,
    support.fabrikam,
    support.receiver,
)

TODAY, MINIMAL, GRAPH, PASCAL = (
    "today",
    "documented-minimal",
    "graph-names",
    "pascal-problem-details",
)
ALL = (TODAY, MINIMAL, GRAPH, PASCAL)
DUPLICATE = "SysKit.Point.Application.SeedWork.Exceptions.DuplicateResourceException"
MISSING = "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "traceId"}
DOMAIN_KEYS = {"message", "exceptionMessage", "exceptionType"}
REQUESTER = user(CONTOSO, "Portal.Requester")
IT = user(CONTOSO, "Portal.ITStaff")
GROUP_COUNT = 301  # the generated inventory (docs/emulator.md, "Inventory")


def speak(point: Point, dialect: str) -> Point:
    """Switch ``point``'s tenant to ``dialect`` (the way the spec tells tests to)."""
    point.emulator.control("dialect", dialect=dialect, tenant=point.tenant["slug"])
    return point


def control_request(emulator: RunningEmulator, request_id: str) -> dict[str, Any]:
    """A request as the control API shows it (today's shape whatever the dialect)."""
    found = [r for r in emulator.control_get("requests")["requests"] if r["id"] == request_id]
    assert found, request_id
    return found[0]


def wait_status(
    emulator: RunningEmulator, request_id: str, *statuses: str, deadline: float = 5.0
) -> None:
    end = time.monotonic() + deadline
    while control_request(emulator, request_id)["status"] not in statuses:
        assert time.monotonic() < end, f"{request_id} never reached {statuses}"
        time.sleep(0.05)


def submit(point: Point, **overrides: Any) -> str:
    """POST a Public team (auto-approved) and return its id, whatever the dialect's answer."""
    answer = point.provision("teams", **{**TEAM, **overrides})
    assert answer.status_code in (201, 202), answer.text
    return answer.headers["Location"].rsplit("/", 1)[-1]


def follow(point: Point, first: str, params: dict[str, Any], items: str, link: str) -> list[Any]:
    """Every item of a paged list, following the dialect's next link to the end."""
    got: list[Any] = []
    page = point.get(first, params=params).json()
    pages = 0
    while True:
        pages += 1
        got += page[items]
        if not page.get(link):
            return got
        assert pages < 50
        page = point.get(page[link]).json()


def wait_job(point: Point, location: str, deadline: float = 5.0) -> requests.Response:
    """Poll a job's status (no redirects) until it stops answering 200 while running."""
    end = time.monotonic() + deadline
    while True:
        answer = point.get(location, allow_redirects=False)
        body = answer.json()
        status = body.get("status", body.get("Status")) if isinstance(body, dict) else None
        if answer.status_code != 200 or status not in ("InProgress", "NotStarted", 0):
            return answer
        assert time.monotonic() < end
        time.sleep(0.05)


# --- The switch --------------------------------------------------------------------------------


def test_the_command_line_defaults_to_today_and_takes_a_dialect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from emulator.__main__ import _parse

    monkeypatch.delenv("EMULATOR_DIALECT", raising=False)
    assert _parse([]).dialect == TODAY
    assert _parse(["--dialect", GRAPH]).dialect == GRAPH
    monkeypatch.setenv("EMULATOR_DIALECT", PASCAL)
    assert _parse([]).dialect == PASCAL
    with pytest.raises(SystemExit):
        _parse(["--dialect", "swagger-2"])


def test_the_background_emulator_answers_in_the_dialect_it_starts_with() -> None:
    with pytest.raises(ValueError, match="today, documented-minimal"):
        start_background(dialect="swagger-2")
    running = start_background(dialect=GRAPH, log_requests=False)
    try:
        assert running.control_get("dialect") == {
            "default": GRAPH,
            "tenants": {},
            "startup": GRAPH,
            "dialects": list(ALL),
        }
        point = Point(running, FABRIKAM, token(running, FABRIKAM))
        assert set(point.get("/provision/templates").json()) == {"value"}
    finally:
        running.stop()


def test_by_default_every_tenant_answers_today(emulator: RunningEmulator) -> None:
    assert emulator.control_get("dialect") == {
        "default": TODAY,
        "tenants": {},
        "startup": TODAY,
        "dialects": list(ALL),
    }


def test_one_switch_for_every_tenant_and_one_per_tenant(contoso: Point, fabrikam: Point) -> None:
    emulator = contoso.emulator
    answer = emulator.control("dialect", dialect=MINIMAL)
    assert answer["default"] == MINIMAL and answer["tenants"] == {}
    assert isinstance(contoso.get("/provision/templates").json(), list)
    assert set(contoso.get("/provision/templates").json()[0]) == {
        "id",
        "name",
        "description",
        "workspaceType",
    }
    assert isinstance(fabrikam.get("/sites").json(), list)

    # A tenant by slug, id or domain; the others keep the default.
    answer = emulator.control("dialect", dialect=PASCAL, tenant=CONTOSO["id"])
    assert answer["tenants"] == {"contoso": PASCAL}
    assert "Items" in contoso.get("/sites").json()
    assert isinstance(fabrikam.get("/sites").json(), list)
    emulator.control("dialect", dialect=GRAPH, tenant="fabrikam.onmicrosoft.com")
    assert emulator.control_get("dialect")["tenants"] == {"contoso": PASCAL, "fabrikam": GRAPH}
    assert "value" in fabrikam.get("/sites").json()

    # Every tenant again: the tenants' own choices are cleared.
    answer = emulator.control("dialect", dialect=TODAY)
    assert answer["default"] == TODAY and answer["tenants"] == {}
    assert "@odata.count" in contoso.get("/sites").json()


def test_reset_returns_to_the_command_line_default() -> None:
    running = start_background(dialect=MINIMAL, log_requests=False)
    try:
        running.control("dialect", dialect=PASCAL)
        running.control("dialect", dialect=GRAPH, tenant="contoso")
        running.control("reset")
        view = running.control_get("dialect")
        assert view["default"] == MINIMAL and view["tenants"] == {}
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"dialect": "swagger-2"}, "Unknown dialect 'swagger-2'; use one of: " + ", ".join(ALL)),
        ({}, "Unknown dialect 'None'; use one of: " + ", ".join(ALL)),
        ({"dialect": GRAPH, "tenant": "northwind"}, "Unknown tenant 'northwind'."),
    ],
)
def test_an_unknown_dialect_or_tenant_is_a_400_listing_the_known(
    emulator: RunningEmulator, body: dict[str, Any], message: str
) -> None:
    answer = requests.post(f"{emulator.url}/_control/dialect", json=body, timeout=10)
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert emulator.control_get("dialect")["default"] == TODAY


def test_the_state_file_keeps_the_choices_made_under_the_same_default(tmp_path: Path) -> None:
    state_file = str(tmp_path / "state.json")
    first = start_background(state_file=state_file, log_requests=False)
    try:
        first.control("dialect", dialect=GRAPH, tenant="contoso")
    finally:
        first.stop()
    again = start_background(state_file=state_file, log_requests=False)
    try:
        assert again.control_get("dialect")["tenants"] == {"contoso": GRAPH}
    finally:
        again.stop()
    # A restart with another --dialect starts from it: an old choice must not override it.
    other = start_background(state_file=state_file, log_requests=False, dialect=PASCAL)
    try:
        view = other.control_get("dialect")
        assert view["default"] == PASCAL and view["tenants"] == {}
    finally:
        other.stop()


def test_control_routes_never_change_shape(contoso: Point) -> None:
    speak(contoso, PASCAL)
    request_id = submit(contoso)
    listed = control_request(contoso.emulator, request_id)
    assert listed["status"] in ("Approved", "InProgress", "Completed")
    assert listed["workspaceType"] == "MicrosoftTeams"
    assert set(contoso.emulator.control_get("ledger")) == {"count", "workspaces"}


@pytest.mark.parametrize("dialect", [MINIMAL, GRAPH, PASCAL])
def test_webhook_registrations_keep_their_documented_shape(
    contoso: Point, receiver: support.Receiver, dialect: str
) -> None:
    # The events and the options answer vary by dialect: tests/emulator/test_webhook_dialects.py.
    speak(contoso, dialect)
    assert contoso.post("/webhooks/endpoints", {"endpoint": receiver.url, "types": ["*"]}).ok
    assert contoso.get("/webhooks/endpoints").json() == [{"endpoint": receiver.url, "types": ["*"]}]


# --- Templates ---------------------------------------------------------------------------------


def test_templates_today_are_a_bare_array_with_every_extra(contoso: Point) -> None:
    templates = speak(contoso, TODAY).get("/provision/templates").json()
    assert isinstance(templates, list) and len(templates) == 10
    assert {"namingRule", "urlSettings", "owners", "customMetadata"} <= set(templates[0])


def test_templates_documented_minimal_carry_only_the_four_documented_fields(
    contoso: Point,
) -> None:
    templates = speak(contoso, MINIMAL).get("/provision/templates", params={"$top": 2}).json()
    assert isinstance(templates, list) and len(templates) == 10
    assert all(set(t) == {"id", "name", "description", "workspaceType"} for t in templates)
    assert templates[0]["workspaceType"] == "MicrosoftTeams"


def test_templates_graph_names_are_a_value_page_with_display_name(contoso: Point) -> None:
    speak(contoso, GRAPH)
    body = contoso.get("/provision/templates").json()
    assert set(body) == {"value"}
    project = body["value"][0]
    assert project["displayName"] == "Manage a project" and "name" not in project
    assert project["approvalProcess"] == {"isAutomatic": True}
    assert project["workspaceType"] == "MicrosoftTeams"
    # Today's extras, under today's names.
    assert project["namingRule"] == {"prefix": "PRJ - ", "suffix": ""}
    assert {"privacy", "urlSettings", "emailSettings", "owners", "guests"} <= set(project)
    everything = follow(contoso, "/provision/templates", {"$top": 3}, "value", "@odata.nextLink")
    assert [t["id"] for t in everything] == [t["id"] for t in body["value"]]


def test_templates_pascal_are_an_items_page_with_numeric_workspace_types(contoso: Point) -> None:
    speak(contoso, PASCAL)
    body = contoso.get("/provision/templates").json()
    assert body["TotalCount"] == 10 and body["NextPageLink"] is None
    project = body["Items"][0]
    assert project["Id"] == 1 and project["Name"] == "Manage a project"
    assert project["WorkspaceType"] == 0
    assert set(project["ApprovalProcess"]) == {
        "Id",
        "Name",
        "IsAutomatic",
        "Stages",
        "StageApprovers",
    }
    assert {t["WorkspaceType"] for t in body["Items"]} == {0, 1, 2, 3}
    assert set(project["CustomMetadata"][0]) == {"Name", "Type", "Required"}
    everything = follow(contoso, "/provision/templates", {"$top": 4}, "Items", "NextPageLink")
    assert [t["Id"] for t in everything] == [t["Id"] for t in body["Items"]]


# --- POST provision, duplicates and GET request --------------------------------------------------


def test_provision_today_answers_201_with_the_request(contoso: Point) -> None:
    answer = speak(contoso, TODAY).provision("teams", **TEAM)
    assert answer.status_code == 201
    body = answer.json()
    assert answer.headers["Location"] == f"/point/contoso/v1.0/provision/requests/{body['id']}"
    assert body["status"] == "Approved" and body["templateId"] == 3


def test_provision_documented_minimal_answers_201_with_the_id_alone(contoso: Point) -> None:
    answer = speak(contoso, MINIMAL).provision("teams", **TEAM)
    assert answer.status_code == 201
    request_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert answer.headers["Location"].endswith(f"/v1.0/provision/requests/{request_id}")
    assert answer.json() == {"id": request_id}


def test_provision_graph_names_answers_201_with_the_graph_request(contoso: Point) -> None:
    answer = speak(contoso, GRAPH).provision("teams", **TEAM)
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"id", "status", "displayName", "createdDateTime", "percentComplete"}
    assert body["status"] == "Approved" and body["percentComplete"] == 0
    assert body["displayName"] == "Project Falcon"
    assert answer.headers["Location"].endswith(f"/v1.0/provision/requests/{body['id']}")


def test_provision_pascal_answers_202_with_the_id_as_a_json_string(contoso: Point) -> None:
    answer = speak(contoso, PASCAL).provision("teams", **TEAM)
    assert answer.status_code == 202
    request_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert answer.headers["Location"].endswith(f"/v1.0/provision/requests/{request_id}")
    assert answer.json() == request_id


@pytest.mark.parametrize("dialect", [TODAY, GRAPH])
def test_duplicates_stay_a_400_validation_today_and_in_graph_names(
    contoso: Point, dialect: str
) -> None:
    speak(contoso, dialect)
    first = submit(contoso)
    answer = contoso.provision("teams", **TEAM)
    assert answer.status_code == 400
    assert answer.json()["errors"]["displayName"] == [
        f"A workspace named 'Project Falcon' is already requested (request {first})."
    ]


def test_duplicates_documented_minimal_are_a_409_naming_the_request_in_flight(
    contoso: Point,
) -> None:
    speak(contoso, MINIMAL)
    first = submit(contoso)
    answer = contoso.provision("teams", **TEAM)
    assert answer.status_code == 409
    assert answer.json() == {
        "message": "An error has occurred.",
        "exceptionMessage": f"A workspace named 'Project Falcon' is already requested (request {first}).",
        "exceptionType": DUPLICATE,
    }
    # Another name on the same URL: the holder is named, with its request.
    answer = contoso.provision("teams", **{**TEAM, "displayName": "Falcon Two"})
    assert answer.status_code == 409
    assert answer.json()["exceptionMessage"] == (
        f"A workspace named 'Project Falcon' is already requested (request {first})."
    )
    wait_status(contoso.emulator, first, "Completed")
    answer = contoso.provision("teams", **TEAM)
    assert answer.status_code == 409
    assert answer.json() == {
        "message": "An error has occurred.",
        "exceptionMessage": "A workspace named 'Project Falcon' already exists.",
        "exceptionType": DUPLICATE,
    }


def test_duplicates_documented_minimal_are_checked_only_on_a_valid_body(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    submit(contoso)
    answer = contoso.provision("teams", **{**TEAM, "owners": ["nobody@contoso.onmicrosoft.com"]})
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"owners"}


def test_duplicates_pascal_are_a_409_problem_naming_the_request_in_flight(contoso: Point) -> None:
    speak(contoso, PASCAL)
    first = submit(contoso)
    answer = contoso.provision("teams", **TEAM)
    assert answer.status_code == 409
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == 409 and body["title"] == "Conflict"
    assert body["detail"] == (
        f"A workspace named 'Project Falcon' is already requested (request {first})."
    )
    assert body["instance"] == "/point/contoso/v1.0/provision/teams"


def test_get_request_documented_minimal_is_id_and_status_then_the_result_url(
    contoso: Point,
) -> None:
    speak(contoso, MINIMAL)
    request_id = submit(contoso)
    body = contoso.get(f"/provision/requests/{request_id}").json()
    assert set(body) == {"id", "status"} and body["id"] == request_id
    wait_status(contoso.emulator, request_id, "Completed")
    body = contoso.get(f"/provision/requests/{request_id}").json()
    url = control_request(contoso.emulator, request_id)["result"]["url"]
    assert body == {"id": request_id, "status": "Completed", "result": {"url": url}}


def test_get_request_documented_minimal_names_the_error_once_failed(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    contoso.emulator.control(
        "requests/fail-next", tenant="contoso", message="Exceeded changed links limit(20)"
    )
    request_id = submit(contoso)
    wait_status(contoso.emulator, request_id, "Failed")
    assert contoso.get(f"/provision/requests/{request_id}").json() == {
        "id": request_id,
        "status": "Failed",
        "error": "Exceeded changed links limit(20)",
    }


def test_get_request_graph_names_has_percent_complete_then_the_web_url(contoso: Point) -> None:
    speak(contoso, GRAPH)
    contoso.emulator.control("timing", in_progress=0.6)
    request_id = submit(contoso)
    wait_status(contoso.emulator, request_id, "InProgress")
    body = contoso.get(f"/provision/requests/{request_id}").json()
    assert set(body) == {"id", "status", "displayName", "createdDateTime", "percentComplete"}
    assert body["status"] == "InProgress" and 0 <= body["percentComplete"] < 100
    wait_status(contoso.emulator, request_id, "Completed")
    body = contoso.get(f"/provision/requests/{request_id}").json()
    url = control_request(contoso.emulator, request_id)["result"]["url"]
    assert body == {
        "id": request_id,
        "status": "Completed",
        "displayName": "Project Falcon",
        "webUrl": url,
        "createdDateTime": body["createdDateTime"],
        "percentComplete": 100,
    }
    assert body["createdDateTime"].endswith("Z")


def test_get_request_pascal_is_pascal_case_with_numeric_enums(contoso: Point) -> None:
    speak(contoso, PASCAL)
    request_id = submit(contoso)
    wait_status(contoso.emulator, request_id, "Completed")
    body = contoso.get(f"/provision/requests/{request_id}").json()
    assert body["Id"] == request_id
    assert body["Status"] == 4 and body["WorkspaceType"] == 0
    assert set(body["Result"]) == {"Url", "MicrosoftId", "Email"}
    assert set(body["RequestedBy"]) == {"Id", "DisplayName"}
    assert set(body["Approval"]) == {"Process", "Stages"}
    assert "status" not in body and "id" not in body


def test_pascal_request_statuses_are_the_declared_numbers(contoso: Point) -> None:
    speak(contoso, PASCAL)
    # A manual template waits Pending (0), and a rejection is Rejected (2).
    manual = contoso.provision(
        "groups",
        templateId=12,
        displayName="Partner Falcon",
        owners=[REQUESTER],
        metadata={"Partner Company": "Northwind", "Contract End": "2027-01-31"},
    )
    assert manual.status_code == 202, manual.text
    manual_id = manual.json()
    assert contoso.get(f"/provision/requests/{manual_id}").json()["Status"] == 0
    assert contoso.get(f"/provision/requests/{manual_id}").json()["WorkspaceType"] == 1
    contoso.emulator.control(f"requests/{manual_id}/reject", comment="No")
    assert contoso.get(f"/provision/requests/{manual_id}").json()["Status"] == 2
    # An automatic one is Approved (1), then fails (5).
    contoso.emulator.control("timing", approved=0.5)
    contoso.emulator.control("requests/fail-next", tenant="contoso")
    failing = submit(contoso)
    assert contoso.get(f"/provision/requests/{failing}").json()["Status"] == 1
    wait_status(contoso.emulator, failing, "Failed")
    assert contoso.get(f"/provision/requests/{failing}").json()["Status"] == 5


# --- The request lookup list ------------------------------------------------------------------


def test_request_lookup_does_not_exist_in_documented_minimal(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    request_id = submit(contoso)
    answer = contoso.get("/provision/requests", params={"displayName": "Project Falcon"})
    assert answer.status_code == 404
    assert set(answer.json()) == DOMAIN_KEYS
    assert answer.json()["exceptionType"] == MISSING
    # The documented GET of one request stays.
    assert contoso.get(f"/provision/requests/{request_id}").status_code == 200


def test_request_lookup_graph_names_pages_with_a_skiptoken(contoso: Point) -> None:
    speak(contoso, GRAPH)
    ids = [submit(contoso, displayName=f"Falcon {n}", desiredUrl=f"falcon-{n}") for n in range(3)]
    first = contoso.get("/provision/requests", params={"$top": 2}).json()
    assert set(first) == {"value", "@odata.nextLink"}
    assert "$skiptoken=" in first["@odata.nextLink"] and "$skip=" not in first["@odata.nextLink"]
    assert first["@odata.nextLink"].startswith(contoso.emulator.url)
    everything = follow(contoso, "/provision/requests", {"$top": 2}, "value", "@odata.nextLink")
    assert [r["id"] for r in everything] == ids
    assert all(
        set(r) == {"id", "status", "displayName", "createdDateTime", "percentComplete"}
        for r in everything
    )
    one = contoso.get("/provision/requests", params={"displayName": "Falcon 1"}).json()
    assert [r["id"] for r in one["value"]] == [ids[1]]


def test_request_lookup_pascal_pages_with_next_page_link(contoso: Point) -> None:
    speak(contoso, PASCAL)
    ids = [submit(contoso, displayName=f"Falcon {n}", desiredUrl=f"falcon-{n}") for n in range(3)]
    first = contoso.get("/provision/requests", params={"$top": 2}).json()
    assert first["TotalCount"] == 3 and first["NextPageLink"].startswith(contoso.emulator.url)
    everything = follow(contoso, "/provision/requests", {"$top": 2}, "Items", "NextPageLink")
    assert [r["Id"] for r in everything] == ids
    assert all(isinstance(r["Status"], int) for r in everything)


# --- Groups -----------------------------------------------------------------------------------


def test_groups_documented_minimal_are_a_bare_array_of_everything(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    groups = contoso.get("/groups", params={"$top": 5, "$skip": 3}).json()
    assert isinstance(groups, list) and len(groups) == GROUP_COUNT
    assert all(set(g) == {"id", "name", "email", "groupType"} for g in groups)
    # search is ignored; a bad $top is not even looked at.
    assert contoso.get("/groups", params={"search": "zzz-nothing"}).json() == groups
    assert contoso.get("/groups", params={"$top": "many"}).status_code == 200
    # groupType (documented) still filters.
    security = contoso.get("/groups", params={"groupType": "SecurityGroup"}).json()
    assert security and {g["groupType"] for g in security} == {"SecurityGroup"}
    one = contoso.get(f"/groups/{groups[1]['name']}").json()
    assert one == groups[1]


def test_groups_graph_names_page_with_a_skiptoken(contoso: Point) -> None:
    speak(contoso, GRAPH)
    first = contoso.get("/groups").json()
    assert set(first) == {"value", "@odata.nextLink"} and len(first["value"]) == 100
    counted = contoso.get("/groups", params={"$count": "true", "$top": 10}).json()
    assert counted["@odata.count"] == GROUP_COUNT and len(counted["value"]) == 10
    everything = follow(contoso, "/groups", {"$top": 120}, "value", "@odata.nextLink")
    assert len(everything) == GROUP_COUNT == len({g["id"] for g in everything})
    assert everything[:100] == first["value"]
    bad = contoso.get("/groups", params={"$skiptoken": "not a token"})
    assert bad.status_code == 400 and "$skiptoken" in bad.json()["errors"]


def test_groups_graph_names_have_graphs_names(contoso: Point) -> None:
    speak(contoso, GRAPH)
    keys = {
        "id",
        "displayName",
        "mail",
        "groupTypes",
        "mailEnabled",
        "securityEnabled",
        "visibility",
        "resourceProvisioningOptions",
        "createdDateTime",
    }
    by_type = {
        kind: contoso.get("/groups", params={"groupType": kind, "$top": 1000}).json()["value"]
        for kind in (
            "UnifiedGroup",
            "SecurityGroup",
            "DistributionList",
            "MailEnabledSecurityGroup",
        )
    }
    assert all(set(g) == keys for groups in by_type.values() for g in groups)
    unified = by_type["UnifiedGroup"]
    assert all(g["groupTypes"] == ["Unified"] and g["mailEnabled"] for g in unified)
    assert {g["visibility"] for g in unified} == {"Private", "Public"}
    assert {tuple(g["resourceProvisioningOptions"]) for g in unified} == {("Team",), ()}
    assert all(
        g["groupTypes"] == [] and g["securityEnabled"] and not g["mailEnabled"]
        for g in by_type["SecurityGroup"]
    )
    assert all(
        g["groupTypes"] == [] and g["mailEnabled"] and not g["securityEnabled"]
        for g in by_type["DistributionList"]
    )
    assert all(
        g["mailEnabled"] and g["securityEnabled"] for g in by_type["MailEnabledSecurityGroup"]
    )
    found = contoso.get("/groups", params={"search": "all company"}).json()["value"]
    assert [g["displayName"] for g in found] == ["All Company"]
    one = contoso.get("/groups/ALL COMPANY").json()
    assert one["displayName"] == "All Company" and one["groupTypes"] == ["Unified"]


def test_groups_pascal_page_with_next_page_link(contoso: Point) -> None:
    speak(contoso, PASCAL)
    first = contoso.get("/groups").json()
    assert set(first) == {"Items", "TotalCount", "NextPageLink"}
    assert first["TotalCount"] == GROUP_COUNT and len(first["Items"]) == 100
    everything = follow(contoso, "/groups", {"$top": 150}, "Items", "NextPageLink")
    assert len(everything) == GROUP_COUNT == len({g["Id"] for g in everything})
    group = everything[0]
    assert {"Id", "Name", "Email", "GroupType", "IsTeam", "Privacy", "MembersCount"} <= set(group)
    assert group["GroupType"] == "UnifiedGroup"
    found = contoso.get("/groups", params={"search": "all company"}).json()
    assert found["TotalCount"] == 1 and found["NextPageLink"] is None
    assert contoso.get("/groups/all company").json()["Name"] == "All Company"


def test_groups_today_keep_todays_paging(contoso: Point) -> None:
    body = speak(contoso, TODAY).get("/groups", params={"$top": 10}).json()
    assert body["@odata.count"] == GROUP_COUNT and "$skip=10" in body["@odata.nextLink"]
    assert "isTeam" in body["value"][0]


# --- Sites ------------------------------------------------------------------------------------


def test_sites_documented_minimal_are_id_url_and_title(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    sites = contoso.get("/sites", params={"$top": 1, "search": "zzz"}).json()
    assert isinstance(sites, list) and len(sites) > 100
    assert all(set(s) == {"id", "url", "title"} for s in sites)


def test_sites_graph_names_have_web_url_and_name(contoso: Point) -> None:
    speak(contoso, GRAPH)
    body = contoso.get("/sites", params={"$top": 50}).json()
    site = body["value"][0]
    assert set(site) == {"id", "webUrl", "displayName", "name", "createdDateTime"}
    assert site["webUrl"].endswith("/" + site["name"]) and site["displayName"] == "All Company"
    everything = follow(contoso, "/sites", {"$top": 50}, "value", "@odata.nextLink")
    assert len(everything) == len({s["id"] for s in everything}) > 100
    assert [
        s["displayName"]
        for s in contoso.get("/sites", params={"search": "allcompany"}).json()["value"]
    ] == ["All Company"]


def test_sites_pascal_are_pascal_case_items(contoso: Point) -> None:
    speak(contoso, PASCAL)
    body = contoso.get("/sites", params={"$top": 1}).json()
    assert body["TotalCount"] > 100 and body["NextPageLink"]
    assert {"Id", "Url", "Title", "SiteType", "M365GroupId", "IsHubSite"} <= set(body["Items"][0])


# --- Reports -----------------------------------------------------------------------------------


def start_job(point: Point, path: str, body: dict[str, Any]) -> requests.Response:
    answer = point.post(path, body)
    assert answer.status_code == 202, answer.text
    assert "/v1.0/requests/" in answer.headers["Location"]
    return answer


def test_reports_documented_minimal_are_ids_statuses_and_bare_rows(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    contoso.emulator.control("timing", job=0.4)
    started = start_job(contoso, "/groups/memberships", {})
    job_id = started.json()["id"]
    assert started.json() == {"id": job_id}
    location = started.headers["Location"]
    assert contoso.get(location, allow_redirects=False).json() == {
        "id": job_id,
        "status": "InProgress",
    }
    done = wait_job(contoso, location)
    assert done.status_code == 302 and done.json() == {"id": job_id, "status": "Succeeded"}
    rows = contoso.get(done.headers["Location"], params={"$top": 5}).json()
    assert isinstance(rows, list) and len(rows) > 10_000  # All Company alone is 10,002
    assert set(rows[0]) == {
        "groupId",
        "groupName",
        "id",
        "displayName",
        "email",
        "memberType",
        "role",
    }


def test_reports_documented_minimal_failed_status_is_id_and_status(contoso: Point) -> None:
    speak(contoso, MINIMAL)
    contoso.emulator.control("jobs/fail-next", tenant="contoso")
    started = start_job(contoso, "/users/access/generate", {"user": REQUESTER})
    failed = wait_job(contoso, started.headers["Location"])
    assert failed.status_code == 200
    assert failed.json() == {"id": started.json()["id"], "status": "Failed"}


@pytest.mark.parametrize(
    ("path", "body", "row_keys"),
    [
        (
            "/groups/memberships",
            {},
            {
                "groupId",
                "groupDisplayName",
                "displayName",
                "userPrincipalName",
                "memberType",
                "role",
            },
        ),
        (
            "/sites/permissions/generate",
            {},
            {
                "siteWebUrl",
                "principalDisplayName",
                "principalType",
                "roles",
                "scope",
                "scopeUrl",
                "grantedThrough",
            },
        ),
        (
            "/users/access/generate",
            {"user": REQUESTER},
            {"displayName", "webUrl", "workspaceType", "roles", "grantedThrough"},
        ),
    ],
)
def test_reports_graph_names_count_and_rename_the_rows(
    contoso: Point, path: str, body: dict[str, Any], row_keys: set[str]
) -> None:
    speak(contoso, GRAPH)
    contoso.emulator.control("timing", job=0.4)
    started = start_job(contoso, path, body)
    status = started.json()
    assert set(status) == {"id", "status", "processedCount", "totalCount"}
    assert status["status"] == "InProgress" and status["totalCount"] > 0
    assert 0 <= status["processedCount"] < status["totalCount"]
    done = wait_job(contoso, started.headers["Location"])
    assert done.status_code == 302
    assert done.json()["status"] == "Succeeded"
    assert done.json()["processedCount"] == done.json()["totalCount"]
    rows = follow(contoso, done.headers["Location"], {"$top": 1000}, "value", "@odata.nextLink")
    assert rows and all(set(r) == row_keys for r in rows)
    if "roles" in row_keys:
        assert all(isinstance(r["roles"], list) and len(r["roles"]) == 1 for r in rows)


def test_reports_graph_names_page_the_all_company_rows(contoso: Point) -> None:
    speak(contoso, GRAPH)
    all_company = contoso.get("/groups/All Company").json()["id"]
    started = start_job(contoso, "/groups/memberships", {"groupIds": [all_company]})
    done = wait_job(contoso, started.headers["Location"])
    first = contoso.get(done.headers["Location"], params={"$top": 1000}).json()
    assert len(first["value"]) == 1000 and "$skiptoken=" in first["@odata.nextLink"]
    rows = follow(contoso, done.headers["Location"], {"$top": 1000}, "value", "@odata.nextLink")
    assert len(rows) == 10_002


def test_reports_pascal_use_numeric_statuses_and_items(contoso: Point) -> None:
    speak(contoso, PASCAL)
    contoso.emulator.control("timing", job=0.4)
    started = start_job(contoso, "/groups/memberships", {})
    status = started.json()
    assert status["Status"] == 0 and status["Type"] == "GroupMemberships"
    assert set(status["Progress"]) == {"ProcessedItems", "TotalItems"}
    early = contoso.get(started.headers["Location"].replace("/status", "/result"))
    assert early.status_code == 409
    assert set(early.json()) == PROBLEM_KEYS and "has not completed" in early.json()["detail"]
    done = wait_job(contoso, started.headers["Location"])
    assert done.status_code == 302 and done.json()["Status"] == 1
    page = contoso.get(done.headers["Location"], params={"$top": 100}).json()
    assert page["TotalCount"] > 10_000 and page["NextPageLink"]
    assert {"GroupId", "GroupName", "Email", "MemberType", "Role"} <= set(page["Items"][0])
    contoso.emulator.control("jobs/fail-next", tenant="contoso", message="Report failed.")
    failed = wait_job(
        contoso, start_job(contoso, "/users/access/generate", {"user": IT}).headers["Location"]
    )
    assert failed.json()["Status"] == 2 and failed.json()["Error"] == "Report failed."
    rows = contoso.get(done.headers["Location"].replace(done.json()["Id"], failed.json()["Id"]))
    assert rows.status_code == 409 and "Report failed." in rows.json()["detail"]


# --- Errors ------------------------------------------------------------------------------------

INVALID_PROJECT = {
    "templateId": 1,
    "owners": ["nobody@contoso.onmicrosoft.com"],
    "metadata": {"Project Manager": REQUESTER, "Department": "Finance"},
}


@pytest.mark.parametrize("dialect", [TODAY, MINIMAL, GRAPH])
def test_a_400_is_todays_validation_problem_outside_pascal(contoso: Point, dialect: str) -> None:
    answer = speak(contoso, dialect).provision("teams", **INVALID_PROJECT)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"type", "title", "status", "errors", "traceId"}
    assert set(body["errors"]) == {"displayName", "owners", "metadata.Cost Center"}


def test_a_400_in_pascal_is_a_problem_with_its_own_error_keys(contoso: Point) -> None:
    answer = speak(contoso, PASCAL).provision("teams", **INVALID_PROJECT)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) == PROBLEM_KEYS | {"errors"}
    assert body["title"] == "One or more validation errors occurred." and body["status"] == 400
    assert body["instance"] == "/point/contoso/v1.0/provision/teams"
    assert set(body["errors"]) == {"$.DisplayName", "Owners", "body.Metadata.Cost Center"}
    assert body["errors"]["Owners"] == ["User nobody@contoso.onmicrosoft.com was not found."]
    paging = contoso.get("/groups", params={"$top": "many"}).json()
    assert set(paging["errors"]) == {"$top"}
    job = contoso.post("/groups/memberships", {"groupIds": ["nope"]}).json()
    assert set(job["errors"]) == {"GroupIds"}
    kind = contoso.get("/groups", params={"groupType": "Mailbox"}).json()
    assert set(kind["errors"]) == {"groupType"}


@pytest.mark.parametrize("dialect", [TODAY, MINIMAL, GRAPH])
def test_a_404_is_the_domain_error_outside_pascal(contoso: Point, dialect: str) -> None:
    speak(contoso, dialect)
    answer = contoso.get("/provision/requests/3f2c0000-0000-0000-0000-000000000000")
    assert answer.status_code == 404
    assert answer.json() == {
        "message": "An error has occurred.",
        "exceptionMessage": "ProvisioningRequest with id 3f2c0000-0000-0000-0000-000000000000 not found.",
        "exceptionType": MISSING,
    }
    assert contoso.get("/groups/No Such Group").json()["exceptionType"] == MISSING


def test_a_404_in_pascal_carries_the_message_in_detail(contoso: Point) -> None:
    speak(contoso, PASCAL)
    answer = contoso.get("/groups/No Such Group")
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    assert set(body) == PROBLEM_KEYS
    assert body["title"] == "Not Found" and body["status"] == 404
    assert body["detail"] == "Group with id No Such Group not found."
    assert body["instance"] == "/point/contoso/v1.0/groups/No%20Such%20Group"
    job = contoso.get("/requests/nope/status")
    assert job.status_code == 404 and job.json()["detail"] == "Request with id nope not found."


def test_an_unknown_tenant_answers_in_the_default_dialect(fast: RunningEmulator) -> None:
    fast.control("dialect", dialect=PASCAL)
    answer = requests.get(f"{fast.url}/point/northwind/v1.0/groups", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["detail"] == "PointInstance with id northwind not found."


@pytest.mark.parametrize("dialect", [MINIMAL, GRAPH])
def test_a_409_report_not_ready_stays_a_domain_error_outside_pascal(
    contoso: Point, dialect: str
) -> None:
    speak(contoso, dialect)
    contoso.emulator.control("timing", job=5)
    started = start_job(contoso, "/groups/memberships", {})
    result = started.headers["Location"].replace("/status", "/result")
    answer = contoso.get(result)
    assert answer.status_code == 409
    assert set(answer.json()) == DOMAIN_KEYS
    assert answer.json()["exceptionType"] == "System.InvalidOperationException"


def test_faults_and_throttles_in_pascal_are_problems(contoso: Point) -> None:
    speak(contoso, PASCAL)
    emulator = contoso.emulator
    emulator.control("faults", path="/point/contoso/v1.0/groups", kind="503")
    answer = contoso.get("/groups")
    assert answer.status_code == 503
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert set(answer.json()) == PROBLEM_KEYS
    assert answer.json()["detail"] == "Injected fault: 503 Service Unavailable."
    emulator.control("faults", path="/point/contoso/v1.0/sites", kind="500")
    assert contoso.get("/sites").json()["detail"] == "Injected fault: 500 Internal Server Error."
    emulator.control("throttle", path="/point/contoso/*", retry_after=2)
    answer = contoso.get("/sites")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"
    assert answer.json()["title"] == "Too Many Requests"
    # Another tenant in today's dialect keeps today's fault body.
    emulator.control("faults", path="/point/fabrikam/v1.0/sites", kind="500")
    fabrikam = Point(emulator, FABRIKAM, token(emulator, FABRIKAM))
    assert fabrikam.get("/sites").json()["exceptionType"] == "Emulator.InjectedFault"


def test_pascal_keeps_empty_401_and_403_and_problem_415(contoso: Point) -> None:
    speak(contoso, PASCAL)
    anonymous = Point(contoso.emulator, CONTOSO, None)
    answer = anonymous.get("/groups")
    assert answer.status_code == 401 and answer.content == b""
    unsupported = requests.post(
        contoso.url("/provision/teams"),
        headers={**contoso.headers, "Content-Type": "text/plain"},
        data="templateId=3",
        timeout=10,
    )
    assert unsupported.status_code == 415
    assert set(unsupported.json()) == PROBLEM_KEYS


def test_the_dialect_layer_names_every_dialect_once() -> None:
    assert dialects.NAMES == ALL
    assert {d.name for d in dialects.DIALECTS.values()} == set(ALL)


@pytest.fixture
def graph_emulator() -> Iterator[RunningEmulator]:
    running = start_background(dialect=GRAPH, log_requests=False)
    try:
        yield running
    finally:
        running.stop()


def test_a_dialect_from_the_command_line_applies_to_every_tenant(
    graph_emulator: RunningEmulator,
) -> None:
    for tenant in (CONTOSO, FABRIKAM):
        point = Point(graph_emulator, tenant, token(graph_emulator, tenant))
        assert "value" in point.get("/groups", params={"$top": 1}).json()

"""The emulated Graph's asynchronous creations over real HTTP: teams from groups, beta sites,
Viva Engage communities; their operations to success and to failure, and replication."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator.test_graph_support import (
    CONTOSO,
    LITWARE,
    Graph,
    community_body,
    error_code,
    team_body,
    user_id,
)


@pytest.fixture
def graph(emulator: RunningEmulator) -> Graph:
    graph = Graph(emulator)
    graph.control("timing", seconds=0)
    return graph


def new_group_id(graph: Graph, nickname: str, owners: int = 1) -> str:
    answer = graph.new_group(nickname, owners=owners)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def follow(graph: Graph, location: str) -> requests.Response:
    """GET a Location: relative ones resolve against the v1.0 base, as the docs say."""
    return graph.get(location if location.startswith("http") else location)


# -- teams ---------------------------------------------------------------------------------------


def test_a_team_is_created_from_a_group_through_its_operation(graph: Graph) -> None:
    gid = new_group_id(graph, "teamup")
    answer = graph.post("/teams", team_body(gid))
    assert answer.status_code == 202
    assert answer.content == b""
    location = answer.headers["Location"]
    assert location.startswith(f"/teams('{gid}')/operations('")
    assert answer.headers["Content-Location"] == f"/teams('{gid}')"
    operation = follow(graph, location).json()
    assert operation["status"] == "succeeded"
    assert operation["operationType"] == "createTeam"
    assert operation["targetResourceId"] == gid and operation["error"] is None
    assert {"createdDateTime", "lastActionDateTime", "attemptsCount"} <= set(operation)
    team = graph.get(f"/teams/{gid}").json()
    assert team["id"] == gid and team["displayName"] == "Project teamup" and team["webUrl"]
    group = graph.get(f"/groups/{gid}").json()
    assert group["resourceProvisioningOptions"] == ["Team"]
    kinds = [(e["kind"], e["outcome"]) for e in graph.ledger()]
    assert ("team", "accepted") in kinds and ("team", "created") in kinds


def test_the_team_operation_is_also_found_by_slash_path(graph: Graph) -> None:
    gid = new_group_id(graph, "slashed")
    location = graph.post("/teams", team_body(gid)).headers["Location"]
    op_id = location.split("operations('")[1].rstrip("')")
    assert graph.get(f"/teams/{gid}/operations/{op_id}").json()["id"] == op_id


def test_a_team_operation_progresses_with_time(graph: Graph) -> None:
    graph.control("timing", team=1.6)  # notStarted for 0.4 s, then inProgress
    gid = new_group_id(graph, "slowteam")
    location = graph.post("/teams", team_body(gid)).headers["Location"]
    assert follow(graph, location).json()["status"] == "notStarted"
    assert graph.get(f"/teams/{gid}").status_code == 404
    time.sleep(0.6)
    assert follow(graph, location).json()["status"] == "inProgress"
    time.sleep(1.1)
    assert follow(graph, location).json()["status"] == "succeeded"
    assert graph.get(f"/teams/{gid}").status_code == 200


def test_a_team_operation_can_be_made_to_fail(graph: Graph) -> None:
    graph.control("fail-next", kind="team", message="Teams backend said no.")
    gid = new_group_id(graph, "doomed")
    location = graph.post("/teams", team_body(gid)).headers["Location"]
    operation = follow(graph, location).json()
    assert operation["status"] == "failed"
    assert operation["error"]["message"] == "Teams backend said no."
    assert graph.get(f"/teams/{gid}").status_code == 404
    assert graph.get(f"/groups/{gid}").json()["resourceProvisioningOptions"] == []
    # A failed attempt may be retried, and the switch was used up.
    retry = graph.post("/teams", team_body(gid))
    assert follow(graph, retry.headers["Location"]).json()["status"] == "succeeded"


def test_a_group_without_owner_cannot_become_a_team(graph: Graph) -> None:
    gid = new_group_id(graph, "ownerless", owners=0)
    answer = graph.post("/teams", team_body(gid))
    assert answer.status_code == 400
    assert graph.ledger()[-1]["outcome"] == "BadRequest"


def test_a_group_that_already_has_a_team_is_409(graph: Graph) -> None:
    marketing = graph.get("/groups", params={"$filter": "mailNickname eq 'marketing'"})
    answer = graph.post("/teams", team_body(marketing.json()["value"][0]["id"]))
    assert answer.status_code == 409
    assert error_code(answer) == "Conflict"


def test_a_team_for_an_unknown_group_is_404(graph: Graph) -> None:
    answer = graph.post("/teams", team_body("00000000-0000-0000-0000-0000000000aa"))
    assert answer.status_code == 404


def test_a_team_without_a_template_bind_is_400(graph: Graph) -> None:
    gid = new_group_id(graph, "notemplate")
    body = team_body(gid)
    del body["template@odata.bind"]
    assert graph.post("/teams", body).status_code == 400


def test_a_young_group_404s_on_post_teams_until_replicated(graph: Graph) -> None:
    graph.control("replication", seconds=0.5)
    gid = new_group_id(graph, "young")
    refused = graph.post("/teams", team_body(gid))
    assert refused.status_code == 404
    assert error_code(refused) == "NotFound"
    time.sleep(0.6)
    answer = graph.post("/teams", team_body(gid))
    assert answer.status_code == 202
    assert follow(graph, answer.headers["Location"]).json()["status"] == "succeeded"


def test_creating_a_team_needs_team_create_or_group_write(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    gid = new_group_id(graph, "perm")
    emulator.control("graph/permissions", tenant="litware", permissions=["Group.Read.All"])
    reader = Graph(emulator)
    assert reader.post("/teams", team_body(gid)).status_code == 403
    emulator.control("graph/permissions", tenant="litware", permissions=["Team.Create"])
    assert Graph(emulator).post("/teams", team_body(gid)).status_code == 202


def test_an_unknown_team_operation_is_404(graph: Graph) -> None:
    gid = new_group_id(graph, "noop")
    answer = graph.get(f"/teams('{gid}')/operations('00000000-0000-0000-0000-000000000000')")
    assert answer.status_code == 404


# -- sites -----------------------------------------------------------------------------------------


def site_body(path: str, owner: str = "nancy.davolio@litware.onmicrosoft.com") -> dict[str, Any]:
    return {
        "name": f"Site {path}",
        "webUrl": f"https://litware.sharepoint.com/sites/{path}",
        "locale": "en-US",
        "shareByEmailEnabled": False,
        "description": "A communication site",
        "template": "sitepagepublishing",
        "ownerIdentityToResolve": {"email": owner},
    }


def test_the_root_site_is_the_tenants_sharepoint(graph: Graph) -> None:
    root = graph.get("/sites/root").json()
    assert root["webUrl"] == "https://litware.sharepoint.com"
    assert root["id"].startswith("litware.sharepoint.com,") and root["displayName"]
    assert graph.get(f"/sites/{root['id']}").json()["webUrl"] == root["webUrl"]


def test_a_site_is_found_by_path_and_by_search(graph: Graph) -> None:
    site = graph.get("/sites/litware.sharepoint.com:/sites/intranet").json()
    assert site["webUrl"] == "https://litware.sharepoint.com/sites/intranet"
    assert site["id"].count(",") == 2
    missing = graph.get("/sites/litware.sharepoint.com:/sites/nowhere")
    assert missing.status_code == 404 and error_code(missing) == "itemNotFound"
    found = graph.get("/sites", params={"search": "intra"}).json()["value"]
    assert [s["webUrl"] for s in found] == [site["webUrl"]]


def test_a_groups_site_is_found_from_the_group(graph: Graph) -> None:
    gid = new_group_id(graph, "withsite")
    site = graph.get(f"/groups/{gid}/sites/root").json()
    assert site["webUrl"] == "https://litware.sharepoint.com/sites/withsite"


def test_a_young_groups_site_is_404_until_replicated(graph: Graph) -> None:
    graph.control("replication", seconds=600)
    gid = new_group_id(graph, "sitelater")
    assert graph.get(f"/groups/{gid}/sites/root").status_code == 404
    graph.control("replication", seconds=0)
    assert graph.get(f"/groups/{gid}/sites/root").status_code == 200


def test_a_site_is_created_on_beta_through_its_operation(graph: Graph) -> None:
    answer = graph.post("/sites", site_body("commsite1"), version="beta")
    assert answer.status_code == 202
    location = answer.headers["Location"]
    assert location.startswith(f"{graph.emulator.url}/graph/beta/sites/getOperationStatus(")
    operation = graph.get(location).json()
    assert operation["status"] == "succeeded"
    assert operation["resourceId"].startswith("litware.sharepoint.com,")
    site = graph.get(operation["resourceLocation"]).json()
    assert site["webUrl"] == "https://litware.sharepoint.com/sites/commsite1"
    by_path = graph.get("/sites/litware.sharepoint.com:/sites/commsite1")
    assert by_path.json()["id"] == operation["resourceId"]
    ledger = graph.ledger()
    assert ledger[-1]["kind"] == "site" and ledger[-1]["url"] == site["webUrl"]


def test_a_site_operation_can_be_made_to_fail(graph: Graph) -> None:
    graph.control("fail-next", kind="site", message="Site collection quota exceeded.")
    location = graph.post("/sites", site_body("quota"), version="beta").headers["Location"]
    operation = graph.get(location).json()
    assert operation["status"] == "failed" and operation["resourceId"] is None
    assert operation["error"]["message"] == "Site collection quota exceeded."
    assert graph.get("/sites/litware.sharepoint.com:/sites/quota").status_code == 404


def test_a_site_operation_is_running_before_it_succeeds(graph: Graph) -> None:
    graph.control("timing", site=60)
    location = graph.post("/sites", site_body("later"), version="beta").headers["Location"]
    assert graph.get(location).json()["status"] in ("notStarted", "running")
    # The URL is taken while the first creation is under way.
    again = graph.post("/sites", site_body("later"), version="beta")
    assert again.status_code == 409


def test_a_taken_site_url_is_409_name_already_exists(graph: Graph) -> None:
    answer = graph.post("/sites", site_body("intranet"), version="beta")
    assert answer.status_code == 409
    assert error_code(answer) == "nameAlreadyExists"


@pytest.mark.parametrize(
    "change",
    [
        {"ownerIdentityToResolve": {"email": "nobody@litware.onmicrosoft.com"}},
        {"template": "group"},
        {"webUrl": "https://contoso.sharepoint.com/sites/elsewhere"},
        {"name": ""},
    ],
)
def test_an_invalid_site_request_is_400(graph: Graph, change: dict[str, Any]) -> None:
    answer = graph.post("/sites", {**site_body("invalid"), **change}, version="beta")
    assert answer.status_code == 400


def test_creating_sites_is_beta_only_and_needs_sites_create(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    assert graph.post("/sites", site_body("v1")).status_code == 400  # no such call on v1.0
    contoso = Graph(emulator, CONTOSO)
    assert contoso.post("/sites", site_body("v1"), version="beta").status_code == 403
    assert contoso.get("/sites/root").status_code == 403


# -- communities -----------------------------------------------------------------------------------


def test_a_community_is_created_through_its_operation_with_its_group(graph: Graph) -> None:
    answer = graph.post("/employeeExperience/communities", community_body())
    assert answer.status_code == 202
    location = answer.headers["Operation-Location"]
    assert "Location" not in answer.headers
    assert location.startswith(
        f"{graph.emulator.url}/graph/v1.0/employeeExperience/engagementAsyncOperations('"
    )
    operation = graph.get(location).json()
    assert operation["status"] == "succeeded" and operation["operationType"] == "createCommunity"
    assert operation["statusDetail"] is None
    community = graph.get(operation["resourceLocation"]).json()
    assert community["id"] == operation["resourceId"] and community["displayName"] == "Makers"
    group = graph.get(f"/groups/{community['groupId']}").json()
    assert group["displayName"] == "Makers" and group["groupTypes"] == ["Unified"]
    owners = graph.get(f"/groups/{community['groupId']}/owners").json()["value"]
    assert [o["id"] for o in owners] == [user_id(LITWARE, 0)]
    listed = graph.get("/employeeExperience/communities").json()["value"]
    assert [c["id"] for c in listed] == [community["id"]]
    op_id = operation["id"]
    assert graph.get(f"/employeeExperience/engagementAsyncOperations/{op_id}").status_code == 200


def test_a_community_operation_can_be_made_to_fail(graph: Graph) -> None:
    graph.control("fail-next", kind="community", message="Viva Engage is not in native mode.")
    location = graph.post("/employeeExperience/communities", community_body()).headers[
        "Operation-Location"
    ]
    operation = graph.get(location).json()
    assert operation["status"] == "failed"
    assert operation["statusDetail"] == "Viva Engage is not in native mode."
    assert operation["resourceId"] is None
    assert graph.get("/employeeExperience/communities").json()["value"] == []


def test_a_community_without_owners_is_400(graph: Graph) -> None:
    answer = graph.post("/employeeExperience/communities", community_body(owners=0))
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "change",
    [{"displayName": "x" * 256}, {"description": "x" * 1025}, {"privacy": "secret"}],
)
def test_an_invalid_community_is_400(graph: Graph, change: dict[str, Any]) -> None:
    answer = graph.post("/employeeExperience/communities", {**community_body(), **change})
    assert answer.status_code == 400


def test_communities_are_rate_limited_to_10_per_30_seconds_per_app(graph: Graph) -> None:
    for _ in range(10):
        assert graph.post("/employeeExperience/communities", community_body()).status_code == 202
    answer = graph.post("/employeeExperience/communities", community_body())
    assert answer.status_code == 429
    assert error_code(answer) == "TooManyRequests"
    assert 1 <= int(answer.headers["Retry-After"]) <= 31


def test_communities_need_the_community_role(emulator: RunningEmulator) -> None:
    contoso = Graph(emulator, CONTOSO)
    assert contoso.post("/employeeExperience/communities", community_body()).status_code == 403
    assert contoso.get("/employeeExperience/communities").status_code == 403


def test_the_ticker_settles_operations_nobody_polls(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    graph.control("timing", community=0.2)
    graph.post("/employeeExperience/communities", community_body("Unpolled"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(e["kind"] == "community" and e["outcome"] == "created" for e in graph.ledger()):
            return
        time.sleep(0.1)
    pytest.fail("the community was never created")

"""The emulated Graph directory: users, groups, members and owners, validateProperties,
organization, and the token and permission checks in front of them, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from emulator.server import RunningEmulator
from tests.emulator.test_graph_support import (
    CONTOSO,
    FABRIKAM,
    LITWARE,
    Graph,
    all_pages,
    bind,
    error_code,
    user_id,
)

EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture
def graph(emulator: RunningEmulator) -> Graph:
    return Graph(emulator)


# -- tokens and permissions ------------------------------------------------------------------


def test_a_call_without_a_token_is_401_invalid_authentication_token(
    emulator: RunningEmulator,
) -> None:
    answer = Graph(emulator, token="").get("/users")
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


def test_a_token_for_another_audience_is_401(emulator: RunningEmulator) -> None:
    point = requests.post(
        f"{emulator.url}/{LITWARE['id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": LITWARE["apps"][0]["client_id"],
            "client_secret": LITWARE["apps"][0]["secrets"][0]["value"],
            "scope": f"{LITWARE['point']['api_app_id']}/.default",
        },
        timeout=10,
    ).json()["access_token"]
    answer = Graph(emulator, token=point).get("/users")
    assert answer.status_code == 401
    assert error_code(answer) == "InvalidAuthenticationToken"


def test_the_client_request_id_is_echoed_in_the_error(emulator: RunningEmulator) -> None:
    answer = Graph(emulator, token="").get("/users", headers={"client-request-id": "abc-123"})
    assert answer.json()["error"]["innerError"]["client-request-id"] == "abc-123"


def test_a_missing_role_is_403_authorization_request_denied(emulator: RunningEmulator) -> None:
    contoso = Graph(emulator, CONTOSO)  # User.Read.All, no group role
    answer = contoso.get("/groups")
    assert answer.status_code == 403
    assert error_code(answer) == "Authorization_RequestDenied"
    assert answer.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    assert contoso.get("/users").status_code == 200


def test_a_token_without_roles_is_refused_but_may_read_the_organization(
    emulator: RunningEmulator,
) -> None:
    reader = Graph(emulator, FABRIKAM, app_index=1)
    assert reader.get("/users").status_code == 403
    answer = reader.get("/organization")
    assert answer.status_code == 200
    assert answer.json()["value"][0]["id"] == FABRIKAM["id"]


def test_group_create_opens_with_group_create_alone_but_reading_needs_a_read_role(
    emulator: RunningEmulator,
) -> None:
    emulator.control("graph/permissions", tenant="litware", permissions=["Group.Create"])
    graph = Graph(emulator)
    assert graph.new_group("createonly").status_code == 201
    assert graph.get("/groups").status_code == 403
    assert graph.post("/directoryObjects/validateProperties", {}).status_code == 403


def test_permission_changes_apply_to_new_tokens_only(emulator: RunningEmulator) -> None:
    before = Graph(emulator)
    answer = emulator.control("graph/permissions", tenant="litware", revoke=["User.Read.All"])
    assert "User.Read.All" not in answer["graph_permissions"]
    assert before.get("/users").status_code == 200
    assert Graph(emulator).get("/users").status_code == 403


def test_the_tenant_is_the_tokens_tid(emulator: RunningEmulator) -> None:
    contoso = Graph(emulator, CONTOSO).get("/users").json()["value"]
    assert {u["userPrincipalName"].split("@")[-1] for u in contoso} == {"contoso.onmicrosoft.com"}


# -- users -------------------------------------------------------------------------------------


def test_users_carry_the_documented_properties_from_the_fixture(graph: Graph) -> None:
    users = {u["userPrincipalName"]: u for u in all_pages(graph, "/users")}
    assert len(users) == len(LITWARE["users"])
    robert = users["robert.king@litware.onmicrosoft.com"]
    assert robert["accountEnabled"] is False
    anne = users["anne.dodsworth@litware.onmicrosoft.com"]
    assert anne["assignedLicenses"] == []
    nancy = users["nancy.davolio@litware.onmicrosoft.com"]
    assert nancy["assignedLicenses"] and nancy["userType"] == "Member"
    assert nancy["id"] == user_id(LITWARE, 0)
    guest = next(u for u in users.values() if "#EXT#" in u["userPrincipalName"])
    assert guest["userType"] == "Guest"


def test_a_user_is_found_by_id_or_upn_and_unknown_ones_are_404(graph: Graph) -> None:
    by_id = graph.get(f"/users/{user_id(LITWARE, 1)}").json()
    by_upn = graph.get("/users/andrew.fuller@litware.onmicrosoft.com").json()
    assert by_id["id"] == by_upn["id"]
    missing = graph.get("/users/nobody@litware.onmicrosoft.com")
    assert missing.status_code == 404
    assert error_code(missing) == "Request_ResourceNotFound"


def test_users_filter_by_startswith_and_account_enabled(graph: Graph) -> None:
    found = graph.get(
        "/users",
        params={"$filter": "startswith(displayName,'an') or startswith(userPrincipalName,'ro')"},
    ).json()["value"]
    assert {u["displayName"] for u in found} == {"Andrew Fuller", "Anne Dodsworth", "Robert King"}
    enabled = graph.get("/users", params={"$filter": "accountEnabled eq true"}).json()["value"]
    assert "Robert King" not in {u["displayName"] for u in enabled}
    assert len(enabled) == len(LITWARE["users"]) - 1


def test_users_select_returns_only_the_selected_properties(graph: Graph) -> None:
    users = graph.get("/users", params={"$select": "id,mail"}).json()["value"]
    assert all(set(u) == {"id", "mail"} for u in users)


def test_users_search_needs_consistency_level_eventual(graph: Graph) -> None:
    refused = graph.get("/users", params={"$search": '"displayName:nan"'})
    assert refused.status_code == 400
    found = graph.get("/users", params={"$search": '"displayName:nan"'}, headers=EVENTUAL)
    assert [u["displayName"] for u in found.json()["value"]] == ["Nancy Davolio"]


def test_an_unsupported_filter_is_400(graph: Graph) -> None:
    answer = graph.get("/users", params={"$filter": "displayName gt 'a'"})
    assert answer.status_code == 400
    assert error_code(answer) == "Request_UnsupportedQuery"


def test_top_above_999_is_400(graph: Graph) -> None:
    assert graph.get("/users", params={"$top": "1000"}).status_code == 400
    assert graph.get("/users", params={"$top": "999"}).status_code == 200


# -- groups: reading and paging ----------------------------------------------------------------


def test_groups_are_seeded_with_some_teams(graph: Graph) -> None:
    groups = graph.get("/groups").json()["value"]
    assert len(groups) >= 4
    assert any(g["resourceProvisioningOptions"] == ["Team"] for g in groups)
    assert any(g["groupTypes"] == [] for g in groups)  # a security group too


def test_group_paging_follows_an_absolute_next_link_with_a_skiptoken(graph: Graph) -> None:
    first = graph.get("/groups", params={"$top": "2", "$select": "id"}).json()
    link = first["@odata.nextLink"]
    assert link.startswith(graph.emulator.url) and "%24skiptoken=" in link
    assert "%24select=id" in link and "%24top=2" in link
    everything = all_pages(graph, "/groups", {"$top": "2"})
    assert len(everything) == len(graph.get("/groups").json()["value"])
    assert len({g["id"] for g in everything}) == len(everything)


def test_skip_is_not_supported_on_groups(graph: Graph) -> None:
    answer = graph.get("/groups", params={"$skip": "2"})
    assert answer.status_code == 400
    assert error_code(answer) == "Request_BadRequest"


@pytest.mark.parametrize(
    ("clause", "names"),
    [
        ("mailNickname eq 'marketing'", {"Marketing"}),
        ("displayName eq 'sales team'", {"Sales Team"}),
        ("startswith(displayName,'Pro')", {"Project Falcon"}),
        (
            "groupTypes/any(c:c eq 'Unified')",
            {"All Company", "Marketing", "Sales Team", "Project Falcon"},
        ),
        (
            "groupTypes/any(c:c eq 'Unified') and visibility eq 'Private'",
            {"Sales Team", "Project Falcon"},
        ),
    ],
)
def test_groups_filter(graph: Graph, clause: str, names: set[str]) -> None:
    found = graph.get("/groups", params={"$filter": clause}).json()["value"]
    assert {g["displayName"] for g in found} == names


def test_a_group_is_got_by_id_and_unknown_ones_are_404(graph: Graph) -> None:
    group = graph.get("/groups").json()["value"][0]
    assert graph.get(f"/groups/{group['id']}").json()["displayName"] == group["displayName"]
    missing = graph.get("/groups/00000000-0000-0000-0000-000000000001")
    assert missing.status_code == 404
    assert error_code(missing) == "Request_ResourceNotFound"
    assert graph.get("/groups/not-a-guid").status_code == 400


def test_members_and_owners_page_and_count_with_consistency_level(graph: Graph) -> None:
    group = graph.get("/groups", params={"$filter": "mailNickname eq 'financeapprovers'"}).json()
    gid = group["value"][0]["id"]
    members = all_pages(graph, f"/groups/{gid}/members", {"$top": "2"})
    assert len(members) > 2
    assert all(m["@odata.type"] == "#microsoft.graph.user" for m in members)
    assert graph.get(f"/groups/{gid}/owners").json()["value"]
    assert graph.get(f"/groups/{gid}/members/$count").status_code == 400
    count = graph.get(f"/groups/{gid}/members/$count", headers=EVENTUAL)
    assert count.status_code == 200 and count.text == str(len(members))
    listed = graph.get("/groups", params={"$count": "true"}, headers=EVENTUAL).json()
    assert listed["@odata.count"] == len(listed["value"])


# -- groups: creating ----------------------------------------------------------------------------


def test_creating_a_group_answers_201_with_the_group(graph: Graph) -> None:
    answer = graph.new_group("falcon2", description="Second falcon", visibility="Private")
    assert answer.status_code == 201
    group = answer.json()
    assert group["mail"] == "falcon2@litware.onmicrosoft.com"
    assert group["visibility"] == "Private" and group["groupTypes"] == ["Unified"]
    assert group["resourceProvisioningOptions"] == [] and group["createdDateTime"]
    assert group["description"] == "Second falcon"
    owners = graph.get(f"/groups/{group['id']}/owners").json()["value"]
    assert [o["id"] for o in owners] == [user_id(LITWARE, 0)]
    ledger = graph.ledger()
    assert ledger[-1]["kind"] == "group" and ledger[-1]["id"] == group["id"]
    assert ledger[-1]["mailNickname"] == "falcon2" and ledger[-1]["at"]


def test_a_new_group_is_public_by_default(graph: Graph) -> None:
    assert graph.new_group("openhouse").json()["visibility"] == "Public"


def test_a_duplicate_mail_nickname_is_400_with_object_conflict(graph: Graph) -> None:
    answer = graph.new_group("Marketing")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == (
        "Another object with the same value for property mailNickname already exists."
    )
    assert error["details"][0]["target"] == "mailNickname"
    assert error["details"][0]["code"] == "ObjectConflict"
    refused = graph.ledger()[-1]
    assert refused["id"] is None and refused["outcome"] == "Request_BadRequest"


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"displayName": ""}, "displayName"),
        ({"displayName": "x" * 257}, "displayName"),
        ({"mailNickname": "has space"}, "mailNickname"),
        ({"mailNickname": "dot.ted"}, "mailNickname"),
        ({"mailNickname": "n" * 65}, "mailNickname"),
        ({"mailNickname": "café"}, "mailNickname"),
        ({"mailEnabled": None}, "mailEnabled"),
        ({"securityEnabled": "no"}, "securityEnabled"),
        ({"visibility": "Secret"}, "visibility"),
    ],
)
def test_invalid_group_properties_are_400(
    graph: Graph, change: dict[str, Any], target: str
) -> None:
    answer = graph.new_group("valid", **change)
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][0]["target"] == target


def test_more_than_20_owners_in_the_create_call_is_400(graph: Graph) -> None:
    body: dict[str, Any] = {"owners@odata.bind": [bind(user_id(LITWARE, 0))] * 21}
    assert graph.new_group("crowd", **body).status_code == 400


def test_binding_an_unknown_user_is_404(graph: Graph) -> None:
    ghost = "00000000-0000-0000-0000-00000000dead"
    members: dict[str, Any] = {"members@odata.bind": [bind(ghost)]}
    answer = graph.new_group("ghostly", **members)
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"].startswith(f"Resource '{ghost}' does not exist")


def test_members_and_owners_are_added_by_ref(graph: Graph) -> None:
    gid = graph.new_group("refs").json()["id"]
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id(LITWARE, 2)}"}
    assert graph.post(f"/groups/{gid}/members/$ref", ref).status_code == 204
    assert graph.post(f"/groups/{gid}/owners/$ref", ref).status_code == 204
    again = graph.post(f"/groups/{gid}/members/$ref", ref)
    assert again.status_code == 400 and error_code(again) == "Request_BadRequest"
    ghost = {"@odata.id": bind("00000000-0000-0000-0000-00000000dead")}
    assert graph.post(f"/groups/{gid}/members/$ref", ghost).status_code == 404
    members = graph.get(f"/groups/{gid}/members").json()["value"]
    assert user_id(LITWARE, 2) in {m["id"] for m in members}


def test_adding_by_ref_needs_a_write_role(emulator: RunningEmulator) -> None:
    graph = Graph(emulator)
    gid = graph.new_group("readonly").json()["id"]
    emulator.control("graph/permissions", tenant="litware", permissions=["Group.Read.All"])
    reader = Graph(emulator)
    ref = {"@odata.id": bind(user_id(LITWARE, 2))}
    assert reader.post(f"/groups/{gid}/members/$ref", ref).status_code == 403
    assert reader.new_group("nope").status_code == 403


def test_a_body_that_is_not_json_is_400_in_graphs_shape(graph: Graph) -> None:
    answer = requests.post(
        graph.url("/groups"), data=b"{not json", headers=graph.headers(), timeout=10
    )
    assert answer.status_code == 400
    assert error_code(answer) == "Request_BadRequest"


# -- replication -----------------------------------------------------------------------------------


def test_a_new_group_is_missing_from_lists_until_replicated(graph: Graph) -> None:
    graph.control("replication", seconds=600)
    group = graph.new_group("fresh").json()
    nick = {"$filter": "mailNickname eq 'fresh'"}
    assert graph.get("/groups", params=nick).json()["value"] == []
    assert graph.get(f"/groups/{group['id']}").status_code == 200
    # Uniqueness is checked against every object, replicated or not.
    assert graph.new_group("fresh").status_code == 400
    graph.control("replication", seconds=0)
    assert [g["id"] for g in graph.get("/groups", params=nick).json()["value"]] == [group["id"]]


# -- validateProperties ----------------------------------------------------------------------------


def test_validate_properties_is_204_for_free_names(graph: Graph) -> None:
    body = {"entityType": "Group", "displayName": "Project Free", "mailNickname": "projectfree"}
    answer = graph.post("/directoryObjects/validateProperties", body)
    assert answer.status_code == 204


def test_validate_properties_reports_a_taken_mail_nickname(graph: Graph) -> None:
    body = {"entityType": "Group", "displayName": "Marketing 2", "mailNickname": "marketing"}
    answer = graph.post("/directoryObjects/validateProperties", body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "Request_UnprocessableEntity"
    assert error["details"] == [
        {
            "target": "mailNickname",
            "code": "PropertyConflict",
            "message": "Another object with the same value for property mailNickname already exists.",
        }
    ]


def test_validate_properties_applies_the_tenants_naming_policy(graph: Graph) -> None:
    graph.control("naming", prefix="GRP-", blocked=["ceo"])
    bad = {"entityType": "Group", "displayName": "CEO office", "mailNickname": "ceooffice"}
    details = graph.post("/directoryObjects/validateProperties", bad).json()["error"]["details"]
    assert {(d["target"], d["code"]) for d in details} == {
        ("displayName", "MissingPrefixSuffix"),
        ("mailNickname", "MissingPrefixSuffix"),
        ("displayName", "ContainsBlockedWord"),
    }
    good = {"entityType": "Group", "displayName": "GRP-Office", "mailNickname": "GRP-office"}
    assert graph.post("/directoryObjects/validateProperties", good).status_code == 204


def test_creating_a_group_with_a_blocked_word_is_400(graph: Graph) -> None:
    graph.control("naming", blocked=["ceo"])
    answer = graph.new_group("ceo-desk")
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][0]["code"] == "ContainsBlockedWord"


def test_validate_properties_wants_a_group_entity_type(graph: Graph) -> None:
    answer = graph.post("/directoryObjects/validateProperties", {"entityType": "User"})
    assert answer.status_code == 400


# -- organization and unknown paths --------------------------------------------------------------


def test_organization_names_the_tenant_and_its_domain(graph: Graph) -> None:
    org = graph.get("/organization").json()["value"][0]
    assert org["id"] == LITWARE["id"] and org["displayName"] == "Litware"
    assert org["verifiedDomains"][0]["name"] == "litware.onmicrosoft.com"


def test_an_unknown_graph_path_is_a_graph_shaped_400(graph: Graph) -> None:
    answer = graph.get("/nonsense/here")
    assert answer.status_code == 400
    assert error_code(answer) == "BadRequest"
    assert "segment 'here'" in answer.json()["error"]["message"]


def test_beta_serves_the_directory_too(graph: Graph) -> None:
    assert graph.get("/users", version="beta").status_code == 200

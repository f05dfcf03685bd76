"""GraphProvider's requests, offline: submit of every workload, get_request of every id form,
the exactly-once lookups, and Graph's errors (scripted answers in both emulator dialects'
spellings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.upstreams.conftest import (
    GRAPH_ROOT,
    RecordingTokens,
    ScriptedSession,
    Sent,
    answer,
    script,
)
from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    AlreadyExists,
    AuthenticationFailed,
    Invalid,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PermissionMissing,
    ReportKind,
    Status,
    Upstream,
    Workload,
    WorkspaceSpec,
)
from upstreams.graph.provider import GraphProvider

ROOT = GRAPH_ROOT
BETA = "https://graph.microsoft.com/beta"
ADELE = "adele@contoso.com"
ALEX = "alex@contoso.com"
NICK_TAKEN = "Another object with the same value for property mailNickname already exists."


def error(
    status: int, code: str, message: str, details: Sequence[dict[str, str]] | None = None
) -> requests.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "innerError": {}}}
    if details is not None:
        body["error"]["details"] = list(details)
    return answer(status, body)


def user(upn: str, uid: str) -> requests.Response:
    return answer(200, {"id": uid, "userPrincipalName": upn, "mail": upn})


def group(gid: str = "g1", **extra: Any) -> dict[str, Any]:
    return {
        "id": gid,
        "displayName": "Falcon",
        "mail": "falcon@contoso.com",
        "mailNickname": "falcon",
        "createdDateTime": "2025-03-01T10:00:00Z",
        "resourceProvisioningOptions": [],
        **extra,
    }


def spec(workload: Workload = Workload.GROUP, **changes: Any) -> WorkspaceSpec:
    made = WorkspaceSpec(
        template_id="t1",
        workload=workload,
        display_name="Falcon",
        description="Birds",
        owners=(ADELE,),
    )
    return replace(made, **changes)


def query(sent: Sent) -> dict[str, list[str]]:
    found = parse_qs(urlsplit(sent.url).query)
    for key, value in (sent.kwargs.get("params") or {}).items():
        found.setdefault(key, []).append(str(value))
    return found


def path(sent: Sent) -> str:
    return f"{sent.method} {urlsplit(sent.url).path}"


# --- The provider as a whole --------------------------------------------------------------------


def test_capabilities_and_identity(graph: GraphProvider) -> None:
    provider: Upstream = graph
    assert (provider.kind, provider.label) == ("graph", "Microsoft Graph")
    caps = graph.capabilities
    assert not caps.catalogue and not caps.approvals and not caps.webhooks
    assert caps.report_kinds == frozenset({ReportKind.GROUP_MEMBERSHIPS})
    assert caps.request_lookup and caps.directory and caps.duplicates_refused and caps.name_check
    assert caps.workloads == frozenset(Workload)


# --- submit: groups -------------------------------------------------------------------------------


def test_group_resolves_people_then_creates_the_group(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, user(ADELE, "u1"), user(ALEX, "u2"), answer(201, group()))
    found = graph.submit(spec(members=(ALEX,), desired_url="falcon"))
    assert found.id == "group:g1" and found.status is Status.COMPLETED
    assert (found.workspace_id, found.email, found.display_name) == (
        "g1",
        "falcon@contoso.com",
        "Falcon",
    )
    assert [path(s) for s in scripted.sent] == [
        f"GET /v1.0/users/{ADELE}",
        f"GET /v1.0/users/{ALEX}",
        "POST /v1.0/groups",
    ]
    assert query(scripted.sent[0])["$select"] == [
        "id,displayName,userPrincipalName,mail,accountEnabled,userType,assignedLicenses"
    ]
    body = scripted.sent[2].kwargs["json"]
    assert body["mailNickname"] == "falcon" and body["visibility"] == "Private"
    assert body["owners@odata.bind"] == [f"{ROOT}/users/u1"]
    assert body["members@odata.bind"] == [f"{ROOT}/users/u2"]


def test_an_unknown_upn_is_invalid_before_any_write(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(404, "Request_ResourceNotFound", "Resource 'x' does not exist"),
    )
    with pytest.raises(Invalid) as raised:
        graph.submit(spec(members=("ghost@contoso.com",)))
    assert raised.value.field_errors == {
        FIELD_MEMBERS: ["ghost@contoso.com was not found in the directory."]
    }
    assert all(s.method == "GET" for s in scripted.sent)


def test_no_owner_is_invalid_without_a_call(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    with pytest.raises(Invalid) as raised:
        graph.submit(spec(owners=()))
    assert FIELD_OWNERS in raised.value.field_errors
    assert scripted.sent == []


def test_more_than_20_members_are_added_after_the_create(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    members = tuple(f"m{i}@contoso.com" for i in range(22))
    script(
        scripted,
        user(ADELE, "u0"),
        *(user(m, f"m{i}") for i, m in enumerate(members)),
        answer(201, group()),
        answer(204),
        error(400, "Request_BadRequest", "One or more added object references already exist"),
    )
    found = graph.submit(spec(members=members))
    assert found.id == "group:g1"
    create = next(s for s in scripted.sent if path(s) == "POST /v1.0/groups")
    assert len(create.kwargs["json"]["members@odata.bind"]) == 20
    refs = [s for s in scripted.sent if s.url.endswith("/members/$ref")]
    assert [s.kwargs["json"]["@odata.id"] for s in refs] == [
        f"{ROOT}/directoryObjects/m20",
        f"{ROOT}/directoryObjects/m21",
    ]


def test_a_lost_answer_to_the_group_create_is_outcome_unknown(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, user(ADELE, "u1"), requests.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknown):
        graph.submit(spec())
    assert [s.method for s in scripted.sent] == ["GET", "POST"]  # never sent twice


def test_object_conflict_after_a_lost_answer_is_already_exists_with_the_group(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(
            400,
            "Request_BadRequest",
            NICK_TAKEN,
            [{"target": "mailNickname", "code": "ObjectConflict", "message": NICK_TAKEN}],
        ),
        answer(200, {"value": [group()]}),
    )
    with pytest.raises(AlreadyExists) as raised:
        graph.submit(spec(desired_url="falcon"))
    taken = raised.value
    assert taken.field == FIELD_DESIRED_URL
    assert taken.existing is not None and taken.existing_id == "group:g1"
    assert taken.existing.status is Status.COMPLETED
    assert taken.existing.requested_at is not None
    lookup = scripted.sent[-1]
    assert query(lookup)["$filter"] == ["mailNickname eq 'falcon'"]


def test_variant_conflict_without_details_for_a_team_names_the_team_to_finish(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(400, "request_BadRequest", NICK_TAKEN),
        answer(200, {"value": [group(createdDateTime=None)]}),
    )
    with pytest.raises(AlreadyExists) as raised:
        graph.submit(spec(Workload.TEAM))
    existing = raised.value.existing
    assert existing is not None
    assert (existing.id, existing.status, existing.requested_at) == (
        "team:g1",
        Status.IN_PROGRESS,
        None,
    )


def test_conflict_whose_group_is_not_readable_yet_has_no_existing(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(400, "Request_BadRequest", NICK_TAKEN),
        answer(200, {"value": []}),
    )
    with pytest.raises(AlreadyExists) as raised:
        graph.submit(spec(Workload.TEAM))
    assert raised.value.existing is None and raised.value.existing_id == ""


def test_other_refusals_are_invalid_on_neutral_fields(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(
            400,
            "Request_BadRequest",
            "Invalid",
            [{"target": "displayName", "code": "x", "message": "Too long"}],
        ),
    )
    with pytest.raises(Invalid) as raised:
        graph.submit(spec())
    assert raised.value.field_errors == {FIELD_DISPLAY_NAME: ["Too long"]}


def test_403_names_the_permission_and_where_to_consent(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        ),
    )
    with pytest.raises(PermissionMissing) as raised:
        graph.submit(spec())
    assert raised.value.permission == "Group.ReadWrite.All"
    guidance = raised.value.guidance
    assert "App registrations > the portal's app > API permissions" in guidance
    assert "Application permissions" in guidance and "Grant admin consent for" in guidance


def test_401_twice_is_authentication_failed(
    graph: GraphProvider, scripted: ScriptedSession, tokens: RecordingTokens
) -> None:
    unauthorized = error(401, "InvalidAuthenticationToken", "Access token is empty.")
    script(scripted, unauthorized, error(401, "InvalidAuthenticationToken", "Still no."))
    with pytest.raises(AuthenticationFailed):
        graph.get_person(ADELE)
    assert tokens.rejections == ["token-one"]


def test_429_is_honoured_by_retry_after(
    graph: GraphProvider, scripted: ScriptedSession, waits: list[float]
) -> None:
    throttled = answer(429, {"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "7"})
    script(scripted, throttled, user(ADELE, "u1"))
    assert graph.get_person(ADELE) is not None
    assert waits and waits[0] >= 7


# --- submit: teams --------------------------------------------------------------------------------


def test_team_is_a_group_then_post_teams(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(201, group()),
        answer(202, headers={"Location": "/teams('g1')/operations('op1')"}),
    )
    found = graph.submit(spec(Workload.TEAM))
    assert (found.id, found.status, found.workspace_id) == ("team:g1:op1", Status.IN_PROGRESS, "g1")
    body = scripted.sent[-1].kwargs["json"]
    assert body["group@odata.bind"] == f"{ROOT}/groups('g1')"
    assert body["template@odata.bind"].endswith("teamsTemplates('standard')")


def test_team_replication_404_is_retried_10_s_apart(
    graph: GraphProvider, scripted: ScriptedSession, waits: list[float]
) -> None:
    missing = error(404, "NotFound", "Group not found")
    script(
        scripted,
        user(ADELE, "u1"),
        answer(201, group()),
        missing,
        error(404, "NotFound", "Group not found"),
        answer(
            202,
            headers={"Location": "https://graph.microsoft.com/v1.0/teams('g1')/operations('op2')"},
        ),
    )
    found = graph.submit(spec(Workload.TEAM))
    assert found.id == "team:g1:op2"
    assert waits == [10.0, 10.0]


def test_team_404_after_every_retry_leaves_the_group_to_teamify(
    graph: GraphProvider, scripted: ScriptedSession, waits: list[float]
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(201, group()),
        *(error(404, "NotFound", "Group not found") for _ in range(4)),
    )
    found = graph.submit(spec(Workload.TEAM))
    assert (found.id, found.status) == ("team:g1", Status.IN_PROGRESS)
    assert waits == [10.0, 10.0, 10.0]


def test_team_post_without_answer_after_the_group_exists_is_in_progress(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(201, group()),
        *(requests.ReadTimeout("slow") for _ in range(4)),
    )
    found = graph.submit(spec(Workload.TEAM))
    assert (found.id, found.status, found.workspace_id) == ("team:g1", Status.IN_PROGRESS, "g1")


def test_get_request_teamifies_a_group_without_team(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        error(404, "NotFound", "No team"),
        answer(202, headers={"Location": "/teams('g1')/operations('op3')"}),
    )
    found = graph.get_request("team:g1")
    assert (found.id, found.status, found.workspace_id) == ("team:g1", Status.IN_PROGRESS, "g1")
    assert [path(s) for s in scripted.sent] == ["GET /v1.0/teams/g1", "POST /v1.0/teams"]


def test_get_request_of_a_team_being_made_is_in_progress_on_409(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, error(404, "NotFound", "No team"), error(409, "Conflict", "Being made"))
    assert graph.get_request("team:g1").status is Status.IN_PROGRESS


def test_get_request_of_a_made_team_is_completed(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, answer(200, {"id": "g1", "webUrl": "https://teams.microsoft.com/l/team/x"}))
    found = graph.get_request("team:g1")
    assert found.status is Status.COMPLETED
    assert found.workspace_url == "https://teams.microsoft.com/l/team/x"


@pytest.mark.parametrize("word", ["succeeded", "Succeeded"])
def test_team_operation_succeeded(
    graph: GraphProvider, scripted: ScriptedSession, word: str
) -> None:
    script(
        scripted,
        answer(200, {"id": "op1", "status": word, "extra": True}),
        answer(200, {"id": "g1", "webUrl": "https://teams/x"}),
    )
    found = graph.get_request("team:g1:op1")
    assert (found.id, found.status, found.workspace_url) == (
        "team:g1:op1",
        Status.COMPLETED,
        "https://teams/x",
    )
    assert path(scripted.sent[0]) == "GET /v1.0/teams/g1/operations/op1"


@pytest.mark.parametrize("word", ["failed", "Failed"])
def test_team_operation_failed(graph: GraphProvider, scripted: ScriptedSession, word: str) -> None:
    script(scripted, answer(200, {"status": word, "error": {"code": "x", "message": "No owner"}}))
    found = graph.get_request("team:g1:op1")
    assert (found.status, found.error) == (Status.FAILED, "No owner")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("inProgress", Status.IN_PROGRESS),
        ("NotStarted", Status.IN_PROGRESS),
        ("somethingNew", Status.UNKNOWN),
    ],
)
def test_team_operation_other_words(
    graph: GraphProvider, scripted: ScriptedSession, word: str, status: Status
) -> None:
    script(scripted, answer(200, {"status": word}))
    found = graph.get_request("team:g1:op1")
    assert (found.status, found.status_text) == (status, word)


def test_group_request_is_completed_and_unknown_ids_not_found(graph: GraphProvider) -> None:
    found = graph.get_request("group:g1")
    assert (found.status, found.workspace_id) == (Status.COMPLETED, "g1")
    for odd in ("nonsense", "folder:1", "team:"):
        with pytest.raises(NotFound):
            graph.get_request(odd)


# --- submit: sites ------------------------------------------------------------------------------


def test_site_asks_beta_with_the_tenant_host(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(200, {"id": "root", "webUrl": "https://contoso.sharepoint.com"}),
        answer(
            202,
            headers={
                "Location": "https://graph.microsoft.com/beta/sites/getOperationStatus(operationId='s1')"
            },
        ),
    )
    found = graph.submit(spec(Workload.SITE, desired_url="falcon"))
    assert (found.id, found.status) == ("site:s1", Status.IN_PROGRESS)
    post = scripted.sent[-1]
    assert post.url == f"{BETA}/sites"
    assert post.kwargs["json"]["webUrl"] == "https://contoso.sharepoint.com/sites/falcon"
    assert post.kwargs["json"]["ownerIdentityToResolve"] == {"email": ADELE}


@pytest.mark.parametrize(
    "refusal",
    [
        error(404, "itemNotFound", "Not found"),
        error(400, "BadRequest", "Resource not found for the segment 'sites'."),
        error(400, "BadRequest", "This API is not supported in this environment."),
    ],
)
def test_site_api_unavailable_is_not_supported(
    graph: GraphProvider, scripted: ScriptedSession, refusal: requests.Response
) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(200, {"webUrl": "https://contoso.sharepoint.com"}),
        refusal,
    )
    with pytest.raises(NotSupported) as raised:
        graph.submit(spec(Workload.SITE))
    assert "not available" in raised.value.message


def test_site_url_taken_is_already_exists(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        user(ADELE, "u1"),
        answer(200, {"webUrl": "https://contoso.sharepoint.com"}),
        error(409, "nameAlreadyExists", "The site already exists"),
        answer(
            200,
            {
                "id": "contoso.sharepoint.com,a,b",
                "webUrl": "https://contoso.sharepoint.com/sites/falcon",
                "displayName": "Falcon",
                "createdDateTime": "2025-03-01T10:00:00Z",
            },
        ),
    )
    with pytest.raises(AlreadyExists) as raised:
        graph.submit(spec(Workload.SITE, desired_url="falcon"))
    existing = raised.value.existing
    assert raised.value.field == FIELD_DESIRED_URL
    assert existing is not None and existing.id == "siteurl:falcon"
    assert existing.status is Status.COMPLETED and existing.requested_at is not None
    assert path(scripted.sent[-1]) == "GET /v1.0/sites/contoso.sharepoint.com:/sites/falcon"


@pytest.mark.parametrize(
    ("word", "status"), [("succeeded", Status.COMPLETED), ("Running", Status.IN_PROGRESS)]
)
def test_site_status(
    graph: GraphProvider, scripted: ScriptedSession, word: str, status: Status
) -> None:
    outcomes = [answer(200, {"status": word, "resourceId": "site-1"})]
    if status is Status.COMPLETED:
        outcomes.append(answer(200, {"webUrl": "https://contoso.sharepoint.com/sites/falcon"}))
    script(scripted, *outcomes)
    found = graph.get_request("site:s1")
    assert found.status is status
    assert scripted.sent[0].url == f"{BETA}/sites/getOperationStatus(operationId='s1')"
    if status is Status.COMPLETED:
        assert found.workspace_id == "site-1"
        assert found.workspace_url == "https://contoso.sharepoint.com/sites/falcon"


def test_site_status_failed(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, answer(200, {"status": "failed", "error": {"message": "Owner unknown"}}))
    found = graph.get_request("site:s1")
    assert (found.status, found.error) == (Status.FAILED, "Owner unknown")


# --- submit: communities ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Operation-Location", "Location"])
def test_community_reads_operation_location_or_location(
    graph: GraphProvider, scripted: ScriptedSession, header: str
) -> None:
    location = f"{ROOT}/employeeExperience/engagementAsyncOperations('c1')"
    script(scripted, user(ADELE, "u1"), answer(202, headers={header: location}))
    found = graph.submit(spec(Workload.COMMUNITY, is_private=False))
    assert (found.id, found.status) == ("community:c1", Status.IN_PROGRESS)
    body = scripted.sent[-1].kwargs["json"]
    assert body["privacy"] == "public" and body["owners@odata.bind"] == [f"{ROOT}/users/u1"]


@pytest.mark.parametrize(
    ("data", "status", "error_text"),
    [
        ({"status": "succeeded", "resourceId": "cm1"}, Status.COMPLETED, ""),
        ({"Status": "Failed", "statusDetail": "Not native mode"}, Status.FAILED, "Not native mode"),
        ({"status": "notStarted"}, Status.IN_PROGRESS, ""),
    ],
)
def test_community_status(
    graph: GraphProvider,
    scripted: ScriptedSession,
    data: dict[str, Any],
    status: Status,
    error_text: str,
) -> None:
    script(scripted, answer(200, data))
    found = graph.get_request("community:c1")
    assert (found.status, found.error) == (status, error_text)
    assert path(scripted.sent[0]) == "GET /v1.0/employeeExperience/engagementAsyncOperations/c1"
    if status is Status.COMPLETED:
        assert found.workspace_id == "cm1"


# --- Exactly once: finding what a lost answer made ------------------------------------------------


def test_find_requests_returns_teams_by_alias(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        answer(
            200,
            {"value": [group("g1", resourceProvisioningOptions=["Team"]), group("g2")]},
        ),
    )
    found = graph.find_requests(display_name="Falcon", desired_url="falcon")
    assert [(f.id, f.status) for f in found] == [("team:g1", Status.COMPLETED)]
    assert found[0].requested_at is not None and found[0].display_name == "Falcon"
    params = query(scripted.sent[0])
    assert params["$filter"] == ["mailNickname eq 'falcon'"]
    assert "resourceProvisioningOptions" in params["$select"][0]


def test_find_requests_by_name_escapes_quotes(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, answer(200, {"value": []}))
    assert graph.find_requests(display_name="O'Brien's") == []
    assert query(scripted.sent[0])["$filter"] == ["displayName eq 'O''Brien''s'"]


def test_find_workspace_group_and_team(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, answer(200, {"value": [group()]}))
    found = graph.find_workspace(workload=Workload.GROUP, name="Falcon", url_slug="falcon")
    assert found is not None and (found.id, found.email) == ("g1", "falcon@contoso.com")
    assert found.created_at is not None
    script(scripted, answer(200, {"value": [group()]}), error(404, "NotFound", "No team"))
    assert graph.find_workspace(workload=Workload.TEAM, name="Falcon") is None
    script(scripted, answer(200, {"value": [group()]}), answer(200, {"webUrl": "https://teams/x"}))
    team = graph.find_workspace(workload=Workload.TEAM, name="Falcon")
    assert team is not None and team.url == "https://teams/x"


def test_find_workspace_site_by_url(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        answer(200, {"webUrl": "https://contoso.sharepoint.com"}),
        error(404, "itemNotFound", "Not found"),
    )
    assert graph.find_workspace(workload=Workload.SITE, name="Falcon", url_slug="falcon") is None
    assert path(scripted.sent[-1]) == "GET /v1.0/sites/contoso.sharepoint.com:/sites/falcon"


def test_find_workspace_community_falls_back_to_groups(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        answer(200, {"value": [{"id": "cm1", "displayName": "Falcon"}]}),
    )
    found = graph.find_workspace(workload=Workload.COMMUNITY, name="Falcon")
    assert found is not None and found.id == "cm1"
    script(
        scripted,
        error(400, "BadRequest", "Unsupported filter"),
        answer(200, {"value": [group()]}),
    )
    found = graph.find_workspace(workload=Workload.COMMUNITY, name="Falcon")
    assert found is not None and found.id == "g1"


def test_find_workspaces_searches_then_filters_with_more(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        answer(
            200,
            {
                "value": [
                    group("g1", displayName="Falcon Ops"),
                    group("g2", displayName="Hawk"),
                    group("g3", displayName="Project Falcon"),
                ]
            },
        ),
    )
    found = graph.find_workspaces(workload=Workload.GROUP, containing="falcon", limit=1)
    assert [w.id for w in found.items] == ["g1"] and found.has_more
    sent = scripted.sent[0]
    assert query(sent)["$search"] == ['"displayName:falcon"']
    assert sent.kwargs["headers"]["ConsistencyLevel"] == "eventual"

"""GraphProvider's reads, offline: groups and sites paged by next link, people, the naming
policy check, provisioning jobs and their credentials, and the connection check."""

from __future__ import annotations

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
    Connection,
    Invalid,
    JobState,
    NotFound,
    NotSupported,
    PermissionMissing,
    ReportKind,
    UpstreamError,
    Workload,
    WorkspaceSpec,
)
from upstreams.graph import transport
from upstreams.graph.provider import GraphProvider

ROOT = GRAPH_ROOT
SECRET = "s3cr3t-value-never-shown"


def error(status: int, code: str, message: str, **extra: Any) -> requests.Response:
    return answer(status, {"error": {"code": code, "message": message, **extra}})


def query(sent: Sent) -> dict[str, list[str]]:
    found = parse_qs(urlsplit(sent.url).query)
    for key, value in (sent.kwargs.get("params") or {}).items():
        found.setdefault(key, []).append(str(value))
    return found


def groups(*ids: str, link: str = "", count: int | None = None) -> requests.Response:
    body: dict[str, Any] = {
        "value": [{"id": i, "displayName": f"Group {i}", "groupTypes": ["Unified"]} for i in ids]
    }
    if link:
        body["@odata.nextLink"] = link
    if count is not None:
        body["@odata.count"] = count
    return answer(200, body)


# --- Groups ------------------------------------------------------------------------------------


def test_groups_page_skips_by_following_next_links(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        groups("a", "b", link=f"{ROOT}/groups?$skiptoken=1"),
        groups("c", "d", link=f"{ROOT}/groups?$skiptoken=2"),
        groups("e", link=f"{ROOT}/groups?$skiptoken=3"),
    )
    page = graph.groups_page(top=2, skip=3)
    assert [g.id for g in page.items] == ["d", "e"]
    assert page.has_more and page.total is None
    assert "$skip" not in query(scripted.sent[0])
    assert scripted.sent[1].url == f"{ROOT}/groups?$skiptoken=1"  # verbatim
    assert scripted.sent[1].kwargs["params"] is None


def test_groups_page_to_the_end_knows_the_total(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, groups("a", "b", link=f"{ROOT}/groups?$skiptoken=1"), groups("c"))
    page = graph.groups_page(top=10)
    assert [g.id for g in page.items] == ["a", "b", "c"]
    assert (page.total, page.has_more) == (3, False)


def test_groups_page_search_and_type(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, groups("a", count=42))
    page = graph.groups_page(top=1, group_type="UnifiedGroup", search="fal")
    assert page.total == 42
    params = query(scripted.sent[0])
    assert params["$search"] == ['"displayName:fal"'] and params["$count"] == ["true"]
    assert params["$filter"] == ["groupTypes/any(c:c eq 'Unified')"]
    assert scripted.sent[0].kwargs["headers"]["ConsistencyLevel"] == "eventual"


def test_groups_page_other_types_are_filtered_here(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        answer(
            200,
            {
                "value": [
                    {"id": "u", "groupTypes": ["Unified"]},
                    {"id": "s", "securityEnabled": True, "mailEnabled": False},
                ]
            },
        ),
    )
    page = graph.groups_page(top=5, group_type="SecurityGroup")
    assert [g.id for g in page.items] == ["s"] and page.total == 1


def test_paging_link_to_another_host_is_refused(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, groups("a", link="https://evil.example/groups?$skiptoken=1"))
    with pytest.raises(UpstreamError, match="another host"):
        graph.groups_page(top=5)
    assert len(scripted.sent) == 1


def test_get_group_by_name_with_counts(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        answer(200, {"value": [{"id": "g1", "displayName": "Falcon", "visibility": "Public"}]}),
        answer(200, raw=b"12", headers={"Content-Type": "text/plain"}),
        error(400, "Request_BadRequest", "ConsistencyLevel missing"),
    )
    found = graph.get_group("Falcon")
    assert (found.id, found.privacy, found.members_count, found.owners_count) == (
        "g1",
        "Public",
        12,
        None,
    )
    assert scripted.sent[1].url.endswith("/groups/g1/members/$count")
    assert scripted.sent[1].kwargs["headers"]["ConsistencyLevel"] == "eventual"


def test_get_group_by_id_and_missing(graph: GraphProvider, scripted: ScriptedSession) -> None:
    gid = "0b3c6e1a-1111-2222-3333-444455556666"
    script(
        scripted,
        answer(200, {"id": gid, "displayName": "Falcon", "resourceProvisioningOptions": ["Team"]}),
        answer(200, 3),
        answer(200, 1),
    )
    found = graph.get_group(gid)
    assert found.is_team and (found.members_count, found.owners_count) == (3, 1)
    script(scripted, answer(200, {"value": []}))
    with pytest.raises(NotFound):
        graph.get_group("Nobody")


def test_sites_page_and_find_sites(graph: GraphProvider, scripted: ScriptedSession) -> None:
    site = {"id": "h,1,2", "webUrl": "https://c.sharepoint.com/sites/x", "displayName": "X"}
    script(scripted, answer(200, {"value": [site, {**site, "id": "h,3,4"}]}))
    page = graph.sites_page(top=1)
    assert [s.id for s in page.items] == ["h,1,2"] and page.has_more
    assert query(scripted.sent[0])["search"] == ["*"]
    script(scripted, answer(200, {"value": [site]}))
    assert [s.title for s in graph.find_sites("x")] == ["X"]
    assert query(scripted.sent[-1])["search"] == ["x"]


def test_templates_webhooks_and_reports_other_than_memberships_are_not_supported(
    graph: GraphProvider,
) -> None:
    with pytest.raises(NotSupported):
        graph.list_templates()
    with pytest.raises(NotSupported):
        graph.webhook_signing_key()
    with pytest.raises(NotSupported):
        graph.start_report(ReportKind.SITE_PERMISSIONS, "https://contoso.sharepoint.com/sites/x")
    with pytest.raises(NotFound):
        graph.get_report("x")


def test_a_groups_membership_list_is_read_at_once_owners_first(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    job = graph.start_report(ReportKind.GROUP_MEMBERSHIPS, "g1")
    assert job.state == JobState.SUCCEEDED and graph.get_report(job.id).state == JobState.SUCCEEDED
    script(
        scripted,
        answer(
            200, {"value": [{"id": "u1", "displayName": "Adele", "userPrincipalName": "A@x.com"}]}
        ),
        answer(
            200,
            {
                "value": [
                    {
                        "id": "u2",
                        "displayName": "Guest",
                        "userPrincipalName": "g_y#EXT#@x.com",
                        "userType": "Guest",
                    },
                    {"@odata.type": "#microsoft.graph.group", "id": "g2", "displayName": "Nested"},
                ]
            },
        ),
    )
    rows = list(graph.report_rows(ReportKind.GROUP_MEMBERSHIPS, job.id))
    assert [(r.name, r.upn, r.kind, r.role) for r in rows] == [
        ("Adele", "a@x.com", "user", "owner"),
        ("Guest", "g_y#ext#@x.com", "guest", "member"),
        ("Nested", "", "group", "member"),
    ]
    assert [s.url.split("/v1.0")[1].split("?")[0] for s in scripted.sent] == [
        "/groups/g1/owners",
        "/groups/g1/members",
    ]


# --- People --------------------------------------------------------------------------------------


def test_search_people_filters_and_maps(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        answer(
            200,
            {
                "value": [
                    {
                        "id": "u1",
                        "displayName": "Adele",
                        "userPrincipalName": "adele@x",
                        "accountEnabled": False,
                        "userType": "Member",
                        "assignedLicenses": [],
                    },
                    {
                        "id": "u2",
                        "displayName": "Guest",
                        "userPrincipalName": "g@x",
                        "userType": "Guest",
                    },
                ]
            },
        ),
    )
    people = graph.search_people("O'a", limit=5)
    assert [(p.upn, p.enabled, p.licensed, p.guest) for p in people] == [
        ("adele@x", False, False, False),
        ("g@x", None, None, True),
    ]
    params = query(scripted.sent[0])
    assert params["$filter"] == [
        "startswith(displayName,'O''a') or startswith(userPrincipalName,'O''a') or "
        "startswith(mail,'O''a')"
    ]
    assert params["$top"] == ["5"] and "assignedLicenses" in params["$select"][0]


def test_search_people_without_mail_filter_where_refused(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted, error(400, "Request_UnsupportedQuery", "Unsupported"), answer(200, {"value": []})
    )
    assert graph.search_people("a") == []
    assert "mail" not in query(scripted.sent[1])["$filter"][0].replace("userPrincipalName", "")


def test_get_person_and_missing_and_forbidden(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, answer(200, {"id": "u1", "userPrincipalName": "a#EXT#@x"}))
    found = graph.get_person("a#EXT#@x")
    assert found is not None and found.id == "u1"
    assert urlsplit(scripted.sent[0].url).path == "/v1.0/users/a%23EXT%23@x"
    script(scripted, error(404, "Request_ResourceNotFound", "nope"))
    assert graph.get_person("nobody@x") is None
    script(scripted, error(403, "Authorization_RequestDenied", "Insufficient privileges"))
    with pytest.raises(PermissionMissing) as raised:
        graph.get_person("a@x")
    assert raised.value.permission == "User.Read.All"


# --- The naming policy ---------------------------------------------------------------------------


def _spec(**changes: Any) -> WorkspaceSpec:
    values: dict[str, Any] = {
        "template_id": "t",
        "workload": Workload.GROUP,
        "display_name": "Falcon",
    }
    values.update(changes)
    return WorkspaceSpec(**values)


def test_check_name_204_is_fine(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, answer(204))
    assert graph.check_name(_spec(desired_url="falcon")).ok
    assert scripted.sent[0].kwargs["json"] == {
        "entityType": "Group",
        "displayName": "Falcon",
        "mailNickname": "falcon",
    }


def test_check_name_422_problems_by_field(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(
        scripted,
        error(
            422,
            "Request_UnprocessableEntity",
            "Invalid",
            details=[
                {"target": "displayName", "code": "MissingPrefixSuffix", "message": "Needs GRP-"},
                {"target": "mailNickname", "code": "PropertyConflict", "message": "Taken"},
            ],
        ),
    )
    found = graph.check_name(_spec())
    assert found.problems == {FIELD_DISPLAY_NAME: ["Needs GRP-"], FIELD_DESIRED_URL: ["Taken"]}


def test_check_name_422_without_details(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, error(422, "request_UnprocessableEntity", "The name has a blocked word"))
    assert graph.check_name(_spec()).problems == {
        FIELD_DISPLAY_NAME: ["The name has a blocked word"]
    }


def test_check_name_403_and_sites(graph: GraphProvider, scripted: ScriptedSession) -> None:
    script(scripted, error(403, "Authorization_RequestDenied", "Insufficient privileges"))
    with pytest.raises(PermissionMissing) as raised:
        graph.check_name(_spec())
    assert raised.value.permission == "Group.Read.All"
    with pytest.raises(NotSupported):
        graph.check_name(_spec(workload=Workload.SITE))


# --- Provisioning jobs -------------------------------------------------------------------------


def test_sync_jobs_reads_each_enterprise_app(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(
        scripted,
        answer(
            200,
            {"value": [{"id": "sp1", "displayName": "Slack"}, {"id": "sp2", "displayName": "Box"}]},
        ),
        answer(200, {"value": [{"id": "j1", "status": {"code": "Active"}}]}),
        error(404, "Request_ResourceNotFound", "No synchronization"),
    )
    jobs = graph.sync_jobs("sla")
    assert [(j.service_principal_id, j.app_name, j.job_id, j.status) for j in jobs] == [
        ("sp1", "Slack", "j1", "Active")
    ]
    assert query(scripted.sent[0])["$search"] == ['"displayName:sla"']
    assert scripted.sent[0].kwargs["headers"]["ConsistencyLevel"] == "eventual"
    assert scripted.sent[1].url.endswith("/servicePrincipals/sp1/synchronization/jobs")


def test_acquire_sync_token_sends_the_pairs(
    graph: GraphProvider, scripted: ScriptedSession
) -> None:
    script(scripted, answer(204))
    graph.acquire_sync_token("sp1", {"BaseAddress": "https://x", "SecretToken": SECRET})
    assert scripted.sent[0].url.endswith(
        "/servicePrincipals/sp1/synchronization/acquireAccessToken"
    )
    assert scripted.sent[0].kwargs["json"] == {
        "credentials": [
            {"key": "BaseAddress", "value": "https://x"},
            {"key": "SecretToken", "value": SECRET},
        ]
    }


@pytest.mark.parametrize(
    ("refusal", "kind"),
    [
        (error(400, "InvalidCredentials", f"The target rejected token {SECRET}"), Invalid),
        (error(404, "Request_ResourceNotFound", f"Nothing for {SECRET}"), NotFound),
        (error(403, "Authorization_RequestDenied", f"Denied {SECRET}"), PermissionMissing),
        (error(418, "Teapot", f"I saw {SECRET}"), UpstreamError),
    ],
)
def test_acquire_sync_token_errors_never_hold_a_value(
    graph: GraphProvider,
    scripted: ScriptedSession,
    refusal: requests.Response,
    kind: type[Exception],
) -> None:
    script(scripted, refusal)
    with pytest.raises(kind) as raised:
        graph.acquire_sync_token("sp1", {"SecretToken": SECRET})
    found = raised.value
    texts = [str(found), repr(found), getattr(found, "text", ""), str(found.__cause__ or "")]
    if isinstance(found, Invalid):
        assert "" in found.field_errors
        texts.append(repr(found.field_errors))
    if isinstance(found, PermissionMissing):
        assert found.permission == "Synchronization.ReadWrite.All"
    if isinstance(found, NotFound):
        assert "No enterprise application with id sp1" in found.message
    assert not any(SECRET in t for t in texts)


# --- The connection check ------------------------------------------------------------------------


def test_permissions_and_probes(graph: GraphProvider, scripted: ScriptedSession) -> None:
    names = [p.name for p in graph.permissions()]
    assert names[:2] == ["Group.ReadWrite.All", "User.Read.All"]
    assert "Group.Read.All" not in names
    assert {"Sites.Read.All", "Sites.Create.All", "Community.ReadWrite.All"} <= set(names)
    assert {"Synchronization.ReadWrite.All", "Application.Read.All"} <= set(names)
    script(scripted, answer(200, {"value": []}))
    assert graph.probe("Group.ReadWrite.All") == "GET /v1.0/groups?$top=1&$select=id"
    script(scripted, error(403, "Authorization_RequestDenied", "Insufficient privileges"))
    with pytest.raises(PermissionMissing):
        graph.probe("User.Read.All")
    with pytest.raises(NotSupported, match="roles decide"):
        graph.probe("Sites.Create.All")
    with pytest.raises(ValueError):
        graph.probe("Mail.Send")


def test_beta_root_is_derived_from_the_v1_root(tokens: RecordingTokens) -> None:
    emulated = Connection(base_url="http://127.0.0.1:8/graph/v1.0/", tokens=tokens)
    assert transport.beta_url(emulated, "/sites") == "http://127.0.0.1:8/graph/beta/sites"

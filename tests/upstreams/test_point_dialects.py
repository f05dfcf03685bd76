"""Each dialect of docs/point-dialects.md, its bodies written out literally, read by the Point
provider through a scripted session (offline: the emulator's dialect switch is not needed).

The same questions are asked of every dialect (a template, a request sent and followed, a
group, a site, a report) and must get the same neutral answers: a test here failing for one
dialect means the client took a guess for a fact (docs/point-contract.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.upstreams.conftest import BASE, ScriptedSession, answer
from upstreams.contract import (
    FIELD_DISPLAY_NAME,
    FIELD_OWNERS,
    AlreadyExists,
    Approval,
    Connection,
    Invalid,
    JobState,
    NotFound,
    NotSupported,
    ReportKind,
    Status,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.point.provider import PointProvider

SPEC = WorkspaceSpec(
    template_id="3",
    workload=Workload.TEAM,
    display_name="Falcon",
    owners=("adele@contoso.com",),
    metadata={"Cost Center": "CC-1"},
)
RID = "3f2c0d1e-5b6a-4c1d-9e8f-0a1b2c3d4e5f"
LOCATION = f"/point/contoso/v1.0/provision/requests/{RID}"
SITE_URL = "https://contoso.sharepoint.com/sites/finance"
RESOURCE_MISSING = "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException"
DUPLICATE = "SysKit.Point.Application.SeedWork.Exceptions.DuplicateResourceException"


def _provider(offline: Connection) -> PointProvider:
    return PointProvider(offline)


# --- documented-minimal: only what seed 000 shows -------------------------------------------------

MINIMAL_TEMPLATES = [
    {
        "id": 3,
        "name": "Public team",
        "description": "Anyone can join.",
        "workspaceType": "MicrosoftTeams",
    }
]
MINIMAL_GROUPS = [
    {
        "id": "g1",
        "name": "Finance Team",
        "email": "finance@contoso.com",
        "groupType": "UnifiedGroup",
    },
    {"id": "g2", "name": "HR", "email": "hr@contoso.com", "groupType": "SecurityGroup"},
    {"id": "g3", "name": "Falcon", "email": "falcon@contoso.com", "groupType": "UnifiedGroup"},
]
MINIMAL_SITES = [
    {"id": "s1", "url": SITE_URL, "title": "Finance"},
    {"id": "s2", "url": "https://contoso.sharepoint.com/sites/hr", "title": "HR"},
    {"id": "s3", "url": "https://contoso.sharepoint.com/sites/falcon", "title": "Falcon"},
]


def test_minimal_templates_carry_only_four_fields(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, MINIMAL_TEMPLATES)]
    [item] = _provider(offline).list_templates()
    assert (item.id, item.name, item.workload, item.approval) == (
        "3",
        "Public team",
        Workload.TEAM,
        Approval.UNKNOWN,
    )
    assert item.rules.url is None and item.rules.owners_min == 0


def test_minimal_post_is_201_with_location_and_only_an_id(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(201, {"id": RID}, headers={"Location": LOCATION})]
    created = _provider(offline).submit(SPEC)
    assert (created.id, created.status, created.status_text) == (RID, Status.UNKNOWN, "")


@pytest.mark.parametrize(
    ("body", "status", "url", "error"),
    [
        ({"id": RID, "status": "Pending"}, Status.PENDING_APPROVAL, "", ""),
        (
            {"id": RID, "status": "Completed", "result": {"url": SITE_URL}},
            Status.COMPLETED,
            SITE_URL,
            "",
        ),
        (
            {"id": RID, "status": "Failed", "error": "Exceeded changed links limit(20)"},
            Status.FAILED,
            "",
            "Exceeded changed links limit(20)",
        ),
    ],
)
def test_minimal_request_status(
    offline: Connection,
    http: ScriptedSession,
    body: dict[str, Any],
    status: Status,
    url: str,
    error: str,
) -> None:
    http.script = [answer(200, body)]
    found = _provider(offline).get_request(RID)
    assert (found.id, found.status, found.workspace_url, found.error) == (RID, status, url, error)
    assert (found.progress, found.requested_at, found.stages) == (None, None, ())


def test_minimal_has_no_request_lookup_which_is_not_supported(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            404,
            {
                "message": "An error has occurred.",
                "exceptionMessage": "No HTTP resource was found that matches the request URI "
                "'/point/contoso/v1.0/provision/requests'.",
                "exceptionType": RESOURCE_MISSING,
            },
        )
    ]
    with pytest.raises(NotSupported, match="not support") as caught:
        _provider(offline).find_requests(display_name="Falcon")
    assert not isinstance(caught.value, NotFound)


@pytest.mark.parametrize(
    ("message", "existing_id"),
    [
        ("A workspace named 'Falcon' already exists.", ""),
        (f"A workspace named 'Falcon' is already requested (request {RID}).", RID),
    ],
)
def test_minimal_refuses_a_duplicate_with_409(
    offline: Connection, http: ScriptedSession, message: str, existing_id: str
) -> None:
    http.script = [
        answer(
            409,
            {
                "message": "An error has occurred.",
                "exceptionMessage": message,
                "exceptionType": DUPLICATE,
            },
        )
    ]
    with pytest.raises(AlreadyExists) as caught:
        _provider(offline).submit(SPEC)
    assert (caught.value.existing_id, caught.value.message, caught.value.status) == (
        existing_id,
        message,
        409,
    )


def test_minimal_lists_are_bare_arrays_paged_and_searched_here(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, MINIMAL_GROUPS), answer(200, MINIMAL_GROUPS)]
    provider = _provider(offline)
    page = provider.groups_page(top=2, skip=0)
    assert ([g.name for g in page.items], page.total, page.has_more) == (
        ["Finance Team", "HR"],
        3,
        True,
    )
    found = provider.groups_page(top=2, search="fin")
    assert ([g.name for g in found.items], found.total, found.has_more) == (
        ["Finance Team"],
        1,
        False,
    )
    # Search ignored (everything came back): the first answer showed it, the second read was
    # everything, without search.
    http.script = [answer(200, MINIMAL_GROUPS)]
    again = provider.groups_page(top=2, search="hr")
    assert [g.name for g in again.items] == ["HR"]
    assert "search" not in http.sent[-1].kwargs["params"]


def test_minimal_groups_and_sites_carry_only_a_few_fields(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, MINIMAL_GROUPS[0]), answer(200, MINIMAL_SITES)]
    provider = _provider(offline)
    group = provider.get_group("Finance Team")
    assert (group.id, group.email, group.group_type, group.members_count, group.is_team) == (
        "g1",
        "finance@contoso.com",
        "UnifiedGroup",
        None,
        False,
    )
    site = provider.sites_page(top=1).items[0]
    assert (site.id, site.url, site.title, site.site_type, site.primary_admin) == (
        "s1",
        SITE_URL,
        "Finance",
        "",
        "",
    )


def test_minimal_find_workspace_reads_documented_endpoints(
    offline: Connection, http: ScriptedSession
) -> None:
    provider = _provider(offline)
    http.script = [answer(200, MINIMAL_GROUPS[2])]
    team = provider.find_workspace(workload=Workload.TEAM, name="FALCON")
    assert team is not None and (team.id, team.name, team.email) == (
        "g3",
        "Falcon",
        "falcon@contoso.com",
    )
    assert http.sent[-1].url == f"{BASE}/v1.0/groups/FALCON"
    http.script = [answer(200, MINIMAL_SITES)]
    site = provider.find_workspace(workload=Workload.SITE, name="Falcon", url_slug="falcon")
    assert site is not None and (site.id, site.url) == (
        "s3",
        "https://contoso.sharepoint.com/sites/falcon",
    )


def test_minimal_report_job_has_no_progress_and_302_when_done(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(202, {"id": "j1"}, headers={"Location": "/v1.0/requests/j1/status"}),
        answer(200, {"id": "j1", "status": "InProgress"}),
        answer(302, {"id": "j1", "status": "Succeeded"}, headers={"Location": "/x"}),
        answer(
            200,
            [
                {
                    "workspaceName": "Finance",
                    "url": SITE_URL,
                    "workspaceType": "Site",
                    "permission": "Edit",
                    "accessVia": "Direct",
                }
            ],
        ),
    ]
    provider = _provider(offline)
    job = provider.start_report(ReportKind.USER_ACCESS, "adele@contoso.com")
    assert (job.id, job.state, job.processed, job.total) == ("j1", JobState.RUNNING, None, None)
    assert provider.get_report("j1").state == JobState.RUNNING
    assert provider.get_report("j1").state == JobState.SUCCEEDED
    [row] = provider.report_rows(ReportKind.USER_ACCESS, "j1")
    assert (row.name, row.site_url, row.kind, row.permission) == (
        "Finance",
        SITE_URL,
        "site",
        "Edit",
    )


# --- graph-names: Graph's names and OData paging -----------------------------------------------


def _odata(items: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"value": items}
    if next_token:
        body["@odata.nextLink"] = f"{BASE}/v1.0/groups?%24top=2&%24skiptoken={next_token}"
    return body


GRAPH_GROUPS: list[dict[str, Any]] = [
    {
        "id": "g1",
        "displayName": "Finance Team",
        "mail": "finance@contoso.com",
        "groupTypes": ["Unified"],
        "mailEnabled": True,
        "securityEnabled": False,
        "visibility": "Private",
        "resourceProvisioningOptions": ["Team"],
        "createdDateTime": "2023-04-01T10:00:00Z",
    },
    {
        "id": "g2",
        "displayName": "HR Security",
        "mail": None,
        "groupTypes": [],
        "mailEnabled": False,
        "securityEnabled": True,
        "visibility": None,
        "resourceProvisioningOptions": [],
        "createdDateTime": "2023-04-02T10:00:00Z",
    },
    {
        "id": "g3",
        "displayName": "Legal",
        "mail": "legal@contoso.com",
        "groupTypes": [],
        "mailEnabled": True,
        "securityEnabled": False,
        "visibility": None,
        "resourceProvisioningOptions": [],
        "createdDateTime": "2023-04-03T10:00:00Z",
    },
]


def test_graph_templates_use_display_name_and_are_paged(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "value": [
                    {
                        "id": 3,
                        "displayName": "Public team",
                        "description": "Anyone can join.",
                        "workspaceType": "MicrosoftTeams",
                        "approvalProcess": {"isAutomatic": True},
                        "namingRule": {"prefix": "PT - ", "suffix": ""},
                    }
                ],
                "@odata.nextLink": f"{BASE}/v1.0/provision/templates?$top=1&$skiptoken=c2tpcD0x",
            },
        ),
        answer(
            200,
            {
                "value": [
                    {"id": 4, "displayName": "Site", "workspaceType": "SharePointSiteCollection"}
                ]
            },
        ),
    ]
    items = _provider(offline).list_templates()
    assert [(i.id, i.name, i.workload, i.approval) for i in items] == [
        ("3", "Public team", Workload.TEAM, Approval.AUTOMATIC),
        ("4", "Site", Workload.SITE, Approval.UNKNOWN),
    ]
    assert items[0].rules.naming.prefix == "PT - "


def test_graph_request_answer_and_status(offline: Connection, http: ScriptedSession) -> None:
    http.script = [
        answer(
            201,
            {
                "id": RID,
                "status": "Approved",
                "displayName": "Falcon",
                "createdDateTime": "2026-08-20T09:15:02Z",
                "percentComplete": 0,
            },
            headers={"Location": LOCATION},
        ),
        answer(
            200,
            {
                "id": RID,
                "status": "InProgress",
                "displayName": "Falcon",
                "createdDateTime": "2026-08-20T09:15:02Z",
                "percentComplete": 40,
            },
        ),
        answer(
            200,
            {
                "id": RID,
                "status": "Completed",
                "displayName": "Falcon",
                "webUrl": "https://contoso.sharepoint.com/sites/falcon",
                "createdDateTime": "2026-08-20T09:15:02Z",
                "percentComplete": 100,
            },
        ),
    ]
    provider = _provider(offline)
    created = provider.submit(SPEC)
    assert (created.id, created.status, created.progress) == (RID, Status.APPROVED, 0)
    assert created.requested_at is not None
    running = provider.get_request(RID)
    assert (running.status, running.progress) == (Status.IN_PROGRESS, 40)
    done = provider.get_request(RID)
    assert (done.status, done.workspace_url) == (
        Status.COMPLETED,
        "https://contoso.sharepoint.com/sites/falcon",
    )


def test_graph_groups_are_read_with_their_type_team_and_privacy(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, _odata(GRAPH_GROUPS[:2], "c2tpcD0y"))]
    page = _provider(offline).groups_page(top=2)
    assert [(g.id, g.name, g.email, g.group_type, g.is_team, g.privacy) for g in page.items] == [
        ("g1", "Finance Team", "finance@contoso.com", "UnifiedGroup", True, "Private"),
        ("g2", "HR Security", "", "SecurityGroup", False, ""),
    ]
    assert (page.total, page.has_more) == (None, True)


def test_graph_ignores_skip_so_a_later_page_is_reached_by_its_links(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, _odata(GRAPH_GROUPS[:2], "c2tpcD0y")),  # $skip=2 ignored: page one again
        answer(200, _odata(GRAPH_GROUPS[:1], "c2tpcD0x")),  # the list's first item, to compare
        answer(200, _odata(GRAPH_GROUPS[:2], "c2tpcD0y")),  # read from the start by links
        answer(200, _odata(GRAPH_GROUPS[2:])),
    ]
    provider = _provider(offline)
    page = provider.groups_page(top=2, skip=2)
    assert ([g.name for g in page.items], page.total, page.has_more) == (["Legal"], 3, False)
    # Learnt: the next later page goes straight to the links.
    http.script = [
        answer(200, _odata(GRAPH_GROUPS[:2], "c2tpcD0y")),
        answer(200, _odata(GRAPH_GROUPS[:2], "c2tpcD0y")),
        answer(200, _odata(GRAPH_GROUPS[2:])),
    ]
    assert [g.name for g in provider.groups_page(top=1, skip=1).items] == ["HR Security"]


def test_graph_sites_and_find_workspace(offline: Connection, http: ScriptedSession) -> None:
    site = {
        "id": "s1",
        "webUrl": "https://contoso.sharepoint.com/sites/falcon",
        "displayName": "Falcon",
        "name": "falcon",
        "createdDateTime": "2026-08-20T10:00:00Z",
    }
    http.script = [answer(200, {"value": [site]})]
    found = _provider(offline).find_workspace(
        workload=Workload.SITE, name="Falcon", url_slug="falcon"
    )
    assert found is not None and (found.id, found.name, found.url) == (
        "s1",
        "Falcon",
        site["webUrl"],
    )
    assert found.created_at is not None


def test_graph_group_lookup_by_display_name(offline: Connection, http: ScriptedSession) -> None:
    http.script = [answer(200, GRAPH_GROUPS[0])]
    found = _provider(offline).find_workspace(workload=Workload.GROUP, name="finance team")
    assert found is not None and (found.id, found.name, found.email) == (
        "g1",
        "Finance Team",
        "finance@contoso.com",
    )


@pytest.mark.parametrize(
    ("kind", "row", "expected"),
    [
        (
            ReportKind.GROUP_MEMBERSHIPS,
            {
                "groupId": "g1",
                "groupDisplayName": "Finance Team",
                "displayName": "Alice Smith",
                "userPrincipalName": "alice@contoso.com",
                "memberType": "User",
                "role": "Owner",
            },
            {
                "group_id": "g1",
                "group_name": "Finance Team",
                "name": "Alice Smith",
                "upn": "alice@contoso.com",
                "kind": "user",
                "kind_text": "User",
                "role": "owner",
            },
        ),
        (
            ReportKind.SITE_PERMISSIONS,
            {
                "siteWebUrl": SITE_URL,
                "principalDisplayName": "Finance Owners",
                "principalType": "SharePointGroup",
                "roles": ["Full Control"],
                "scope": "Site",
                "scopeUrl": SITE_URL,
                "grantedThrough": "SharePointGroup",
            },
            {
                "site_url": SITE_URL,
                "name": "Finance Owners",
                "kind": "group",
                "kind_text": "SharePointGroup",
                "permission": "Full Control",
                "scope": "Site",
                "scope_url": SITE_URL,
                "access_via": "SharePointGroup",
            },
        ),
        (
            ReportKind.USER_ACCESS,
            {
                "displayName": "Finance",
                "webUrl": SITE_URL,
                "workspaceType": "Site",
                "roles": ["Edit"],
                "grantedThrough": "M365GroupMember",
            },
            {
                "name": "Finance",
                "site_url": SITE_URL,
                "kind": "site",
                "kind_text": "Site",
                "permission": "Edit",
                "access_via": "M365GroupMember",
            },
        ),
    ],
)
def test_graph_report_rows_fill_every_column(
    offline: Connection,
    http: ScriptedSession,
    kind: ReportKind,
    row: dict[str, Any],
    expected: dict[str, str],
) -> None:
    http.script = [answer(200, {"value": [row]})]
    [found] = _provider(offline).report_rows(kind, "j1")
    assert found.to_json() == expected


def test_graph_job_progress_is_processed_count_of_total(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(200, {"id": "j1", "status": "InProgress", "processedCount": 120, "totalCount": 301})
    ]
    job = _provider(offline).get_report("j1")
    assert (job.state, job.processed, job.total) == (JobState.RUNNING, 120, 301)


# --- pascal-problem-details: PascalCase, numeric enums, Items pages, problem details -----------


def test_pascal_templates_with_numeric_workspace_types(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            200,
            {
                "Items": [
                    {
                        "Id": 1,
                        "Name": "Manage a project",
                        "Description": "Time-boxed project work.",
                        "WorkspaceType": 0,
                        "Privacy": "RequesterDecides",
                        "ApprovalProcess": {
                            "Id": 4,
                            "Name": "Automatically Approve",
                            "IsAutomatic": True,
                        },
                        "NamingRule": {"Prefix": "PRJ - ", "Suffix": ""},
                        "UrlSettings": {"Prefix": "prj-", "AllowEdit": True, "MaxLength": 64},
                        "Owners": {"Predefined": ["it@contoso.com"], "Min": 2, "Max": 5},
                        "CustomMetadata": [
                            {"Name": "Cost Center", "Type": "Text", "Required": True}
                        ],
                    },
                    {"Id": 6, "Name": "Community", "WorkspaceType": 3},
                ],
                "TotalCount": 2,
                "NextPageLink": None,
            },
        )
    ]
    first, second = _provider(offline).list_templates()
    assert (first.id, first.workload, first.kind_text, first.approval) == (
        "1",
        Workload.TEAM,
        "MicrosoftTeams",
        Approval.AUTOMATIC,
    )
    assert (first.rules.naming.prefix, first.rules.owners_min, first.rules.owners_max) == (
        "PRJ - ",
        2,
        5,
    )
    assert first.rules.metadata[0].name == "Cost Center" and first.rules.metadata[0].required
    assert (second.workload, second.kind_text) == (Workload.COMMUNITY, "YammerCommunity")


def test_pascal_post_is_202_with_the_id_as_a_json_string(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(202, RID, headers={"Location": LOCATION})]
    created = _provider(offline).submit(SPEC)
    assert (created.id, created.status) == (RID, Status.UNKNOWN)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, Status.PENDING_APPROVAL),
        (1, Status.APPROVED),
        (2, Status.REJECTED),
        (3, Status.IN_PROGRESS),
        (4, Status.COMPLETED),
        (5, Status.FAILED),
        (6, Status.CANCELLED),
    ],
)
def test_pascal_request_status_is_a_number(
    offline: Connection, http: ScriptedSession, code: int, status: Status
) -> None:
    http.script = [
        answer(
            200,
            {
                "Id": RID,
                "TemplateId": 3,
                "WorkspaceType": 0,
                "DisplayName": "Falcon",
                "Status": code,
                "RequestedOn": "2026-08-20T09:15:02Z",
                "Approval": {
                    "Process": "Manager approval",
                    "Stages": [{"Stage": 1, "Approvers": ["Manager"], "Status": code}],
                },
                "Result": {"Url": SITE_URL, "MicrosoftId": "m1", "Email": "f@contoso.com"}
                if code == 4
                else None,
                "Progress": 40 if code == 3 else None,
            },
        )
    ]
    found = _provider(offline).get_request(RID)
    assert (found.id, found.status, found.display_name) == (RID, status, "Falcon")
    assert found.stages[0].status == status
    assert found.progress == (40 if code == 3 else None)
    assert found.workspace_url == (SITE_URL if code == 4 else "")


def test_pascal_lists_are_items_pages_followed_by_their_links(
    offline: Connection, http: ScriptedSession
) -> None:
    group = {
        "Id": "g1",
        "Name": "Finance Team",
        "Email": "f@c.com",
        "GroupType": "UnifiedGroup",
        "IsTeam": True,
    }
    http.script = [
        answer(
            200,
            {
                "Items": [group],
                "TotalCount": 2,
                "NextPageLink": f"{BASE}/v1.0/groups?$top=1&$skip=1",
            },
        )
    ]
    page = _provider(offline).groups_page(top=1)
    assert ([g.name for g in page.items], page.total, page.has_more) == (["Finance Team"], 2, True)
    assert page.items[0].is_team


def test_pascal_validation_errors_land_on_their_fields(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [
        answer(
            400,
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "detail": "See the errors property for details.",
                "instance": "/point/contoso/v1.0/provision/teams",
                "traceId": "00-abc-def-01",
                "errors": {
                    "$.DisplayName": ["The DisplayName field is required."],
                    "Owners": ["At least 2 owners are required."],
                    "body.Metadata.Cost Center": ["Cost Center is required."],
                },
            },
            headers={"Content-Type": "application/problem+json; charset=utf-8"},
        )
    ]
    with pytest.raises(Invalid) as caught:
        _provider(offline).submit(SPEC)
    assert caught.value.field_errors == {
        FIELD_DISPLAY_NAME: ["The DisplayName field is required."],
        FIELD_OWNERS: ["At least 2 owners are required."],
        metadata_field("Cost Center"): ["Cost Center is required."],
    }


@pytest.mark.parametrize(
    ("detail", "existing_id"),
    [
        ("A workspace named 'Falcon' already exists.", ""),
        (f"A workspace named 'Falcon' is already requested (request {RID}).", RID),
    ],
)
def test_pascal_duplicate_is_a_409_problem(
    offline: Connection, http: ScriptedSession, detail: str, existing_id: str
) -> None:
    http.script = [
        answer(
            409,
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.10",
                "title": "Conflict",
                "status": 409,
                "detail": detail,
                "instance": "/point/contoso/v1.0/provision/teams",
                "traceId": "00-abc-def-01",
            },
        )
    ]
    with pytest.raises(AlreadyExists) as caught:
        _provider(offline).submit(SPEC)
    assert (caught.value.existing_id, caught.value.message) == (existing_id, detail)


def test_pascal_not_found_says_its_detail(offline: Connection, http: ScriptedSession) -> None:
    http.script = [
        answer(
            404,
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.5",
                "title": "Not Found",
                "status": 404,
                "detail": "Group with id Nobody not found.",
                "instance": "/point/contoso/v1.0/groups/Nobody",
                "traceId": "00-abc-def-01",
            },
        )
    ]
    with pytest.raises(NotFound, match="Group with id Nobody not found."):
        _provider(offline).get_group("Nobody")


@pytest.mark.parametrize(
    ("code", "state"), [(0, JobState.RUNNING), (1, JobState.SUCCEEDED), (2, JobState.FAILED)]
)
def test_pascal_job_status_is_a_number_with_pascal_progress(
    offline: Connection, http: ScriptedSession, code: int, state: JobState
) -> None:
    body: dict[str, Any] = {"Id": "j1", "Type": "UserAccess", "Status": code}
    if code == 0:
        body["Progress"] = {"ProcessedItems": 3, "TotalItems": 9}
    if code == 2:
        body["Error"] = "Report generation failed."
    http.script = [answer(200, body)]
    job = _provider(offline).get_report("j1")
    assert (job.id, job.state) == ("j1", state)
    assert (job.processed, job.total) == ((3, 9) if code == 0 else (None, None))
    assert job.error == ("Report generation failed." if code == 2 else "")


def test_pascal_report_rows_in_pascal_case(offline: Connection, http: ScriptedSession) -> None:
    http.script = [
        answer(
            200,
            {
                "Items": [
                    {
                        "SiteUrl": SITE_URL,
                        "PrincipalName": "bob@contoso.com",
                        "PrincipalType": "User",
                        "PermissionLevel": "Edit",
                        "Scope": "Site",
                        "ScopeUrl": SITE_URL,
                        "AccessVia": "Direct",
                    }
                ],
                "TotalCount": 1,
                "NextPageLink": None,
            },
        )
    ]
    [row] = _provider(offline).report_rows(ReportKind.SITE_PERMISSIONS, "j1")
    assert (row.site_url, row.name, row.kind, row.permission, row.access_via) == (
        SITE_URL,
        "bob@contoso.com",
        "user",
        "Edit",
        "Direct",
    )


# --- Workspaces holding a name (a template that publishes no naming rule) ----------------------


def test_workspaces_holding_a_name_are_filtered_here_when_search_is_ignored(
    offline: Connection, http: ScriptedSession
) -> None:
    http.script = [answer(200, MINIMAL_GROUPS)]  # search ignored: everything, as a bare array
    found = _provider(offline).find_workspaces(workload=Workload.TEAM, containing="FIN")
    assert [(w.id, w.name) for w in found.items] == [("g1", "Finance Team")]
    assert not found.has_more
    http.script = [answer(200, MINIMAL_SITES)]
    sites = _provider(offline).find_workspaces(workload=Workload.SITE, containing="falcon")
    assert [(w.id, w.url) for w in sites.items] == [
        ("s3", "https://contoso.sharepoint.com/sites/falcon")
    ]


def test_workspaces_holding_a_name_use_points_search_when_it_is_honoured(
    offline: Connection, http: ScriptedSession
) -> None:
    page = {"value": [MINIMAL_GROUPS[2]], "@odata.count": 1}
    http.script = [answer(200, page)]
    found = _provider(offline).find_workspaces(workload=Workload.GROUP, containing="falcon")
    assert [w.id for w in found.items] == ["g3"] and found.total == 1
    assert http.sent[0].kwargs["params"]["search"] == "falcon"
    assert _provider(offline).find_workspaces(workload=Workload.GROUP, containing=" ").items == []

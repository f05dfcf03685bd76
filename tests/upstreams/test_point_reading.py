"""Tolerant reading (upstreams.point.wire, docs/point-contract.md §7-§10), table by table:
every neutral type from every plausible spelling, enum, paging style, progress pair and error
shape. Offline: plain dicts in, neutral values out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from upstreams.contract import (
    FIELD_COMMENT,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    FIELD_TEMPLATE,
    Approval,
    CatalogueItem,
    Group,
    JobState,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    Status,
    TemplateRules,
    UpstreamError,
    Workload,
    Workspace,
    mentions,
    metadata_field,
)
from upstreams.point import wire

# --- An object with nothing but an id reads into every type --------------------------------------


@pytest.mark.parametrize("key", ["id", "Id", "ID", "_id"])
def test_an_id_only_object_reads_into_every_type(key: str) -> None:
    data = {key: "x1"}
    assert wire.catalogue_item(data) == CatalogueItem(
        id="x1", name="", workload=None, rules=TemplateRules(naming_published=False)
    )
    assert wire.request_status(data) == RequestStatus(id="x1")
    assert wire.group(data) == Group(id="x1")
    assert wire.site(data) == Site(id="x1")
    assert wire.report_job(data) == ReportJob(id="x1")
    assert wire.group_workspace(data) == Workspace(id="x1")
    assert wire.site_workspace(data) == Workspace(id="x1")
    assert wire.catalogue_item(data).rules == TemplateRules(naming_published=False)
    for kind in ReportKind:
        assert wire.report_row(kind, data) == ReportRow()
        assert wire.report_rows(kind, data) == [ReportRow()]


def test_an_empty_object_reads_into_every_type_with_empty_ids() -> None:
    assert wire.request_status({}).id == ""
    assert wire.group({}).members_count is None
    assert wire.site({}).site_type == ""
    assert wire.report_job({}).state == JobState.RUNNING


# --- Key spelling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"id": "g", "name": "Finance", "email": "f@c.com", "groupType": "UnifiedGroup"},
        {"Id": "g", "Name": "Finance", "Email": "f@c.com", "GroupType": "UnifiedGroup"},
        {"id": "g", "name": "Finance", "email": "f@c.com", "group_type": "UnifiedGroup"},
        {"ID": "g", "NAME": "Finance", "EMAIL": "f@c.com", "GROUP_TYPE": "unifiedgroup"},
        {"groupId": "g", "displayName": "Finance", "mail": "f@c.com", "groupTypes": ["Unified"]},
        {"objectId": "g", "group_name": "Finance", "primarySmtpAddress": "f@c.com", "type": "M365"},
    ],
)
def test_a_group_is_read_in_any_key_case_and_under_graphs_names(data: dict[str, Any]) -> None:
    found = wire.group(data)
    assert (found.id, found.name, found.email, found.group_type) == (
        "g",
        "Finance",
        "f@c.com",
        "UnifiedGroup",
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"groupType": "SecurityGroup"}, ("SecurityGroup", False)),
        ({"groupType": "security group"}, ("SecurityGroup", False)),
        ({"groupType": "Distribution List"}, ("DistributionList", False)),
        ({"groupType": "MailEnabledSecurityGroup"}, ("MailEnabledSecurityGroup", False)),
        ({"groupType": "Team"}, ("UnifiedGroup", True)),
        ({"groupType": "Dynamic"}, ("Dynamic", False)),
        (
            {"groupTypes": ["Unified"], "resourceProvisioningOptions": ["Team"]},
            ("UnifiedGroup", True),
        ),
        (
            {"groupTypes": [], "securityEnabled": True, "mailEnabled": False},
            ("SecurityGroup", False),
        ),
        (
            {"groupTypes": [], "securityEnabled": True, "mailEnabled": True},
            ("MailEnabledSecurityGroup", False),
        ),
        (
            {"groupTypes": [], "securityEnabled": False, "mailEnabled": True},
            ("DistributionList", False),
        ),
        ({"isTeam": True}, ("", True)),
        ({"isTeam": "true"}, ("", True)),
        ({}, ("", False)),
    ],
)
def test_a_group_type_and_team_come_from_any_reading(
    data: dict[str, Any], expected: tuple[str, bool]
) -> None:
    found = wire.group({"id": "g", **data})
    assert (found.group_type, found.is_team) == expected


@pytest.mark.parametrize(
    ("data", "privacy"),
    [
        ({"privacy": "Private"}, "Private"),
        ({"visibility": "public"}, "Public"),
        ({"Visibility": "HiddenMembership"}, "HiddenMembership"),
        ({"isPrivate": True}, "Private"),
        ({"visibility": None}, ""),
    ],
)
def test_a_groups_privacy_is_its_privacy_or_graphs_visibility(
    data: dict[str, Any], privacy: str
) -> None:
    assert wire.group({"id": "g", **data}).privacy == privacy


def test_a_graph_group_has_its_label_and_counts_under_other_names() -> None:
    found = wire.group(
        {
            "id": "g",
            "assignedLabels": [{"labelId": "1", "displayName": "Confidential"}],
            "memberCount": "14",
            "owner_count": 2,
            "guestsCount": 1.0,
        }
    )
    assert (found.sensitivity_label, found.members_count, found.owners_count) == (
        "Confidential",
        14,
        2,
    )
    assert found.guests_count == 1


@pytest.mark.parametrize(
    "data",
    [
        {"id": "s", "url": "https://c/sites/a", "title": "A", "siteType": "Team site"},
        {"Id": "s", "Url": "https://c/sites/a", "Title": "A", "SiteType": "Team site"},
        {"id": "s", "web_url": "https://c/sites/a", "display_name": "A", "template": "Team site"},
        {
            "siteId": "s",
            "webUrl": "https://c/sites/a",
            "displayName": "A",
            "webTemplate": "Team site",
        },
    ],
)
def test_a_site_is_read_in_any_key_case_and_under_graphs_names(data: dict[str, Any]) -> None:
    assert wire.site(data) == Site(
        id="s", url="https://c/sites/a", title="A", site_type="Team site"
    )


def test_a_graph_site_prefers_its_display_name_to_its_url_name() -> None:
    found = wire.site(
        {"id": "s", "webUrl": "https://c/sites/fin", "name": "fin", "displayName": "Finance"}
    )
    assert found.title == "Finance"


@pytest.mark.parametrize(
    ("owner", "admin"),
    [
        ("alice@c.com", "alice@c.com"),
        ({"email": "alice@c.com", "displayName": "Alice"}, "alice@c.com"),
        ({"user": {"displayName": "Alice"}}, "Alice"),
    ],
)
def test_a_sites_admin_may_be_a_person_object(owner: Any, admin: str) -> None:
    assert wire.site({"id": "s", "primaryAdmin": owner}).primary_admin == admin


def test_a_template_under_graphs_names_and_snake_case_reads_the_same() -> None:
    graph = wire.catalogue_item(
        {
            "id": 3,
            "displayName": "Public team",
            "workspaceType": "MicrosoftTeams",
            "approvalProcess": {"isAutomatic": True},
        }
    )
    snake = wire.catalogue_item(
        {
            "template_id": 3,
            "template_name": "Public team",
            "workspace_type": "microsoft_teams",
            "approval_process": {"is_automatic": "true"},
            "naming_rule": {"prefix": "PT-"},
            "url_settings": {"allow_edit": True, "max_length": 40},
        }
    )
    for item in (graph, snake):
        assert (item.id, item.name, item.workload, item.approval) == (
            "3",
            "Public team",
            Workload.TEAM,
            Approval.AUTOMATIC,
        )
    assert snake.rules.naming.prefix == "PT-" and snake.rules.url is not None
    assert (snake.rules.url.editable, snake.rules.url.max_length) == (True, 40)


@pytest.mark.parametrize(
    ("approval", "expected"),
    [
        ({"approvalProcess": {"isAutomatic": False}}, Approval.MANUAL),
        ({"approvalProcess": {"name": "Automatically Approve"}}, Approval.AUTOMATIC),
        ({"approvalProcess": {"name": "Manager approval"}}, Approval.MANUAL),
        ({"approvalProcess": "Automatically Approve"}, Approval.AUTOMATIC),
        ({"approvalProcess": "Admin approval"}, Approval.MANUAL),
        ({"isAutomatic": True}, Approval.AUTOMATIC),
        ({"approvalProcess": {}}, Approval.UNKNOWN),
        ({}, Approval.UNKNOWN),
    ],
)
def test_approval_comes_from_a_flag_or_the_process_name(
    approval: dict[str, Any], expected: Approval
) -> None:
    assert wire.catalogue_item({"id": 1, **approval}).approval == expected


# --- Enums: words, synonyms, numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "workload", "kind_text"),
    [
        (0, Workload.TEAM, "MicrosoftTeams"),
        (1, Workload.GROUP, "M365Group"),
        (2, Workload.SITE, "SharePointSiteCollection"),
        (3, Workload.COMMUNITY, "YammerCommunity"),
        ("2", Workload.SITE, "SharePointSiteCollection"),
        (9, None, "9"),
        ("Team", Workload.TEAM, "Team"),
        ("SharePointSite", Workload.SITE, "SharePointSite"),
        ("viva_engage", Workload.COMMUNITY, "viva_engage"),
        ("Microsoft 365 Group", Workload.GROUP, "Microsoft 365 Group"),
        ({"name": "M365Group"}, Workload.GROUP, "M365Group"),
        (True, None, "True"),
    ],
)
def test_a_workspace_type_is_a_word_or_an_assumed_number(
    value: Any, workload: Workload | None, kind_text: str
) -> None:
    item = wire.catalogue_item({"id": 1, "workspaceType": value})
    assert (item.workload, item.kind_text) == (workload, kind_text)


@pytest.mark.parametrize(
    ("value", "expected", "text"),
    [
        (0, Status.PENDING_APPROVAL, "Pending"),
        (1, Status.APPROVED, "Approved"),
        (2, Status.REJECTED, "Rejected"),
        (3, Status.IN_PROGRESS, "InProgress"),
        (4, Status.COMPLETED, "Completed"),
        (5, Status.FAILED, "Failed"),
        (6, Status.CANCELLED, "Canceled"),
        ("4", Status.COMPLETED, "Completed"),
        (7, Status.UNKNOWN, "7"),
        ("Succeeded", Status.COMPLETED, "Succeeded"),
        ("success", Status.COMPLETED, "success"),
        ("Done", Status.COMPLETED, "Done"),
        ("Finished", Status.COMPLETED, "Finished"),
        ("Running", Status.IN_PROGRESS, "Running"),
        ("PROCESSING", Status.IN_PROGRESS, "PROCESSING"),
        ("in_progress", Status.IN_PROGRESS, "in_progress"),
        ("Pending Approval", Status.PENDING_APPROVAL, "Pending Approval"),
        ("AwaitingApproval", Status.PENDING_APPROVAL, "AwaitingApproval"),
        ("Declined", Status.REJECTED, "Declined"),
        ("Error", Status.FAILED, "Error"),
        ("Cancelled", Status.CANCELLED, "Cancelled"),
        ("Queued", Status.UNKNOWN, "Queued"),
        ("PartiallyCompleted", Status.UNKNOWN, "PartiallyCompleted"),
        ({"name": "Completed"}, Status.COMPLETED, "Completed"),
        (None, Status.UNKNOWN, ""),
        (True, Status.UNKNOWN, "True"),
    ],
)
def test_request_statuses_words_synonyms_and_numbers(
    value: Any, expected: Status, text: str
) -> None:
    found = wire.request_status({"id": "r", "status": value})
    assert (found.status, found.status_text) == (expected, text)


@pytest.mark.parametrize(
    "key", ["status", "Status", "state", "requestStatus", "provisioning_status"]
)
def test_a_request_status_is_found_under_its_plausible_keys(key: str) -> None:
    assert wire.request_status({"id": "r", key: "Approved"}).status == Status.APPROVED


@pytest.mark.parametrize(
    ("value", "done", "state"),
    [
        (0, False, JobState.RUNNING),
        (1, False, JobState.SUCCEEDED),
        (2, False, JobState.FAILED),
        ("1", False, JobState.SUCCEEDED),
        ("InProgress", False, JobState.RUNNING),
        ("NotStarted", False, JobState.RUNNING),
        ("Running", False, JobState.RUNNING),
        ("Succeeded", False, JobState.SUCCEEDED),
        ("completed", False, JobState.SUCCEEDED),
        ("Done", False, JobState.SUCCEEDED),
        ("Error", False, JobState.FAILED),
        ("Canceled", False, JobState.FAILED),
        ("Queued", False, JobState.RUNNING),
        ("Whatever", False, JobState.UNKNOWN),
        (7, False, JobState.UNKNOWN),
        ("Running", True, JobState.SUCCEEDED),
        (None, False, JobState.RUNNING),
    ],
)
def test_report_job_states_words_synonyms_and_numbers(
    value: Any, done: bool, state: JobState
) -> None:
    assert wire.report_job({"id": "j", "status": value}, done=done).state == state


def test_an_unknown_report_status_keeps_the_word_as_sent() -> None:
    job = wire.report_job({"Id": "j", "Status": "Finalizing"})
    assert (job.state, job.status_text) == (JobState.UNKNOWN, "Finalizing")


# --- Progress -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"progress": {"processedItems": 3, "totalItems": 9}}, (3, 9)),
        ({"Progress": {"ProcessedItems": 3, "TotalItems": 9}}, (3, 9)),
        ({"progress": {"processedSites": 35, "totalSites": 100}}, (35, 100)),
        ({"processedCount": 5, "totalCount": 50}, (5, 50)),
        ({"processed": 7, "total": 70}, (7, 70)),
        ({"progress": {"processed": "7", "total": "70"}}, (7, 70)),
        ({"progress": {"processedGroups": 2, "totalGroups": 4}}, (2, 4)),
        ({"percentComplete": 40}, (40, 100)),
        ({"percentComplete": 40.7}, (40, 100)),
        ({"progress": 55}, (55, 100)),
        ({"progress": "55%"}, (55, 100)),
        ({"progress": {"processedItems": 3}}, (3, None)),
        ({}, (None, None)),
    ],
)
def test_a_report_jobs_progress_comes_from_any_pair_or_a_percent(
    data: dict[str, Any], expected: tuple[int | None, int | None]
) -> None:
    job = wire.report_job({"id": "j", "status": "InProgress", **data})
    assert (job.processed, job.total) == expected


@pytest.mark.parametrize(
    ("data", "progress"),
    [
        ({"progress": 40}, 40),
        ({"percentComplete": 75}, 75),
        ({"PercentComplete": "75"}, 75),
        ({"percentComplete": 33.9}, 33),
        ({"percentComplete": 250}, 100),
        ({"progress": {"processedItems": 1, "totalItems": 4}}, 25),
        ({"progress": {"processedItems": 1, "totalItems": 0}}, None),
        ({"progress": True}, None),
        ({}, None),
    ],
)
def test_a_requests_progress_is_a_percent_from_any_reading(
    data: dict[str, Any], progress: int | None
) -> None:
    assert wire.request_status({"id": "r", **data}).progress == progress


# --- Requests under other names -------------------------------------------------------------------


def test_a_graph_request_reads_its_url_time_and_percent() -> None:
    found = wire.request_status(
        {
            "id": "r1",
            "status": "Completed",
            "displayName": "Falcon",
            "webUrl": "https://c/sites/falcon",
            "createdDateTime": "2026-08-20T09:15:02.1234567Z",
            "percentComplete": 100,
        }
    )
    assert (found.status, found.display_name, found.workspace_url, found.progress) == (
        Status.COMPLETED,
        "Falcon",
        "https://c/sites/falcon",
        100,
    )
    assert found.requested_at == datetime(2026, 8, 20, 9, 15, 2, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        ("Team was not created.", "Team was not created."),
        ({"code": "E1", "message": "Team was not created."}, "Team was not created."),
        ({"code": "E1"}, "E1"),
        (None, ""),
    ],
)
def test_a_requests_error_is_a_text_or_an_objects_message(error: Any, text: str) -> None:
    assert wire.request_status({"id": "r", "status": "Failed", "error": error}).error == text


def test_a_request_reads_its_workspace_from_a_result_or_flat() -> None:
    nested = wire.request_status(
        {"id": "r", "Result": {"WebUrl": "https://c/sites/a", "Id": "w1", "Mail": "a@c.com"}}
    )
    flat = wire.request_status(
        {"id": "r", "siteUrl": "https://c/sites/a", "workspaceId": "w1", "email": "a@c.com"}
    )
    for found in (nested, flat):
        assert (found.workspace_url, found.workspace_id, found.email) == (
            "https://c/sites/a",
            "w1",
            "a@c.com",
        )


# --- Lists and paging -----------------------------------------------------------------------------

PAGE_ITEMS = [{"id": "1"}, {"id": "2"}]
NEXT = "https://p.example/v1.0/groups?page=2"


@pytest.mark.parametrize(
    ("data", "next_link", "total", "bare"),
    [
        (PAGE_ITEMS, None, None, True),
        ({"value": PAGE_ITEMS, "@odata.nextLink": NEXT, "@odata.count": 9}, NEXT, 9, False),
        ({"Value": PAGE_ITEMS, "odata.nextLink": NEXT, "odata.count": "9"}, NEXT, 9, False),
        ({"Items": PAGE_ITEMS, "TotalCount": 9, "NextPageLink": NEXT}, NEXT, 9, False),
        ({"Items": PAGE_ITEMS, "TotalCount": 2, "NextPageLink": None}, None, 2, False),
        ({"items": PAGE_ITEMS, "total": 9, "next": NEXT}, NEXT, 9, False),
        ({"data": PAGE_ITEMS, "totalCount": 9, "nextLink": NEXT}, NEXT, 9, False),
        ({"results": PAGE_ITEMS, "count": 9, "next": {"href": NEXT}}, NEXT, 9, False),
        ({"records": PAGE_ITEMS, "meta": {"total": 9}, "links": {"next": NEXT}}, NEXT, 9, False),
        ({"content": PAGE_ITEMS, "totalElements": 9}, None, 9, False),
        ({"data": {"items": PAGE_ITEMS, "total": 9}, "links": {"next": NEXT}}, NEXT, 9, False),
        ({"groups": PAGE_ITEMS, "count": 9, "nextPageLink": NEXT}, NEXT, 9, False),
        ({"value": PAGE_ITEMS, "total": {"value": 9, "relation": "eq"}}, None, 9, False),
        ({"value": [*PAGE_ITEMS, "junk"]}, None, None, False),
    ],
)
def test_every_plausible_paging_style_is_read(
    data: Any, next_link: str | None, total: int | None, bare: bool
) -> None:
    shape = wire.list_shape(data)
    assert (shape.items, shape.next_link, shape.total, shape.bare) == (
        PAGE_ITEMS,
        next_link,
        total,
        bare,
    )
    assert shape.has_more == (next_link is not None)


@pytest.mark.parametrize(
    "data",
    [
        {"value": [], "hasMore": True},
        {"items": [], "has_more": "true"},
        {"items": [], "pagination": {"hasMore": True}},
        {"items": [], "next": True},
    ],
)
def test_a_more_flag_without_a_link_says_more_follow(data: dict[str, Any]) -> None:
    shape = wire.list_shape(data)
    assert shape.has_more and shape.next_link is None


def test_a_lone_object_is_one_item_only_when_asked() -> None:
    group = {"groupId": "g1", "members": [{"displayName": "A"}]}
    assert wire.list_shape(group, lone_object=True).items == [group]
    with pytest.raises(UpstreamError, match="unexpected shape"):
        wire.list_shape(group)
    envelope = {"data": {"items": [group], "total": 1}}
    assert wire.list_shape(envelope, lone_object=True).items == [group]


# --- Report rows: flat, nested and grouped --------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {
            "groupId": "g1",
            "groupName": "Finance",
            "displayName": "Alice",
            "email": "alice@c.com",
            "memberType": "User",
            "role": "Owner",
        },
        {
            "GroupId": "g1",
            "GroupDisplayName": "Finance",
            "DisplayName": "Alice",
            "UserPrincipalName": "alice@c.com",
            "MemberType": "User",
            "Role": "Owners",
        },
        {
            "group": {"id": "g1", "displayName": "Finance"},
            "member": {
                "displayName": "Alice",
                "userPrincipalName": "alice@c.com",
                "userType": "User",
            },
            "role": "owner",
        },
        {
            "group_id": "g1",
            "group_name": "Finance",
            "user": {"name": "Alice", "mail": "alice@c.com", "type": "User"},
            "roles": ["Owner"],
        },
    ],
)
def test_a_membership_row_is_read_flat_or_nested(data: dict[str, Any]) -> None:
    row = wire.report_row(ReportKind.GROUP_MEMBERSHIPS, data)
    assert (row.group_id, row.group_name, row.name, row.upn, row.kind, row.role) == (
        "g1",
        "Finance",
        "Alice",
        "alice@c.com",
        "user",
        "owner",
    )


@pytest.mark.parametrize(
    ("member_type", "kind"),
    [
        ("Member", "user"),
        ("Guest", "guest"),
        ("#microsoft.graph.group", "group"),
        ("#microsoft.graph.user", "user"),
        ("SharePointGroup", "group"),
        ("Robot", "robot"),
    ],
)
def test_principal_kinds_are_normalised_and_kept_raw(member_type: str, kind: str) -> None:
    row = wire.report_row(ReportKind.GROUP_MEMBERSHIPS, {"memberType": member_type})
    assert (row.kind, row.kind_text) == (kind, member_type)


def test_a_grouped_membership_result_gives_one_row_per_member() -> None:
    rows = wire.report_rows(
        ReportKind.GROUP_MEMBERSHIPS,
        {
            "groupId": "g1",
            "groupName": "Finance",
            "members": [
                {
                    "displayName": "Alice",
                    "email": "alice@c.com",
                    "role": "Owner",
                    "userType": "Member",
                },
                {"displayName": "Bob", "email": "bob@x.com", "role": "Member", "userType": "Guest"},
            ],
            "owners": [{"displayName": "Carol", "email": "carol@c.com"}],
        },
    )
    assert [(r.group_id, r.group_name, r.name, r.kind, r.role) for r in rows] == [
        ("g1", "Finance", "Alice", "user", "owner"),
        ("g1", "Finance", "Bob", "guest", "member"),
        ("g1", "Finance", "Carol", "", "owner"),
    ]


def test_a_grouped_site_permission_result_gives_one_row_per_permission() -> None:
    rows = wire.report_rows(
        ReportKind.SITE_PERMISSIONS,
        {
            "siteUrl": "https://c/sites/finance",
            "permissions": [
                {
                    "principalName": "Finance Owners",
                    "principalType": "SharePointGroup",
                    "permissionLevel": "Full Control",
                },
                {"principalName": "bob@c.com", "principalType": "User", "permissionLevel": "Edit"},
            ],
            "error": None,
        },
    )
    assert [(r.site_url, r.name, r.kind, r.permission) for r in rows] == [
        ("https://c/sites/finance", "Finance Owners", "group", "Full Control"),
        ("https://c/sites/finance", "bob@c.com", "user", "Edit"),
    ]


def test_a_nested_site_permission_row_reads_its_parts() -> None:
    row = wire.report_row(
        ReportKind.SITE_PERMISSIONS,
        {
            "site": {"webUrl": "https://c/sites/a"},
            "principal": {"displayName": "Alice", "email": "alice@c.com", "type": "User"},
            "roles": ["Full Control", "Edit"],
            "grantedThrough": "Direct",
        },
    )
    assert (row.site_url, row.name, row.upn, row.kind, row.permission, row.access_via) == (
        "https://c/sites/a",
        "Alice",
        "alice@c.com",
        "user",
        "Full Control, Edit",
        "Direct",
    )


@pytest.mark.parametrize(
    ("workspace_type", "kind"),
    [
        ("Site", "site"),
        ("SharePointSite", "site"),
        (0, "team"),
        (1, "group"),
        (2, "site"),
        ("Microsoft Team", "team"),
        ("OneDriveForBusiness", "onedrive"),
    ],
)
def test_user_access_kinds_from_words_or_numbers(workspace_type: Any, kind: str) -> None:
    row = wire.report_row(
        ReportKind.USER_ACCESS,
        {"displayName": "Finance", "webUrl": "https://c/sites/f", "workspaceType": workspace_type},
    )
    assert (row.name, row.site_url, row.kind) == ("Finance", "https://c/sites/f", kind)


def test_a_nested_user_access_row_reads_its_workspace() -> None:
    row = wire.report_row(
        ReportKind.USER_ACCESS,
        {
            "workspace": {"displayName": "Finance", "webUrl": "https://c/sites/f", "type": "Site"},
            "permission": {"name": "Edit"},
        },
    )
    assert (row.name, row.site_url, row.kind, row.permission) == (
        "Finance",
        "https://c/sites/f",
        "site",
        "Edit",
    )


# --- Field errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "neutral"),
    [
        ("$.DisplayName", FIELD_DISPLAY_NAME),
        ("$.displayName", FIELD_DISPLAY_NAME),
        ("display_name", FIELD_DISPLAY_NAME),
        ("DISPLAYNAME", FIELD_DISPLAY_NAME),
        ("body.displayName", FIELD_DISPLAY_NAME),
        ("request.DisplayName", FIELD_DISPLAY_NAME),
        ("$.body.DisplayName", FIELD_DISPLAY_NAME),
        ("$['displayName']", FIELD_DISPLAY_NAME),
        ("/displayName", FIELD_DISPLAY_NAME),
        ("Owners", FIELD_OWNERS),
        ("owners[0].email", FIELD_OWNERS),
        ("$.Owners[2]", FIELD_OWNERS),
        ("DesiredUrl", FIELD_DESIRED_URL),
        ("mailNickname", FIELD_DESIRED_URL),
        ("IsPrivate", FIELD_PRIVACY),
        ("Comment", FIELD_COMMENT),
        ("TemplateId", FIELD_TEMPLATE),
        ("metadata.Cost Center", metadata_field("Cost Center")),
        ("Metadata.Cost Center", metadata_field("Cost Center")),
        ("body.Metadata.Cost Center", metadata_field("Cost Center")),
        ("$.metadata.Cost Center", metadata_field("Cost Center")),
        ("metadata[Cost Center]", metadata_field("Cost Center")),
        ("Metadata['Cost Center']", metadata_field("Cost Center")),
        ('metadata["Cost Center"]', metadata_field("Cost Center")),
        ("metadata", ""),
        ("$", ""),
        ("$top", ""),
        ("groupType", ""),
        ("", ""),
    ],
)
def test_error_keys_in_any_case_and_prefix_become_neutral_fields(key: str, neutral: str) -> None:
    assert wire.neutral_field(key) == neutral


def test_metadata_errors_take_the_requests_spelling_of_the_field() -> None:
    aligned = wire.align_metadata_fields(
        {
            metadata_field("cost center"): ["Required."],
            metadata_field("costCenter"): ["Too long."],
            metadata_field("Unknown"): ["Hm."],
            FIELD_OWNERS: ["Two at least."],
        },
        ["Cost Center", "Department"],
    )
    assert aligned == {
        metadata_field("Cost Center"): ["Required.", "Too long."],
        metadata_field("Unknown"): ["Hm."],
        FIELD_OWNERS: ["Two at least."],
    }


def test_problem_details_with_pascal_keys_become_neutral_field_errors() -> None:
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "detail": "See the errors property for details.",
        "instance": "/v1.0/provision/teams",
        "errors": {
            "$.DisplayName": ["The DisplayName field is required."],
            "Owners": ["At least 2 owners are required."],
            "body.Metadata.Cost Center": ["Cost Center is required."],
        },
        "traceId": "00-abc-01",
    }
    assert wire.field_errors(body, status=400) == {
        FIELD_DISPLAY_NAME: ["The DisplayName field is required."],
        FIELD_OWNERS: ["At least 2 owners are required."],
        metadata_field("Cost Center"): ["Cost Center is required."],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"field": "displayName", "message": "Required."}]},
        {"errors": [{"propertyName": "DisplayName", "errorMessage": "Required."}]},
        {"Errors": [{"PropertyName": "DisplayName", "ErrorMessage": "Required."}]},
        {
            "error": {
                "code": "BadArgument",
                "details": [{"target": "displayName", "message": "Required."}],
            }
        },
        {"errors": [{"source": {"pointer": "/displayName"}, "detail": "Required."}]},
        {"errors": [{"memberNames": ["DisplayName"], "errorMessage": "Required."}]},
        {"errors": {"displayName": "Required."}},
        {"errors": {"displayName": [{"message": "Required."}]}},
    ],
)
def test_field_errors_in_list_or_object_form(body: dict[str, Any]) -> None:
    assert wire.field_errors(body, status=400) == {FIELD_DISPLAY_NAME: ["Required."]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"title": "Not Found", "status": 404, "detail": "Group X not found."},
            "Group X not found.",
        ),
        (
            {"message": "An error has occurred.", "exceptionMessage": "Group X not found."},
            "Group X not found.",
        ),
        ({"error": {"code": "NotFound", "message": "Group X not found."}}, "Group X not found."),
        ({"error": "not_found", "error_description": "Group X not found."}, "Group X not found."),
        ({"Detail": "Pascal detail."}, "Pascal detail."),
        ({"errorMessage": "Plain."}, "Plain."),
        ("Group X not found.", "Group X not found."),
        ({}, "HTTP 404 Not Found"),
    ],
)
def test_error_words_from_problem_details_domain_errors_and_others(body: Any, message: str) -> None:
    assert wire.error_message(body, status=404, reason="Not Found") == message


# --- Duplicates (409) -----------------------------------------------------------------------------

DUPLICATE_TYPE = "SysKit.Point.Application.SeedWork.Exceptions.DuplicateResourceException"


@pytest.mark.parametrize(
    ("body", "message", "expected"),
    [
        ({}, "A workspace named 'Kite' already exists.", (True, "")),
        ({}, "A workspace named 'Kite' is already requested (request 3f2c-9a).", (True, "3f2c-9a")),
        ({}, "The URL kite is already in use (request id: 42).", (True, "42")),
        ({"existingRequestId": "r9"}, "Name taken.", (False, "")),
        ({"exceptionType": DUPLICATE_TYPE, "existingRequestId": "r9"}, "Name taken.", (True, "r9")),
        ({"requestId": "r9"}, "A group with this alias already exists.", (True, "r9")),
        ({"extensions": {"requestId": "r9"}}, "Duplicate name.", (True, "r9")),
        ({"code": "AlreadyExists"}, "Conflict.", (True, "")),
        ({}, "Request j has not completed yet.", (False, "")),
        ({}, "Request j failed: boom", (False, "")),
    ],
)
def test_a_conflict_is_a_duplicate_when_it_says_so(
    body: dict[str, Any], message: str, expected: tuple[bool, str]
) -> None:
    assert wire.duplicate(body, message) == expected


# --- POST answers ---------------------------------------------------------------------------------

LOCATION = "/v1.0/provision/requests/loc-7"


@pytest.mark.parametrize(
    ("data", "location", "text", "expected_id", "status"),
    [
        (None, LOCATION, "", "loc-7", Status.UNKNOWN),
        ({"id": "r1"}, None, "", "r1", Status.UNKNOWN),
        ({"requestId": 42}, None, "", "42", Status.UNKNOWN),
        ({"RequestId": "R1", "Status": 0}, None, "", "R1", Status.PENDING_APPROVAL),
        ({"provisioningRequestId": "p1", "status": "Approved"}, None, "", "p1", Status.APPROVED),
        ({"data": {"id": "d1"}}, None, "", "d1", Status.UNKNOWN),
        ({"status": "Pending"}, LOCATION, "", "loc-7", Status.PENDING_APPROVAL),
        (
            "3f2c0d1e-aaaa-bbbb-cccc-000000000001",
            None,
            "",
            "3f2c0d1e-aaaa-bbbb-cccc-000000000001",
            Status.UNKNOWN,
        ),
        (1234, None, "", "1234", Status.UNKNOWN),
        ("Accepted", None, "", "", Status.UNKNOWN),
        ("request created", LOCATION, "", "loc-7", Status.UNKNOWN),
        (["r1"], None, "", "", Status.UNKNOWN),
        (True, None, "", "", Status.UNKNOWN),
        (None, None, "3f2c-77", "3f2c-77", Status.UNKNOWN),
        (None, None, "<html>OK</html>", "", Status.UNKNOWN),
        (None, None, "", "", Status.UNKNOWN),
    ],
)
def test_a_post_answer_names_its_request_where_it_can(
    data: Any, location: str | None, text: str, expected_id: str, status: Status
) -> None:
    found = wire.submit_answer(data, location=location, text=text)
    assert (found.id, found.status) == (expected_id, status)


def test_a_report_start_or_poll_answer_names_its_job() -> None:
    location = "/v1.0/requests/j9/status"
    assert wire.job_from_answer({"id": "j1"}).id == "j1"
    assert wire.job_from_answer("j1-0001").id == "j1-0001"
    assert wire.job_from_answer(None, location=location).id == "j9"
    assert wire.job_from_answer("Succeeded").state == JobState.SUCCEEDED
    assert wire.job_from_answer(None, done=True).state == JobState.SUCCEEDED
    assert wire.job_from_answer({}).id == ""


# --- Lookups --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://c.sharepoint.com/sites/Falcon", "falcon"),
        ("https://c.sharepoint.com/sites/falcon/", "falcon"),
        ("https://c.sharepoint.com/sites/falcon%20team", "falcon team"),
        ("https://c.sharepoint.com/sites/falcon/sub", ""),
        ("https://c.sharepoint.com/teams/falcon", ""),
        ("https://c.sharepoint.com/", ""),
        ("", ""),
    ],
)
def test_a_site_slug_is_the_last_sites_segment(url: str, slug: str) -> None:
    assert wire.site_slug(url) == slug


def test_a_group_found_by_name_may_come_as_an_object_a_list_or_a_page() -> None:
    one = {"id": "g1", "displayName": "Falcon"}
    other = {"id": "g2", "displayName": "Falcon Two"}
    assert wire.named(one, "falcon") == one
    assert wire.named([other, one], "FALCON") == one
    assert wire.named({"value": [other, one]}, "Falcon") == one
    assert wire.named([other], "Falcon") == other  # no exact one: the caller compares names
    assert wire.named([], "Falcon") is None
    assert wire.named("Falcon", "Falcon") is None


def test_a_workspace_reads_its_creation_time_in_any_name() -> None:
    group = wire.group_workspace(
        {
            "id": "g1",
            "displayName": "Falcon",
            "mail": "falcon@c.com",
            "createdDateTime": "2026-08-20T09:15:02Z",
        }
    )
    site = wire.site_workspace(
        {
            "id": "s1",
            "webUrl": "https://c/sites/falcon",
            "title": "Falcon",
            "created_on": "2026-08-20",
        }
    )
    assert group == Workspace(
        "g1", "Falcon", "", "falcon@c.com", datetime(2026, 8, 20, 9, 15, 2, tzinfo=UTC)
    )
    assert site == Workspace(
        "s1", "Falcon", "https://c/sites/falcon", "", datetime(2026, 8, 20, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("texts", "search", "found"),
    [
        (("Finance Team", "finance@c.com"), "fin", True),
        (("Finance Team", ""), "TEAM", True),
        (("Finance Team", "finance@c.com"), "c.com", True),
        (("Finance Team", None), "hr", False),
        ((), "x", False),
        (("anything",), "  ", True),
    ],
)
def test_mentions_is_a_case_insensitive_substring(
    texts: tuple[str, ...], search: str, found: bool
) -> None:
    assert mentions(texts, search) is found

"""Point's JSON to the neutral types and back (upstreams.point.wire), table by table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from upstreams.contract import (
    FIELD_COMMENT,
    FIELD_DESCRIPTION,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    FIELD_TEMPLATE,
    AddressRules,
    Affixes,
    Approval,
    ApprovalStage,
    JobState,
    MetadataField,
    Privacy,
    ReportKind,
    ReportRow,
    Status,
    TemplateRules,
    UpstreamError,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.point import wire

# The .NET type of the one documented error body (reference 7).
RESOURCE_MISSING = "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException"

# The emulator's "Manage a project" template (reference 3.3 plus the emulator's extensions).
PROJECT: dict[str, Any] = {
    "id": 1,
    "name": "Manage a project",
    "description": "Time-boxed project work.",
    "workspaceType": "MicrosoftTeams",
    "privacy": "RequesterDecides",
    "approvalProcess": {"id": 4, "name": "Automatically Approve", "isAutomatic": True},
    "sensitivityLabel": {"id": "c99e52c6", "name": "Confidential"},
    "namingRule": {"prefix": "PRJ - ", "suffix": ""},
    "urlSettings": {
        "prefix": "prj-",
        "suffix": "",
        "hideWorkspaceName": False,
        "allowEdit": True,
        "maxLength": 64,
    },
    "emailSettings": {"prefix": "prj-", "suffix": "-team", "hideWorkspaceName": False},
    "owners": {"predefined": ["it@contoso.com"], "allowRequesterToAdd": True, "min": 2, "max": 5},
    "members": {"predefined": [], "allowRequesterToAdd": True},
    "guests": {"allowAsOwners": False, "allowAsMembers": False},
    "customMetadata": [
        {"name": "Cost Center", "type": "Text", "required": True},
        {"name": "Department", "type": "Dropdown", "required": False, "options": ["HR", "IT"]},
    ],
    "commentsEnabled": False,
}


# --- Templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MicrosoftTeams", Workload.TEAM),
        ("microsoftteams", Workload.TEAM),
        ("M365Group", Workload.GROUP),
        ("M365GROUP", Workload.GROUP),
        ("SharePointSiteCollection", Workload.SITE),
        ("YammerCommunity", Workload.COMMUNITY),
        ("PowerPlatformEnvironment", None),
        ("", None),
        (None, None),
    ],
)
def test_a_workspace_type_names_its_workload_case_insensitively(
    text: str | None, expected: Workload | None
) -> None:
    assert wire.workload(text) == expected


def test_a_full_template_becomes_a_catalogue_item_with_every_rule() -> None:
    item = wire.catalogue_item(PROJECT)
    assert (item.id, item.name, item.description) == (
        "1",
        "Manage a project",
        PROJECT["description"],
    )
    assert (item.workload, item.kind_text, item.approval) == (
        Workload.TEAM,
        "MicrosoftTeams",
        Approval.AUTOMATIC,
    )
    assert item.rules == TemplateRules(
        naming=Affixes("PRJ - ", ""),
        url=AddressRules(prefix="prj-", suffix="", editable=True, max_length=64),
        alias=AddressRules(prefix="prj-", suffix="-team", editable=False, max_length=None),
        privacy=Privacy.REQUESTER,
        owners_predefined=("it@contoso.com",),
        owners_min=2,
        owners_max=5,
        guests_as_members=False,
        comments=False,
        metadata=(
            MetadataField("Cost Center", "text", True),
            MetadataField("Department", "dropdown", False, ("HR", "IT")),
        ),
    )
    assert item.raw == PROJECT


def test_a_minimal_template_invents_no_rule() -> None:
    item = wire.catalogue_item({"id": 7, "name": "Bare"})
    assert (item.id, item.name, item.workload, item.approval) == (
        "7",
        "Bare",
        None,
        Approval.UNKNOWN,
    )
    assert item.rules == TemplateRules(naming_published=False)


@pytest.mark.parametrize(
    ("template", "published"),
    [
        ({}, False),
        ({"namingRule": None}, True),  # said, and empty: Point adds nothing
        ({"NamingRule": {"Prefix": ""}}, True),
        ({"namePrefix": "GRP-"}, True),
        ({"description": "naming is done by Point"}, False),
    ],
)
def test_a_naming_rule_is_known_only_when_the_template_says_it(
    template: dict[str, Any], published: bool
) -> None:
    assert wire.template_rules(template).naming_published is published


def test_template_terms_are_read_under_any_of_their_names() -> None:
    assert wire.template_rules({"TermsAndConditions": "Be kind."}).terms == "Be kind."
    assert wire.template_rules({"termsOfUse": "Be kind."}).terms == "Be kind."


def test_a_template_in_pascal_case_reads_the_same() -> None:
    item = wire.catalogue_item(
        {
            "Id": 5,
            "Name": "Pascal",
            "WorkspaceType": "M365Group",
            "ApprovalProcess": {"IsAutomatic": False},
            "NamingRule": {"Prefix": "GRP-"},
            "UrlSettings": {"AllowEdit": True, "MaxLength": 30},
        }
    )
    assert (item.id, item.name, item.workload, item.approval) == (
        "5",
        "Pascal",
        Workload.GROUP,
        Approval.MANUAL,
    )
    assert item.rules.naming == Affixes("GRP-", "")
    assert item.rules.url == AddressRules(editable=True, max_length=30)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (None, None),
        ("prj-", None),
        ({"prefix": "x-", "hideWorkspaceName": True, "allowEdit": True}, None),
        ({"prefix": "x-"}, AddressRules(prefix="x-")),
        ({"allowEdit": "yes", "maxLength": 0}, AddressRules()),
        ({"maxLength": True}, AddressRules()),
        ({"maxLength": "40"}, AddressRules(max_length=40)),
        ({"maxLength": -3, "suffix": "-x"}, AddressRules(suffix="-x")),
    ],
)
def test_url_and_alias_rules_come_from_their_settings(
    settings: Any, expected: AddressRules | None
) -> None:
    rules = wire.template_rules({"urlSettings": settings, "emailSettings": settings})
    assert rules.url == expected
    assert rules.alias == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Private", Privacy.PRIVATE),
        ("public", Privacy.PUBLIC),
        ("RequesterDecides", Privacy.REQUESTER),
        ("Requester decides", Privacy.REQUESTER),
        ("Secret", Privacy.UNSET),
        (None, Privacy.UNSET),
    ],
)
def test_template_privacy_is_read_case_insensitively(text: str | None, expected: Privacy) -> None:
    assert wire.template_rules({"privacy": text}).privacy == expected


@pytest.mark.parametrize(
    ("type_text", "kind"),
    [
        ("Text", "text"),
        ("People", "people"),
        ("Date", "date"),
        ("Dropdown", "dropdown"),
        ("YesNo", "yesno"),
        ("Yes/No", "yesno"),
        ("yes no", "yesno"),
        ("Number", "number"),
        ("Currency", "text"),
        (None, "text"),
    ],
)
def test_metadata_types_become_neutral_kinds(type_text: str | None, kind: str) -> None:
    rules = wire.template_rules({"customMetadata": [{"name": "Field", "type": type_text}]})
    assert rules.metadata == (MetadataField("Field", kind),)


def test_metadata_fields_without_a_name_are_dropped() -> None:
    rules = wire.template_rules(
        {
            "customMetadata": [
                {"type": "Text"},
                "Budget",
                {"name": " ", "type": "Text"},
                {"name": "A"},
            ]
        }
    )
    assert rules.metadata == (MetadataField("A"),)


def test_guests_and_comments_default_to_allowed() -> None:
    rules = wire.template_rules({"guests": {}, "commentsEnabled": None})
    assert rules.guests_as_members is True and rules.comments is True


def test_owner_limits_ignore_nonsense() -> None:
    rules = wire.template_rules({"owners": {"min": -1, "max": 0, "predefined": ["a", None, 3]}})
    assert (rules.owners_min, rules.owners_max, rules.owners_predefined) == (0, None, ("a", "3"))


def test_template_rules_survive_the_contracts_json_round_trip() -> None:
    rules = wire.catalogue_item(PROJECT).rules
    assert TemplateRules.from_json(rules.to_json()) == rules


# --- The provisioning body ---------------------------------------------------------------------


def _spec(**changes: Any) -> WorkspaceSpec:
    values: dict[str, Any] = {
        "template_id": "3",
        "workload": Workload.TEAM,
        "display_name": "Falcon",
        "description": "Falcon programme",
        "owners": ("adele@contoso.com",),
        "members": ("bob@contoso.com",),
        "metadata": {"Cost Center": "CC-1"},
        "comment": "please",
    }
    values.update(changes)
    return WorkspaceSpec(**values)


def test_the_body_carries_every_documented_field() -> None:
    assert wire.submit_body(_spec(desired_url="falcon", is_private=False)) == {
        "templateId": 3,
        "displayName": "Falcon",
        "description": "Falcon programme",
        "owners": ["adele@contoso.com"],
        "members": ["bob@contoso.com"],
        "comment": "please",
        "metadata": {"Cost Center": "CC-1"},
        "desiredUrl": "falcon",
        "isPrivate": False,
    }


def test_the_body_leaves_out_an_unset_url_and_privacy() -> None:
    body = wire.submit_body(_spec())
    assert "desiredUrl" not in body and "isPrivate" not in body
    assert body["description"] == "Falcon programme" and body["metadata"] == {"Cost Center": "CC-1"}


@pytest.mark.parametrize(
    ("template_id", "sent"),
    [("3", 3), ("042", 42), ("tpl-7", "tpl-7"), ("٣", "٣"), ("3.0", "3.0"), ("9" * 40, "9" * 40)],
)
def test_a_template_id_of_ascii_digits_is_sent_as_an_integer(
    template_id: str, sent: int | str
) -> None:
    assert wire.submit_body(_spec(template_id=template_id))["templateId"] == sent


@pytest.mark.parametrize(
    ("kind", "endpoint"),
    [
        (Workload.TEAM, "teams"),
        (Workload.GROUP, "groups"),
        (Workload.SITE, "sites"),
        (Workload.COMMUNITY, "yammer"),
    ],
)
def test_each_workload_has_its_provisioning_endpoint(kind: Workload, endpoint: str) -> None:
    assert wire.submit_endpoint(kind) == endpoint


# --- Provisioning requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pending", Status.PENDING_APPROVAL),
        ("approved", Status.APPROVED),
        ("Rejected", Status.REJECTED),
        ("InProgress", Status.IN_PROGRESS),
        ("In Progress", Status.IN_PROGRESS),
        ("IN PROGRESS", Status.IN_PROGRESS),
        ("Completed", Status.COMPLETED),
        ("FAILED", Status.FAILED),
        ("Canceled", Status.CANCELLED),
        ("Cancelled", Status.CANCELLED),
        ("PartiallyCompleted", Status.UNKNOWN),
        ("", Status.UNKNOWN),
    ],
)
def test_request_statuses_map_case_insensitively_ignoring_spaces(
    text: str, expected: Status
) -> None:
    found = wire.request_status({"id": "r1", "status": text})
    assert found.status == expected
    assert found.status_text == text


def test_an_unknown_status_keeps_points_word() -> None:
    found = wire.request_status({"id": "r1", "status": "Queued for review"})
    assert (found.status, found.status_text) == (Status.UNKNOWN, "Queued for review")


def test_a_full_request_reads_every_field() -> None:
    found = wire.request_status(
        {
            "id": "6f1c2d0e",
            "templateId": 1,
            "displayName": "PRJ - Project Falcon",
            "desiredUrl": "prj-project-falcon",
            "status": "Completed",
            "progress": 100,
            "requestedOn": "2026-08-20T09:15:02Z",
            "approval": {
                "process": "Manager and admin approval",
                "stages": [
                    {
                        "stage": 1,
                        "approvers": ["Manager of requester"],
                        "status": "Approved",
                        "resolvedBy": "nestor@contoso.com",
                        "comment": "fine",
                    },
                    {"stage": 2, "approvers": ["Point administrators"], "status": "Pending"},
                    "garbage",
                ],
            },
            "result": {
                "url": "https://contoso.sharepoint.com/sites/prj-project-falcon",
                "microsoftId": "3b735b14",
                "email": "prj-project-falcon@contoso.com",
            },
            "error": None,
            "correlationId": "c0ffee",
        }
    )
    assert (found.id, found.status, found.progress) == ("6f1c2d0e", Status.COMPLETED, 100)
    assert (found.display_name, found.desired_url) == ("PRJ - Project Falcon", "prj-project-falcon")
    assert found.workspace_url == "https://contoso.sharepoint.com/sites/prj-project-falcon"
    assert (found.workspace_id, found.email) == ("3b735b14", "prj-project-falcon@contoso.com")
    assert (found.error, found.correlation_id) == ("", "c0ffee")
    assert found.requested_at == datetime(2026, 8, 20, 9, 15, 2, tzinfo=UTC)
    assert found.stages == (
        ApprovalStage(
            Status.APPROVED, "nestor@contoso.com", "fine", ("Manager of requester",), number=1
        ),
        ApprovalStage(Status.PENDING_APPROVAL, "", "", ("Point administrators",), number=2),
    )
    assert found.approval_process == "Manager and admin approval"


@pytest.mark.parametrize(
    ("data", "expected_id"),
    [
        ({"id": 42}, "42"),
        ({"requestId": "abc"}, "abc"),
        ({"RequestId": "ABC"}, "ABC"),
        ({"id": None, "requestId": 7}, "7"),
        ({}, ""),
    ],
)
def test_a_request_id_comes_from_id_or_request_id_as_text(
    data: dict[str, Any], expected_id: str
) -> None:
    assert wire.request_status(data).id == expected_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-20T09:15:02Z", datetime(2026, 8, 20, 9, 15, 2, tzinfo=UTC)),
        ("2026-08-20T09:15:02", datetime(2026, 8, 20, 9, 15, 2, tzinfo=UTC)),
        ("2026-08-20T11:15:02+02:00", datetime(2026, 8, 20, 9, 15, 2, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
        (1755681302, None),
    ],
)
def test_requested_on_becomes_an_aware_time(text: Any, expected: datetime | None) -> None:
    found = wire.request_status({"id": "r", "requestedOn": text}).requested_at
    assert found == expected
    assert found is None or found.tzinfo is not None


@pytest.mark.parametrize(
    ("progress", "expected"), [(40, 40), ("55", 55), (True, None), (None, None)]
)
def test_progress_is_an_integer_or_nothing(progress: Any, expected: int | None) -> None:
    assert wire.request_status({"id": "r", "progress": progress}).progress == expected


@pytest.mark.parametrize(
    ("location", "found"),
    [
        ("/point/contoso/v1.0/provision/requests/abc-123", "abc-123"),
        ("https://p.example/v1.0/provision/requests/42?x=1", "42"),
        ("/v1.0/requests/abc/status", "abc"),
        ("/v1.0/provision/requests/77/", "77"),
        ("/v1.0/provision/requests", ""),
        ("/v1.0/provision/teams", ""),
        ("https://p.example/v1.0", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_a_location_header_names_the_created_request(location: str | None, found: str) -> None:
    assert wire.request_id_from_location(location) == found


# --- Groups and sites --------------------------------------------------------------------------


def test_a_group_reads_every_field() -> None:
    found = wire.group(
        {
            "id": "9d1b",
            "name": "Finance Team",
            "email": "finance@contoso.com",
            "groupType": "UnifiedGroup",
            "isTeam": True,
            "privacy": "Private",
            "ownersCount": 2,
            "membersCount": 14,
            "guestsCount": 1,
            "sensitivityLabel": "Confidential",
            "siteUrl": "https://contoso.sharepoint.com/sites/finance",
        }
    )
    assert (found.id, found.name, found.email, found.group_type) == (
        "9d1b",
        "Finance Team",
        "finance@contoso.com",
        "UnifiedGroup",
    )
    assert (found.is_team, found.privacy, found.sensitivity_label) == (
        True,
        "Private",
        "Confidential",
    )
    assert (found.owners_count, found.members_count, found.guests_count) == (2, 14, 1)
    assert found.site_url == "https://contoso.sharepoint.com/sites/finance"


def test_a_sparse_group_has_no_invented_counts() -> None:
    found = wire.group({"id": "g", "sensitivityLabel": {"name": "General"}, "isTeam": "yes"})
    assert (found.members_count, found.owners_count, found.guests_count) == (None, None, None)
    assert (found.sensitivity_label, found.is_team, found.email) == ("General", False, "")


@pytest.mark.parametrize(
    ("data", "site_type"),
    [
        (
            {"siteType": "Communication site", "template": "SITEPAGEPUBLISHING"},
            "Communication site",
        ),
        ({"template": "Team site"}, "Team site"),
        ({}, ""),
    ],
)
def test_a_site_type_falls_back_to_its_template(data: dict[str, Any], site_type: str) -> None:
    found = wire.site({"id": "s", "url": "https://x/sites/a", "title": "A", **data})
    assert (found.id, found.url, found.title, found.site_type) == (
        "s",
        "https://x/sites/a",
        "A",
        site_type,
    )


def test_a_site_names_its_primary_admin() -> None:
    assert wire.site({"id": "s", "primaryAdmin": "alice@contoso.com"}).primary_admin == (
        "alice@contoso.com"
    )


# --- Reports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "subject", "body"),
    [
        (ReportKind.GROUP_MEMBERSHIPS, "g1", {"groupIds": ["g1"]}),
        (ReportKind.GROUP_MEMBERSHIPS, "", {"groupIds": []}),
        (ReportKind.SITE_PERMISSIONS, "https://x/sites/a", {"siteUrls": ["https://x/sites/a"]}),
        (ReportKind.SITE_PERMISSIONS, "", {}),
        (ReportKind.USER_ACCESS, "adele@contoso.com", {"user": "adele@contoso.com"}),
    ],
)
def test_a_report_body_names_its_subject(
    kind: ReportKind, subject: str, body: dict[str, Any]
) -> None:
    assert wire.report_body(kind, subject) == body


def test_a_user_access_report_needs_a_user() -> None:
    with pytest.raises(ValueError, match="needs a user"):
        wire.report_body(ReportKind.USER_ACCESS, "")


@pytest.mark.parametrize(
    ("data", "done", "expected"),
    [
        (
            {"id": "j", "status": "InProgress", "progress": {"processedItems": 3, "totalItems": 9}},
            False,
            (JobState.RUNNING, 3, 9, ""),
        ),
        ({"id": "j", "status": "NotStarted"}, False, (JobState.RUNNING, None, None, "")),
        ({"id": "j", "status": "Succeeded"}, False, (JobState.SUCCEEDED, None, None, "")),
        ({"id": "j", "status": "InProgress"}, True, (JobState.SUCCEEDED, None, None, "")),
        (
            {"id": "j", "status": "Failed", "error": "boom"},
            False,
            (JobState.FAILED, None, None, "boom"),
        ),
        (
            {
                "id": "j",
                "status": "InProgress",
                "progress": {"processedSites": 35, "totalSites": 100},
            },
            False,
            (JobState.RUNNING, 35, 100, ""),
        ),
        ({"id": "j", "status": "Paused"}, False, (JobState.UNKNOWN, None, None, "")),
    ],
)
def test_a_report_job_reads_its_state_and_progress(
    data: dict[str, Any], done: bool, expected: tuple[JobState, int | None, int | None, str]
) -> None:
    job = wire.report_job(data, done=done)
    assert job.id == "j"
    assert (job.state, job.processed, job.total, job.error) == expected


@pytest.mark.parametrize(
    ("member_type", "kind"),
    [
        ("User", "user"),
        ("Guest", "guest"),
        ("Group", "group"),
        ("SecurityGroup", "group"),
        ("Robot", "robot"),
    ],
)
def test_a_membership_row_names_the_group_member_and_role(member_type: str, kind: str) -> None:
    row = wire.report_row(
        ReportKind.GROUP_MEMBERSHIPS,
        {
            "groupId": "g1",
            "groupName": "Finance Team",
            "id": "u1",
            "displayName": "Alice Smith",
            "email": "alice@contoso.com",
            "memberType": member_type,
            "role": "Owner",
        },
    )
    assert row == ReportRow(
        name="Alice Smith",
        upn="alice@contoso.com",
        kind=kind,
        kind_text=member_type,
        role="owner",
        group_id="g1",
        group_name="Finance Team",
    )


@pytest.mark.parametrize(
    ("principal_type", "kind"),
    [
        ("User", "user"),
        ("Guest", "guest"),
        ("SharePointGroup", "group"),
        ("SecurityGroup", "group"),
        ("Group", "group"),
        ("Everyone", "everyone"),
    ],
)
def test_a_site_permission_row_names_principal_level_scope_and_channel(
    principal_type: str, kind: str
) -> None:
    row = wire.report_row(
        ReportKind.SITE_PERMISSIONS,
        {
            "siteUrl": "https://x/sites/finance",
            "principalName": "Finance Owners",
            "principalType": principal_type,
            "permissionLevel": "Full Control",
            "scope": "Folder",
            "scopeUrl": "https://x/sites/finance/Shared Documents/Budget",
            "accessVia": "SharePointGroup",
        },
    )
    assert row == ReportRow(
        name="Finance Owners",
        kind=kind,
        kind_text=principal_type,
        site_url="https://x/sites/finance",
        permission="Full Control",
        access_via="SharePointGroup",
        scope="Folder",
        scope_url="https://x/sites/finance/Shared Documents/Budget",
    )


@pytest.mark.parametrize(
    ("workspace_type", "kind"),
    [
        ("Site", "site"),
        ("MicrosoftTeam", "team"),
        ("MicrosoftTeams", "team"),
        ("M365Group", "group"),
        ("OneDrive", "onedrive"),
        ("VivaEngage", "vivaengage"),
    ],
)
def test_a_user_access_row_names_the_workspace_and_permission(
    workspace_type: str, kind: str
) -> None:
    row = wire.report_row(
        ReportKind.USER_ACCESS,
        {
            "workspaceName": "Finance",
            "url": "https://x/sites/finance",
            "workspaceType": workspace_type,
            "permission": "Edit",
            "accessVia": "M365GroupMember",
        },
    )
    assert row == ReportRow(
        name="Finance",
        kind=kind,
        kind_text=workspace_type,
        site_url="https://x/sites/finance",
        permission="Edit",
        access_via="M365GroupMember",
    )


def test_a_report_row_with_nothing_known_is_empty() -> None:
    for kind in ReportKind:
        assert wire.report_row(kind, {"unexpected": 1}).to_json() == {}


# --- Lists -------------------------------------------------------------------------------------


def test_a_bare_array_is_one_whole_list() -> None:
    shape = wire.list_shape([{"id": 1}, "junk", {"id": 2}])
    assert (shape.items, shape.next_link, shape.total, shape.bare) == (
        [{"id": 1}, {"id": 2}],
        None,
        None,
        True,
    )


def test_an_odata_page_gives_its_items_count_and_next_link() -> None:
    shape = wire.list_shape(
        {
            "value": [{"id": 1}],
            "@odata.count": 301,
            "@odata.nextLink": "https://p/v1.0/groups?$skip=1",
        }
    )
    assert (shape.items, shape.total, shape.next_link, shape.bare) == (
        [{"id": 1}],
        301,
        "https://p/v1.0/groups?$skip=1",
        False,
    )


@pytest.mark.parametrize(
    "data", [None, {"id": "g1", "name": "One group"}, "text", 3, {"a": [], "b": []}]
)
def test_a_list_in_another_shape_is_an_error(data: Any) -> None:
    with pytest.raises(UpstreamError, match="unexpected shape"):
        wire.list_shape(data)


# --- Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "neutral"),
    [
        ("displayName", FIELD_DISPLAY_NAME),
        ("DisplayName", FIELD_DISPLAY_NAME),
        ("$.displayName", FIELD_DISPLAY_NAME),
        ("description", FIELD_DESCRIPTION),
        ("desiredUrl", FIELD_DESIRED_URL),
        ("desiredEmail", FIELD_DESIRED_URL),
        ("owners", FIELD_OWNERS),
        ("owners[1]", FIELD_OWNERS),
        ("members", FIELD_MEMBERS),
        ("isPrivate", FIELD_PRIVACY),
        ("comment", FIELD_COMMENT),
        ("templateId", FIELD_TEMPLATE),
        ("metadata.Cost Center", metadata_field("Cost Center")),
        ("Metadata.Cost Center", metadata_field("Cost Center")),
        ("metadata", ""),
        ("$", ""),
        ("", ""),
        ("groupIds", ""),
    ],
)
def test_points_field_names_become_neutral_ones(key: str, neutral: str) -> None:
    assert wire.neutral_field(key) == neutral


def test_a_validation_problem_becomes_neutral_field_errors() -> None:
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": {
            "DisplayName": ["The DisplayName field is required."],
            "desiredUrl": ["The URL is taken."],
            "desiredEmail": "The alias is taken.",
            "metadata.Cost Center": ["Cost Center is required."],
            "$": ["The request body must be a JSON object."],
            "sharing": ["Unknown."],
            "owners": [],
        },
    }
    assert wire.field_errors(body, status=400) == {
        FIELD_DISPLAY_NAME: ["The DisplayName field is required."],
        FIELD_DESIRED_URL: ["The URL is taken.", "The alias is taken."],
        metadata_field("Cost Center"): ["Cost Center is required."],
        "": ["The request body must be a JSON object.", "Unknown."],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "message": "An error has occurred.",
                "exceptionMessage": "ProvisioningTemplate with id 42 not found.",
                "exceptionType": RESOURCE_MISSING,
            },
            "ProvisioningTemplate with id 42 not found.",
        ),
        (
            {"title": "One or more validation errors occurred.", "errors": {}},
            "One or more validation errors occurred.",
        ),
        ({"message": "Provisioning is disabled."}, "Provisioning is disabled."),
        ({"ExceptionMessage": "Pascal words."}, "Pascal words."),
        (None, "HTTP 400 Bad Request"),
        (["not", "an", "object"], "HTTP 400 Bad Request"),
    ],
)
def test_an_error_body_gives_points_own_words(body: Any, message: str) -> None:
    assert wire.error_message(body, status=400, reason="Bad Request") == message
    assert wire.field_errors(body, status=400, reason="Bad Request") == {"": [message]}

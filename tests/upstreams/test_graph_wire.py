"""upstreams.graph.wire: Graph's JSON read tolerantly (key case, enum case, missing keys,
relative or absolute Location) and written as documented."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    Status,
    Workload,
    WorkspaceSpec,
)
from upstreams.graph import wire

ROOT = "https://graph.microsoft.com/v1.0"


def _spec(**changes: object) -> WorkspaceSpec:
    values: dict[str, object] = {
        "template_id": "t",
        "workload": Workload.GROUP,
        "display_name": "Falcon",
    }
    values.update(changes)
    return WorkspaceSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Project Zürich (2025)", "project-zurich-2025"),
        ("a.b@c;d", "a-b-c-d"),
        ("  --x--  ", "x"),
        ("under_score-ok", "under_score-ok"),
    ],
)
def test_slug_is_ascii_letters_digits_dash_underscore(text: str, expected: str) -> None:
    assert wire.slug(text) == expected


def test_slug_is_at_most_64_and_never_empty() -> None:
    assert len(wire.slug("x" * 100)) == 64
    assert wire.slug("日本語").startswith("group-")
    assert wire.slug("日本語") == wire.slug("日本語")  # the same name, the same alias


def test_nickname_prefers_the_desired_url() -> None:
    assert wire.nickname(_spec(desired_url="falcon-ops")) == "falcon-ops"
    assert wire.nickname(_spec()) == "falcon"


def test_group_body_binds_at_most_20_and_defaults_to_private() -> None:
    owners = [f"o{i}" for i in range(25)]
    body = wire.group_body(_spec(description="d"), "falcon", owners, [], ROOT)
    assert body["groupTypes"] == ["Unified"]
    assert body["mailEnabled"] is True and body["securityEnabled"] is False
    assert body["visibility"] == "Private"
    assert len(body["owners@odata.bind"]) == 20
    assert body["owners@odata.bind"][0] == f"{ROOT}/users/o0"
    assert "members@odata.bind" not in body
    assert body["description"] == "d"
    public = wire.group_body(_spec(is_private=False), "falcon", ["o"], ["m"], ROOT)
    assert public["visibility"] == "Public"
    assert public["members@odata.bind"] == [f"{ROOT}/users/m"]


def test_community_and_site_bodies() -> None:
    body = wire.community_body(_spec(is_private=False), ["o1"], ROOT)
    assert body["privacy"] == "public"
    assert body["owners@odata.bind"] == [f"{ROOT}/users/o1"]
    site = wire.site_body(_spec(), "contoso.sharepoint.com", "falcon", "a@contoso.com")
    assert site["webUrl"] == "https://contoso.sharepoint.com/sites/falcon"
    assert site["template"] == "sitepagepublishing"
    assert site["ownerIdentityToResolve"] == {"email": "a@contoso.com"}


def test_team_body_binds_the_group_and_the_standard_template() -> None:
    assert wire.team_body(ROOT, "g1") == {
        "template@odata.bind": f"{ROOT}/teamsTemplates('standard')",
        "group@odata.bind": f"{ROOT}/groups('g1')",
    }


@pytest.mark.parametrize(
    "location",
    [
        "/teams('g1')/operations('op-1')",
        "https://graph.microsoft.com/v1.0/teams('g1')/operations('op-1')",
        "/teams/g1/operations/op-1",
        "https://graph.microsoft.com/v1.0/teams(%27g1%27)/operations(%27op-1%27)",
    ],
)
def test_team_operation_from_relative_or_absolute_location(location: str) -> None:
    assert wire.team_operation(location) == ("g1", "op-1")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://graph.microsoft.com/beta/sites/getOperationStatus(operationId='abc')", "abc"),
        (
            "https://graph.microsoft.com/v1.0/employeeExperience/engagementAsyncOperations('e1')",
            "e1",
        ),
        ("/employeeExperience/engagementAsyncOperations/e2", "e2"),
        ("", ""),
        (None, ""),
    ],
)
def test_operation_id_from_any_location(location: str | None, expected: str) -> None:
    assert wire.operation_id(location) == expected


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("succeeded", Status.COMPLETED),
        ("Succeeded", Status.COMPLETED),
        ("failed", Status.FAILED),
        ("FAILED", Status.FAILED),
        ("notStarted", Status.IN_PROGRESS),
        ("InProgress", Status.IN_PROGRESS),
        ("running", Status.IN_PROGRESS),
        ("Running", Status.IN_PROGRESS),
        ("skipped", Status.UNKNOWN),
        ("unknownFutureValue", Status.UNKNOWN),
    ],
)
def test_operation_status_words_in_either_case(word: str, status: Status) -> None:
    found = wire.operation({"Status": word})
    assert found.status is status
    assert found.word == word


def test_operation_error_from_error_object_or_status_detail() -> None:
    assert wire.operation({"status": "failed", "error": {"message": "boom"}}).error == "boom"
    assert wire.operation({"status": "failed", "statusDetail": "no"}).error == "no"
    assert wire.operation({"resourceId": "r", "extra": 1}).resource_id == "r"


def test_person_mapping_and_unknown_licence() -> None:
    person = wire.person(
        {
            "id": "u1",
            "displayName": "Adele",
            "userPrincipalName": "adele@x",
            "mail": "adele@x",
            "accountEnabled": True,
            "userType": "Guest",
            "assignedLicenses": [{"skuId": "s"}],
        }
    )
    assert (person.upn, person.id, person.enabled, person.licensed, person.guest) == (
        "adele@x",
        "u1",
        True,
        True,
        True,
    )
    unlicensed = wire.person({"userPrincipalName": "b@x", "assignedLicenses": []})
    assert unlicensed.licensed is False
    unknown = wire.person({"UserPrincipalName": "c@x", "usertype": "Member"})
    assert unknown.upn == "c@x" and unknown.licensed is None and unknown.guest is False
    assert unknown.enabled is None


def test_group_mapping() -> None:
    group = wire.group(
        {
            "id": "g",
            "displayName": "Falcon",
            "groupTypes": ["Unified"],
            "visibility": "private",
            "resourceProvisioningOptions": ["Team"],
        }
    )
    assert (group.group_type, group.is_team, group.privacy) == ("UnifiedGroup", True, "Private")
    security = wire.group({"id": "s", "securityEnabled": True, "mailEnabled": False})
    assert security.group_type == "SecurityGroup" and not security.is_team
    assert wire.group({"mailEnabled": True}).group_type == "DistributionList"


def test_workspace_created_at_and_missing_created_at() -> None:
    found = wire.group_workspace({"id": "g", "createdDateTime": "2025-01-02T03:04:05.1234567Z"})
    assert found.created_at == datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert wire.group_workspace({"id": "g"}).created_at is None


def test_page_reads_value_next_link_and_count_any_case() -> None:
    page = wire.page(
        {"VALUE": [{"id": 1}, "junk"], "@odata.NextLink": "https://x/n", "@odata.count": 7}
    )
    assert page.items == [{"id": 1}] and page.next_link == "https://x/n" and page.count == 7
    assert wire.page(None).items == []


def test_error_envelope_details_to_neutral_fields() -> None:
    data = {
        "error": {
            "code": "Request_BadRequest",
            "message": "Invalid",
            "details": [
                {"target": "displayName", "code": "x", "message": "too long"},
                {"Target": "visibility", "Code": "y", "Message": "bad"},
                {"target": "owners", "code": "z", "message": "none"},
                {"target": "whatever", "code": "z", "message": "odd"},
            ],
        }
    }
    assert wire.field_errors(data, status=400) == {
        FIELD_DISPLAY_NAME: ["too long"],
        FIELD_PRIVACY: ["bad"],
        FIELD_OWNERS: ["none"],
        "": ["odd"],
    }


def test_error_without_details_names_the_property_in_the_message() -> None:
    data = {
        "error": {
            "code": "request_BadRequest",
            "message": "Invalid value for property 'mailNickname'.",
        }
    }
    assert wire.field_errors(data, status=400) == {FIELD_DESIRED_URL: [data["error"]["message"]]}
    assert wire.field_errors({"error": {"message": "Nope"}}, status=400) == {"": ["Nope"]}
    assert wire.field_errors(None, status=400, reason="Bad Request") == {"": ["400 Bad Request"]}


def test_nickname_conflict_by_details_or_by_message() -> None:
    documented = {
        "error": {
            "code": "Request_BadRequest",
            "message": "Another object with the same value for property mailNickname already exists.",
            "details": [{"target": "mailNickname", "code": "ObjectConflict"}],
        }
    }
    variant = {
        "error": {
            "code": "request_BadRequest",
            "message": "Another object with the same value for property mailNickname already exists.",
        }
    }
    other = {"error": {"code": "Request_BadRequest", "message": "Property displayName too long"}}
    by_case = {"ERROR": {"DETAILS": [{"TARGET": "MailNickname", "CODE": "objectconflict"}]}}
    assert wire.nickname_taken(documented)
    assert wire.nickname_taken(variant)
    assert wire.nickname_taken(by_case)
    assert not wire.nickname_taken(other)


def test_sync_jobs_mapping() -> None:
    jobs = wire.sync_jobs(
        {"id": "sp1", "displayName": "Slack"},
        {
            "value": [
                {
                    "id": "j1",
                    "templateId": "slack",
                    "schedule": {"state": "Active"},
                    "status": {
                        "code": "Quarantine",
                        "lastExecution": {
                            "timeEnded": "2025-05-01T10:00:00Z",
                            "error": {"message": "bad token"},
                        },
                    },
                },
                {"id": "j2", "schedule": {"state": "Paused"}},
            ]
        },
    )
    assert [(j.job_id, j.status, j.last_error) for j in jobs] == [
        ("j1", "Quarantine", "bad token"),
        ("j2", "Paused", ""),
    ]
    assert jobs[0].app_name == "Slack" and jobs[0].last_run_at is not None


def test_quoting_for_filter_and_search() -> None:
    assert wire.quoted("O'Brien") == "'O''Brien'"
    assert wire.search_term('a"b') == '"displayName:a b"'
    assert wire.count(5) == 5 and wire.count("12") == 12 and wire.count(None) is None

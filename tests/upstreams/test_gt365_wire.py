"""GT365's JSON read and written by upstreams.gt365.wire: seed 001's samples literally, and
the other shapes a one-sample contract allows (key case, a bare group, plain text)."""

from __future__ import annotations

import pytest

from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    Workload,
    WorkspaceSpec,
    metadata_field,
)
from upstreams.gt365 import wire

GROUP_ID = "7058b418-4c15-49f7-b9b5-3630a16f4c75"
LOCATION = (
    f"https://graph.microsoft.com/v2/21e6f8d3/directoryObjects/{GROUP_ID}"
    "/Microsoft.DirectoryServices.Group"
)

# Seed 001's 201 body, trimmed to the keys that matter plus the request message whose
# requestUri must not be mistaken for the group.
WRAPPED = {
    "version": {"major": 1, "minor": 1},
    "content": {"headers": [{"key": "Content-Type", "value": ["application/json"]}]},
    "statusCode": 201,
    "reasonPhrase": "Created",
    "headers": [
        {"key": "Cache-Control", "value": ["private"]},
        {"key": "Location", "value": [LOCATION]},
        {"key": "request-id", "value": ["82239735-900c-4d5a-bd08-1749b932e56e"]},
    ],
    "requestMessage": {
        "method": {"method": "POST"},
        "requestUri": "https://graph.microsoft.com/v1.0/groups",
        "headers": [{"key": "Authorization", "value": ["Bearer {some-value}"]}],
    },
    "isSuccessStatusCode": True,
}
CLASSIFICATION_REFUSED = {
    "error": {
        "code": "Request_BadRequest",
        "message": "Property classification has an invalid value.",
        "innerError": {"request-id": "20567d85", "date": "2019-10-01T07:22:13"},
        "details": [{"target": "classification", "code": "InvalidValue"}],
    }
}
ALIAS_TAKEN = {
    "error": {
        "code": "Request_BadRequest",
        "message": "Another object with the same value for property mailNickname already exists.",
        "details": [{"target": "mailNickname", "code": "ObjectConflict"}],
    }
}
OWNER_MISSING = {
    "error": {
        "code": "InvalidRequest",
        "message": "Team owner not found for 5a6b746c-57eb-4d74-85c8-101af25d8b70.",
    }
}
VISIBILITY = "No visibility (Private|Public) was provided or had a wrong label."


def _spec(**changes: object) -> WorkspaceSpec:
    values: dict[str, object] = {
        "template_id": "t",
        "workload": Workload.GROUP,
        "display_name": "My Group 10",
        "desired_url": "mygroup10",
        "description": "This is my project group 10",
        "owners": ("nestorw@M365x193702.onmicrosoft.com",),
        "members": ("christiec@M365x193702.onmicrosoft.com",),
        "is_private": True,
    }
    values.update(changes)
    return WorkspaceSpec(**values)  # type: ignore[arg-type]


# --- The request -------------------------------------------------------------------------------


def test_the_request_body_has_seed_001s_keys() -> None:
    assert wire.submit_body(_spec()) == {
        "displayName": "My Group 10",
        "mailNickname": "mygroup10",
        "description": "This is my project group 10",
        "ownerUPNs": ["nestorw@M365x193702.onmicrosoft.com"],
        "memberUPNs": ["christiec@M365x193702.onmicrosoft.com"],
        "createTeam": False,
        "visibility": "Private",
    }


def test_a_team_asks_gt365_to_create_the_team() -> None:
    assert wire.submit_body(_spec(workload=Workload.TEAM))["createTeam"] is True


@pytest.mark.parametrize(
    ("is_private", "word"), [(True, "Private"), (False, "Public"), (None, "Private")]
)
def test_privacy_is_one_of_the_two_documented_words(is_private: bool | None, word: str) -> None:
    assert wire.submit_body(_spec(is_private=is_private))["visibility"] == word


def test_the_classification_comes_from_metadata_in_any_key_case() -> None:
    body = wire.submit_body(_spec(metadata={"Classification": "Confidential"}))
    assert body["classification"] == "Confidential"
    assert "classification" not in wire.submit_body(_spec(metadata={"classification": ""}))


def test_without_an_alias_one_is_made_from_the_name() -> None:
    assert wire.submit_body(_spec(desired_url=""))["mailNickname"] == "my-group-10"
    assert wire.alias_slug("Café Ölstrasse — Plan!") == "cafe-olstrasse-plan"
    assert len(wire.alias_slug("x" * 200)) == 64


def test_a_name_without_ascii_gets_the_same_alias_every_time() -> None:
    first = wire.alias_slug("営業チーム")
    assert first.startswith("group-") and first == wire.alias_slug("営業チーム")


# --- Successes -----------------------------------------------------------------------------------


def test_the_wrapped_message_names_the_group_by_its_location() -> None:
    assert wire.failure(WRAPPED, status=201) is None
    assert wire.created(WRAPPED).id == GROUP_ID


def test_the_wrapped_message_is_read_in_any_key_case() -> None:
    pascal = {
        "StatusCode": 201,
        "IsSuccessStatusCode": True,
        "Headers": [{"Key": "location", "Value": [LOCATION]}],
    }
    assert wire.failure(pascal, status=201) is None
    assert wire.created(pascal).id == GROUP_ID


def test_a_bare_group_is_read_in_pascal_case() -> None:
    bare = {"Id": GROUP_ID, "DisplayName": "Falcon", "Mail": "falcon@contoso.com"}
    group = wire.created(bare)
    assert (group.id, group.display_name, group.mail) == (GROUP_ID, "Falcon", "falcon@contoso.com")


def test_an_answer_naming_no_group_has_no_id() -> None:
    assert wire.created(None).id == ""
    assert wire.created({"statusCode": 201, "isSuccessStatusCode": True}).id == ""


def test_the_http_location_header_or_a_bare_id_name_the_group() -> None:
    assert wire.created(None, location=LOCATION).id == GROUP_ID
    assert wire.created(None, text=f'"{GROUP_ID}"').id == GROUP_ID


# --- Errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {**WRAPPED, "statusCode": 400, "reasonPhrase": "Bad Request", "isSuccessStatusCode": False},
        {**WRAPPED, "isSuccessStatusCode": "false"},
        {**WRAPPED, "statusCode": 409},
    ],
)
def test_a_wrapped_message_that_failed_is_an_error_not_a_success(body: dict[str, object]) -> None:
    found = wire.failure(body, status=201)
    assert found is not None and found.status >= 400


def test_a_2xx_holding_an_error_or_an_error_sentence_is_an_error() -> None:
    assert wire.failure(CLASSIFICATION_REFUSED, status=200) is not None
    assert wire.failure(None, status=200, text=VISIBILITY) is not None
    assert wire.failure(VISIBILITY, status=200) is not None
    assert wire.failure({"Message": VISIBILITY}, status=200) is not None
    assert wire.failure({"Id": GROUP_ID, "Message": "Created."}, status=201) is None
    assert wire.failure(None, status=200, text=GROUP_ID) is None


def test_graph_style_errors_are_read_with_their_details() -> None:
    found = wire.problem(CLASSIFICATION_REFUSED, status=400)
    assert found.code == "Request_BadRequest"
    assert found.details == (("classification", "InvalidValue"),)


def test_plain_text_and_message_objects_are_read() -> None:
    assert wire.problem(None, status=400, text=VISIBILITY).message == VISIBILITY
    assert wire.problem({"Message": VISIBILITY}, status=400).message == VISIBILITY


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (CLASSIFICATION_REFUSED, metadata_field("classification")),
        (
            {"Message": "Property classification has an invalid value."},
            metadata_field("classification"),
        ),
        (OWNER_MISSING, FIELD_OWNERS),
        ({"Message": "Team member not found for x@y."}, FIELD_MEMBERS),
        (VISIBILITY, FIELD_PRIVACY),
        ("No displayName was provided.", FIELD_DISPLAY_NAME),
        (
            {
                "error": {
                    "code": "Request_BadRequest",
                    "message": "Property mailNickname has an invalid value.",
                    "details": [{"target": "mailNickname", "code": "InvalidValue"}],
                }
            },
            FIELD_DESIRED_URL,
        ),
        ({"Message": "Something else went wrong."}, ""),
    ],
)
def test_each_error_lands_on_its_field(body: object, field: str) -> None:
    errors = wire.field_errors(wire.problem(body, status=400))
    assert list(errors) == [field]


def test_a_refused_classification_says_to_set_it_in_the_policy_first() -> None:
    [message] = wire.field_errors(wire.problem(CLASSIFICATION_REFUSED, status=400))[
        metadata_field("classification")
    ]
    assert "set the value in the classification policy first" in message


@pytest.mark.parametrize(
    "body",
    [ALIAS_TAKEN, {"Message": ALIAS_TAKEN["error"]["message"]}],
)
def test_a_taken_alias_is_a_duplicate_on_the_alias(body: object) -> None:
    assert wire.duplicate(wire.problem(body, status=400)) == FIELD_DESIRED_URL
    assert wire.duplicate(wire.problem(CLASSIFICATION_REFUSED, status=400)) is None

from __future__ import annotations

from provisioning.naming import final_names, slugify
from provisioning.payload import RequestData, form_field_for

PROJECT = {
    "namingRule": {"prefix": "PRJ - ", "suffix": ""},
    "urlSettings": {"prefix": "prj-", "suffix": "", "hideWorkspaceName": False, "maxLength": 20},
    "emailSettings": {"prefix": "prj-", "suffix": "", "hideWorkspaceName": False},
}


def test_the_naming_rule_wraps_the_typed_name() -> None:
    names = final_names(PROJECT, "  Project Falcon ")
    assert names.display_name == "PRJ - Project Falcon"
    assert names.url_slug == "prj-project-falcon"
    assert names.email_alias == "prj-project-falcon"


def test_a_desired_url_replaces_the_slug_of_the_name() -> None:
    assert final_names(PROJECT, "Project Falcon", "falcon").url_slug == "prj-falcon"


def test_it_flags_a_url_over_the_template_limit() -> None:
    names = final_names(PROJECT, "A very long project name indeed")
    assert names.url_too_long and names.url_max_length == 20


def test_workloads_without_url_or_mail_get_none() -> None:
    names = final_names({"namingRule": {"prefix": "", "suffix": " (Community)"}}, "Runners")
    assert (names.display_name, names.url_slug, names.email_alias) == (
        "Runners (Community)",
        None,
        None,
    )


def test_slugify_drops_what_a_url_cannot_hold() -> None:
    assert slugify("Café & Co  Team!") == "caf--co-team"  # as Point does it


def test_the_point_body_carries_the_documented_fields() -> None:
    data = RequestData(
        display_name="Falcon",
        owners=["a@x"],
        members=["b@x"],
        is_private=True,
        metadata={"Cost Center": "CC-1"},
        desired_url="falcon",
        comment="why",
    )
    assert data.point_body("7") == {
        "templateId": 7,
        "displayName": "Falcon",
        "description": "",
        "owners": ["a@x"],
        "members": ["b@x"],
        "comment": "why",
        "metadata": {"Cost Center": "CC-1"},
        "desiredUrl": "falcon",
        "isPrivate": True,
    }
    assert RequestData.from_dict(data.as_dict()) == data


def test_upstream_error_keys_map_to_form_fields() -> None:
    metadata = {"Cost Center": "meta__cost_center"}
    assert form_field_for("desiredUrl", metadata) == "desired_url"
    assert form_field_for("metadata.Cost Center", metadata) == "meta__cost_center"
    assert form_field_for("metadata.Unknown", metadata) == "__all__"
    assert form_field_for("templateId", metadata) == "__all__"

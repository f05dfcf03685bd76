from __future__ import annotations

import pytest

from provisioning.naming import final_names, slugify
from provisioning.payload import RequestData, form_errors, form_field_for
from upstreams.contract import AddressRules, Affixes, TemplateRules, Workload, WorkspaceSpec

PROJECT = TemplateRules(
    naming=Affixes("PRJ - ", ""),
    url=AddressRules(prefix="prj-", max_length=20),
    alias=AddressRules(prefix="prj-"),
)


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
    names = final_names(TemplateRules(naming=Affixes("", " (Community)")), "Runners")
    assert (names.display_name, names.url_slug, names.email_alias) == (
        "Runners (Community)",
        None,
        None,
    )


def test_slugify_drops_what_a_url_cannot_hold() -> None:
    assert slugify("Café & Co  Team!") == "cafe-co-team"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Zürich", "zurich"),
        ("Ærø Straße", "aero-strasse"),
        ("Team - ", "team"),
        ("- Ops -- Day -", "ops-day"),
        ("Ünïcödé_Name", "unicode_name"),
        ("東京", ""),
    ],
)
def test_names_become_ascii_urls_that_never_end_in_a_dash(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_a_request_becomes_the_neutral_spec_the_upstream_renders() -> None:
    data = RequestData(
        display_name="Falcon",
        owners=["a@x"],
        members=["b@x"],
        is_private=True,
        metadata={"Cost Center": "CC-1"},
        desired_url="falcon",
        comment="why",
    )
    assert data.to_spec(template_id="7", workload="team") == WorkspaceSpec(
        template_id="7",
        workload=Workload.TEAM,
        display_name="Falcon",
        owners=("a@x",),
        members=("b@x",),
        is_private=True,
        metadata={"Cost Center": "CC-1"},
        desired_url="falcon",
        comment="why",
    )
    assert RequestData.from_dict(data.as_dict()) == data


def test_neutral_field_errors_land_on_the_form_fields() -> None:
    assert form_field_for("desired_url") == "desired_url"
    assert form_field_for("metadata.Cost Center") == "meta__cost_center"
    assert form_field_for("template") == "__all__"
    assert form_field_for("") == "__all__"
    assert form_field_for("something.else") == "__all__"
    assert form_errors({"owners": ["too few"], "": ["no"], "template": ["gone"]}) == {
        "owners": ["too few"],
        "__all__": ["no", "gone"],
    }

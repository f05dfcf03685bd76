"""The request form follows the template: fields per workload, owners, guests, metadata types."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning.forms import RequestForm, initial_for, parse_upns
from provisioning.models import Template
from provisioning.payload import RequestData, metadata_form_field
from tenants.models import Tenant
from tests.provisioning.ui_fixtures import make_template

pytestmark = pytest.mark.django_db

OWNERS = "alice@contoso.example\nbob@contoso.example"
PROJECT_METADATA = {
    "meta__cost_center": "CC-100",
    "meta__project_manager": "pm@contoso.example",
    "meta__department": "Finance",
}


def form_for(template: Template, **data: Any) -> RequestForm:
    return RequestForm(data, template=template)


def project(**changes: Any) -> dict[str, Any]:
    data = {"display_name": "Apollo", "is_private": "private", "owners": OWNERS, **PROJECT_METADATA}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- Fields per workload ----------------------------------------------------------------------


def test_a_team_template_with_editable_url_and_requester_privacy_offers_both(
    project_template: Template,
) -> None:
    form = RequestForm(template=project_template)
    assert {"display_name", "desired_url", "is_private", "owners", "members", "comment"} <= set(
        form.fields
    )
    assert form.fixed_privacy == ""


def test_a_template_with_fixed_privacy_shows_it_instead_of_asking(tenant_a: Tenant) -> None:
    form = RequestForm(template=make_template(tenant_a, 2))  # Department team: Private
    assert "is_private" not in form.fields
    assert form.fixed_privacy == "Private"


def test_a_hidden_url_is_not_editable(tenant_a: Tenant) -> None:
    assert (
        "desired_url" not in RequestForm(template=make_template(tenant_a, 4)).fields
    )  # Confidential


@pytest.mark.parametrize(
    "template_id, owners, fields",
    [
        (11, "a@contoso.example", {"meta__cost_center": ""}),  # Microsoft 365 group
        (
            21,
            "a@contoso.example",
            {"meta__audience": "Employees", "is_private": None},
        ),  # Communication site
        (31, "a@contoso.example", {"meta__topic": "Cycling"}),  # Viva Engage community
    ],
)
def test_each_workload_accepts_a_valid_request(
    tenant_a: Tenant, template_id: int, owners: str, fields: dict[str, Any]
) -> None:
    template = make_template(tenant_a, template_id)
    data = {"display_name": "Riders", "owners": owners, "is_private": "public", **fields}
    form = form_for(template, **{k: v for k, v in data.items() if v is not None})
    assert form.is_valid(), form.errors
    assert form.to_request_data().display_name == "Riders"


def test_a_community_has_no_url_field(tenant_a: Tenant) -> None:
    assert "desired_url" not in RequestForm(template=make_template(tenant_a, 31)).fields


def test_a_valid_project_request_becomes_request_data(project_template: Template) -> None:
    form = form_for(
        project_template,
        **project(
            desired_url="apollo",
            members="carol@contoso.example, dave@contoso.example",
            comment=" thanks ",
            meta__end_date="2030-01-31",
            meta__budget="1500",
            meta__external_partners="yes",
        ),
    )
    assert form.is_valid(), form.errors
    data = form.to_request_data()
    assert data == RequestData(
        display_name="Apollo",
        desired_url="apollo",
        is_private=True,
        owners=["alice@contoso.example", "bob@contoso.example"],
        members=["carol@contoso.example", "dave@contoso.example"],
        metadata={
            "Cost Center": "CC-100",
            "Project Manager": "pm@contoso.example",
            "Department": "Finance",
            "End Date": "2030-01-31",
            "Budget": 1500,
            "External Partners": True,
        },
        comment="thanks",
    )


def test_the_name_is_required(project_template: Template) -> None:
    form = form_for(project_template, **project(display_name="   "))
    assert not form.is_valid()
    assert "display_name" in form.errors


def test_a_url_with_spaces_is_refused(project_template: Template) -> None:
    form = form_for(project_template, **project(desired_url="my project"))
    assert not form.is_valid()
    assert "desired_url" in form.errors


def test_a_url_longer_than_the_template_allows_is_refused(tenant_a: Tenant) -> None:
    template = make_template(tenant_a, 21)  # Communication site: comm- prefix, 48 characters
    form = form_for(
        template,
        display_name="News",
        owners="a@contoso.example",
        meta__audience="Everyone",
        desired_url="x" * 45,
    )
    assert not form.is_valid()
    assert "at most 48" in form.errors["desired_url"][0]


# --- Owners and members ------------------------------------------------------------------------


def test_upns_may_be_one_per_line_or_comma_separated_and_repeat() -> None:
    assert parse_upns("a@x.com, b@x.com\nA@X.com;c@x.com") == ["a@x.com", "b@x.com", "c@x.com"]


def test_an_owner_that_is_not_a_upn_is_refused_by_name(project_template: Template) -> None:
    form = form_for(project_template, **project(owners="alice@contoso.example\nnot a user"))
    assert not form.is_valid()
    assert any("“not”" in e or "not a valid" in e for e in form.errors["owners"])


def test_too_few_owners_are_refused(project_template: Template) -> None:
    form = form_for(project_template, **project(owners="alice@contoso.example"))  # min 2
    assert not form.is_valid()
    assert "at least 2" in form.errors["owners"][0]


def test_too_many_owners_are_refused(project_template: Template) -> None:
    owners = "\n".join(f"o{i}@contoso.example" for i in range(6))  # max 5
    form = form_for(project_template, **project(owners=owners))
    assert not form.is_valid()
    assert "at most 5" in form.errors["owners"][0]


def test_the_templates_own_owners_count_towards_the_bounds(tenant_a: Tenant) -> None:
    template = make_template(tenant_a, 2)  # Department team: 1 predefined owner, 1-3 owners
    assert template.definition["owners"]["predefined"]
    ok = form_for(template, display_name="HR", meta__department="HR")
    assert ok.is_valid(), ok.errors  # the predefined owner alone is enough
    too_many = form_for(
        template,
        display_name="HR",
        meta__department="HR",
        owners="a@contoso.example, b@contoso.example, c@contoso.example",
    )
    assert not too_many.is_valid()
    assert "counting the template's own owners" in too_many.errors["owners"][0]


def test_a_guest_is_never_an_owner(project_template: Template) -> None:
    form = form_for(
        project_template,
        **project(owners=OWNERS + "\nann_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
    )
    assert not form.is_valid()
    assert "Guests cannot be owners" in form.errors["owners"][0]


def test_guests_may_be_members_when_the_template_allows_it(project_template: Template) -> None:
    form = form_for(
        project_template, **project(members="ann_fabrikam.com#EXT#@contoso.onmicrosoft.com")
    )
    assert form.is_valid(), form.errors


def test_guests_are_refused_as_members_when_the_template_says_so(tenant_a: Tenant) -> None:
    template = make_template(tenant_a, 2)  # guests.allowAsMembers false
    form = form_for(
        template,
        display_name="HR",
        meta__department="HR",
        members="ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
    )
    assert not form.is_valid()
    assert "does not allow guests" in form.errors["members"][0]


def test_the_requester_is_the_first_owner_of_a_new_form(project_template: Template) -> None:
    initial = initial_for(project_template, requester_upn="alice@contoso.example")
    assert initial["owners"] == "alice@contoso.example"


def test_each_form_shown_gets_its_own_submission_key(project_template: Template) -> None:
    first = initial_for(project_template, requester_upn="alice@contoso.example")["submission_key"]
    second = initial_for(project_template, requester_upn="alice@contoso.example")["submission_key"]
    assert len(first) == 32 and first != second


# --- Metadata, one type at a time --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("Cost Center", "CC-1", ""),  # Text, required
        ("Project Manager", "pm@contoso.example", "Peter Manager"),  # People
        ("Department", "Legal", "Bakery"),  # Dropdown
        ("End Date", "2031-12-31", "31/12/2031x"),  # Date
        ("Budget", "12.5", "a lot"),  # Number
        ("External Partners", "no", "maybe"),  # YesNo
    ],
)
def test_each_metadata_type_accepts_good_and_refuses_bad_values(
    project_template: Template, name: str, good: str, bad: str
) -> None:
    field = metadata_form_field(name)
    assert form_for(project_template, **project(**{field: good})).is_valid()
    refused = form_for(project_template, **project(**{field: bad}))
    assert not refused.is_valid()
    assert list(refused.errors) == [field]


def test_metadata_fields_have_matching_widgets(project_template: Template) -> None:
    form = RequestForm(template=project_template)
    html = {name: str(form[name]) for name in form.metadata_fields}
    assert 'type="text"' in html["meta__cost_center"] and "required" in html["meta__cost_center"]
    assert 'inputmode="email"' in html["meta__project_manager"]
    assert 'type="date"' in html["meta__end_date"]
    assert 'type="number"' in html["meta__budget"]
    assert "<select" in html["meta__department"] and "Finance" in html["meta__department"]
    assert "<select" in html["meta__external_partners"]


def test_optional_metadata_left_empty_is_not_sent(project_template: Template) -> None:
    form = form_for(project_template, **project())
    assert form.is_valid(), form.errors
    assert set(form.to_request_data().metadata) == {"Cost Center", "Project Manager", "Department"}


def test_a_clone_fills_every_field_back_in(project_template: Template) -> None:
    data = RequestData(
        display_name="Apollo",
        desired_url="apollo",
        is_private=False,
        owners=["a@x.com", "b@x.com"],
        metadata={"External Partners": True, "Budget": 3},
        comment="c",
    )
    initial = initial_for(project_template, requester_upn="z@x.com", data=data)
    assert initial["owners"] == "a@x.com\nb@x.com"
    assert initial["is_private"] == "public"
    assert initial["meta__external_partners"] == "yes"
    assert initial["meta__budget"] == 3


def test_upstream_errors_of_a_failed_request_sit_next_to_their_fields(
    project_template: Template,
) -> None:
    form = RequestForm(
        template=project_template,
        upstream_errors={"desired_url": ["Taken."], "__all__": ["Whole."]},
    )
    assert {bf.name: errors for bf, errors in form.workspace_rows()}["desired_url"] == ["Taken."]
    assert form.general_upstream_errors() == ["Whole."]


def test_owners_are_required_only_when_the_templates_own_owners_fall_short(
    tenant_a: Tenant, project_template: Template
) -> None:
    assert RequestForm(template=project_template).fields["owners"].required  # 2-5, none given
    assert (
        not RequestForm(template=make_template(tenant_a, 2)).fields["owners"].required
    )  # 1 predefined


def test_the_comment_is_for_the_approver_only_when_someone_approves(tenant_a: Tenant) -> None:
    labels = {}
    for template_id in (1, 2, 3, 4, 11, 12, 21, 22, 31, 32):
        template = make_template(tenant_a, template_id)
        field = RequestForm(template=template).fields.get("comment")
        if field is not None:
            labels[template.approval] = str(field.label)
    assert labels == {
        Template.Approval.MANUAL: "Comment for the approver",
        Template.Approval.AUTOMATIC: "Comment",
    }


def test_an_end_date_in_the_past_is_refused_next_to_its_field(project_template: Template) -> None:
    form = form_for(project_template, **project(meta__end_date="2001-05-01"))
    assert not form.is_valid()
    assert "cannot be in the past" in form.errors["meta__end_date"][0]
    html = str(form["meta__end_date"])
    assert 'min="' in html  # the browser's date picker starts today too


def test_a_date_out_of_any_plausible_range_is_refused(project_template: Template) -> None:
    form = form_for(project_template, **project(meta__end_date="9999-01-01"))
    assert "between the years 1900 and 2200" in form.errors["meta__end_date"][0]


def test_a_negative_number_is_refused_next_to_its_field(project_template: Template) -> None:
    form = form_for(project_template, **project(meta__budget="-5"))
    assert not form.is_valid()
    assert "greater than or equal to 0" in form.errors["meta__budget"][0]


def test_a_name_without_a_letter_a_url_can_hold_asks_for_the_address(
    project_template: Template,
) -> None:
    form = form_for(project_template, **project(display_name="東京"))
    assert not form.is_valid()
    assert "type the address" in form.errors["desired_url"][0]
    assert form_for(
        project_template, **project(display_name="東京", desired_url="tokyo")
    ).is_valid()

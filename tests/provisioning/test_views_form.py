"""The request form page: submit, errors in place, live preview, availability, clone."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock, patch

import pytest

from portal.models import User
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State, TransitionRefused
from tenants import upstream
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request, make_template
from upstreams.contract import Unavailable, Workspace

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}

VALID = {
    "display_name": "Apollo",
    "desired_url": "",
    "is_private": "private",
    "owners": "alice@contoso.example\nbob@contoso.example",
    "members": "",
    "meta__cost_center": "CC-1",
    "meta__project_manager": "pm@contoso.example",
    "meta__department": "Finance",
}


def url(template: Template, suffix: str = "") -> str:
    return f"/requests/new/{template.pk}/{suffix}"


def test_the_form_prefills_the_requester_as_owner(
    project_template: Template, requester_a: User
) -> None:
    page = client_for(requester_a).get(url(project_template)).content.decode()
    assert requester_a.email in page
    assert 'name="meta__department"' in page and "Finance" in page


def test_submit_creates_the_request_and_goes_to_its_page(
    project_template: Template, requester_a: User
) -> None:
    with patch("provisioning.services.requests.enqueue_send"):
        response = client_for(requester_a).post(url(project_template), VALID)
    created = ProvisioningRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{created.pk}/"
    assert created.requested_by == requester_a and created.final_name == "PRJ - Apollo"
    assert created.form_data["metadata"]["Department"] == "Finance"


def test_errors_show_next_to_the_field_and_keep_every_input(
    project_template: Template, requester_a: User
) -> None:
    data = {
        **VALID,
        "owners": "alice@contoso.example",
        "desired_url": "bad url",
        "meta__budget": "lots",
        "description": "Keep me",
        "comment": "Also me",
    }
    response = client_for(requester_a).post(url(project_template), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert ProvisioningRequest.objects.count() == 0
    assert "at least 2 owners" in page
    assert "Use only letters" in page
    assert "Enter a number." in page
    for kept in ("Keep me", "Also me", "bad url", "lots", "CC-1", "pm@contoso.example"):
        assert kept in page
    assert 'aria-invalid="true"' in page


def test_a_refused_submit_is_shown_on_the_form(
    project_template: Template, requester_a: User
) -> None:
    with patch(
        "provisioning.services.requests.request_submit",
        side_effect=TransitionRefused("Template gone."),
    ):
        page = client_for(requester_a).post(url(project_template), VALID).content.decode()
    assert "Template gone." in page


def test_templates_of_other_tenants_are_404(fabrikam_template: Template, requester_a: User) -> None:
    assert client_for(requester_a).get(url(fabrikam_template)).status_code == 404


def test_hidden_templates_cannot_be_requested(tenant_a: Tenant, requester_a: User) -> None:
    hidden = make_template(tenant_a, 3, hidden=True)
    assert client_for(requester_a).get(url(hidden)).status_code == 404


# --- Preview ----------------------------------------------------------------------------------


def test_the_preview_fragment_shows_the_final_name_url_and_alias(
    project_template: Template, requester_a: User
) -> None:
    response = client_for(requester_a).get(
        url(project_template, "preview"), {"display_name": "Moon Shot"}, headers=HTMX
    )
    page = response.content.decode()
    assert "<html" not in page
    assert "PRJ - Moon Shot" in page and "prj-moon-shot" in page


def test_the_preview_uses_the_desired_url(project_template: Template, requester_a: User) -> None:
    page = (
        client_for(requester_a)
        .get(
            url(project_template, "preview"),
            {"display_name": "Moon Shot", "desired_url": "luna"},
            headers=HTMX,
        )
        .content.decode()
    )
    assert "/sites/prj-luna" in page


def test_the_preview_without_htmx_goes_to_the_form(
    project_template: Template, requester_a: User
) -> None:
    response = client_for(requester_a).get(url(project_template, "preview"))
    assert response.status_code == 302 and response["Location"] == url(project_template)


# --- Availability -----------------------------------------------------------------------------


def provider(**methods: Any) -> Any:
    """The tenant's upstream replaced by a mock with these methods' answers."""
    fake = MagicMock()
    for name, value in methods.items():
        setattr(fake, name, value)
    return patch("provisioning.availability.upstream.provider_for", return_value=fake)


def check(client: Any, template: Template, **params: str) -> str:
    response = client.get(url(template, "availability"), params, headers=HTMX)
    assert response.status_code == 200
    return str(response.content.decode())


def test_a_taken_team_name_is_reported(project_template: Template, requester_a: User) -> None:
    lookup = MagicMock(return_value=Workspace(id="g1", name="PRJ - Apollo"))
    with provider(find_workspace=lookup):
        page = check(client_for(requester_a), project_template, display_name="Apollo")
    assert lookup.call_args.kwargs["name"] == "PRJ - Apollo"
    assert "already taken" in page and "<html" not in page


def test_a_free_name_is_reported(project_template: Template, requester_a: User) -> None:
    with provider(find_workspace=MagicMock(return_value=None)):
        page = check(client_for(requester_a), project_template, display_name="Apollo")
    assert "is available" in page


def test_an_upstream_failure_says_it_could_not_check(
    project_template: Template, requester_a: User
) -> None:
    with provider(find_workspace=MagicMock(side_effect=Unavailable("down", status=503))):
        page = check(client_for(requester_a), project_template, display_name="Apollo")
    assert "Could not check" in page and "available" not in page


def test_a_site_is_checked_by_its_url(tenant_a: Tenant, requester_a: User) -> None:
    site_template = make_template(tenant_a, 21)
    found = Workspace(id="s", url="https://contoso.sharepoint.com/sites/comm-news")
    lookup = MagicMock(return_value=found)
    with provider(find_workspace=lookup):
        page = check(client_for(requester_a), site_template, display_name="News")
    assert lookup.call_args.kwargs["url_slug"] == "comm-news"
    assert "comm-news" in page and "already taken" in page


def test_availability_against_the_emulator(live_tenant_a: Tenant, requester_a: User) -> None:
    template = make_template(live_tenant_a, 3)  # Public team: no prefix or suffix
    taken = upstream.provider_for(live_tenant_a).groups_page(top=5).items[0].name
    client = client_for(requester_a)
    assert "already taken" in check(client, template, display_name=taken)
    assert "is available" in check(
        client, template, display_name="Surely nobody has this name 8471"
    )


# --- Clone ----------------------------------------------------------------------------------


def test_clone_fills_the_form_from_the_request(
    project_template: Template, requester_a: User
) -> None:
    source = make_request(project_template, requester_a, state=State.COMPLETED, name="Gemini")
    client = client_for(requester_a)
    response = client.get(f"/requests/{source.pk}/clone")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'value="Gemini"' in page and f'name="cloned_from" value="{source.pk}"' in page


def test_fix_and_resubmit_shows_the_upstream_errors_by_their_fields(
    project_template: Template, requester_a: User
) -> None:
    source = make_request(
        project_template,
        requester_a,
        state=State.FAILED,
        field_errors={
            "desired_url": ["The URL is already in use."],
            "meta__department": ["Unknown."],
        },
    )
    page = (
        client_for(requester_a).get(url(project_template) + f"?clone={source.pk}").content.decode()
    )
    url_field = page.index('name="desired_url"')
    assert page.index("The URL is already in use.") > url_field
    assert page.index("The URL is already in use.") < page.index('name="description"')
    assert "Unknown." in page


def test_a_resubmit_remembers_what_it_was_cloned_from(
    project_template: Template, requester_a: User
) -> None:
    source = make_request(project_template, requester_a, state=State.FAILED)
    with patch("provisioning.services.requests.enqueue_send"):
        client_for(requester_a).post(url(project_template), {**VALID, "cloned_from": source.pk})
    assert ProvisioningRequest.objects.exclude(pk=source.pk).get().cloned_from == source


def test_someone_elses_request_cannot_be_cloned_by_a_requester(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    source = make_request(project_template, requester_a)
    assert client_for(requester_b).get(f"/requests/{source.pk}/clone").status_code == 404
    assert (
        client_for(requester_b).get(url(project_template) + f"?clone={source.pk}").status_code
        == 404
    )

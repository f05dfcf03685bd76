"""Django admin: requests with a read-only timeline, read-only events, templates' own fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from portal.models import User
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request

pytestmark = pytest.mark.django_db


def test_the_request_list_filters_and_searches(
    request_a: ProvisioningRequest,
    fabrikam_template: Template,
    operator: User,
    admin_other: User,
) -> None:
    make_request(request_a.template, operator, name="Gemini")
    make_request(fabrikam_template, admin_other, name="Mercury")
    client = client_for(operator)
    page = client.get(
        reverse("admin:provisioning_provisioningrequest_changelist"), {"q": "Apollo"}
    ).content.decode()
    assert "PRJ - Apollo" in page and "PRJ - Gemini" not in page
    for name in ("tenant", "state", "workload"):
        assert f'data-filter-title="{name}"' in page


def test_an_admin_lists_only_their_organisations_requests_and_tenants(
    request_a: ProvisioningRequest,
    fabrikam_template: Template,
    admin: User,
    admin_other: User,
) -> None:
    theirs = make_request(fabrikam_template, admin_other, name="Mercury")
    client = client_for(admin)
    page = client.get(reverse("admin:provisioning_provisioningrequest_changelist")).content.decode()
    assert "PRJ - Apollo" in page and "PRJ - Mercury" not in page
    assert "Fabrikam" not in page  # not even in the tenant filter
    change = reverse("admin:provisioning_provisioningrequest_change", args=[theirs.pk])
    assert client.get(change).status_code == 404


def test_a_request_shows_its_events_read_only(request_a: ProvisioningRequest, admin: User) -> None:
    page = (
        client_for(admin)
        .get(reverse("admin:provisioning_provisioningrequest_change", args=[request_a.pk]))
        .content.decode()
    )
    assert "Submitted." in page
    assert 'name="events-0-detail"' not in page  # not editable
    assert 'name="events-MAX_NUM_FORMS" value="0"' in page  # no new events either


def test_events_cannot_be_changed_or_added(request_a: ProvisioningRequest, admin: User) -> None:
    event = RequestEvent.objects.get()
    client = client_for(admin)
    assert client.get(reverse("admin:provisioning_requestevent_add")).status_code == 403
    response = client.post(
        reverse("admin:provisioning_requestevent_change", args=[event.pk]), {"detail": "changed"}
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.detail == "Submitted."


def test_a_template_keeps_its_definition_read_only_and_pretty(
    project_template: Template, admin: User
) -> None:
    url = reverse("admin:provisioning_template_change", args=[project_template.pk])
    client = client_for(admin)
    page = client.get(url).content.decode()
    assert '<pre class="admin-json">' in page and "&quot;namingRule&quot;: {" in page
    response = client.post(
        url, {"hidden": "on", "help_text": "Ask first.", "name": "Renamed", "definition": "{}"}
    )
    assert response.status_code == 302
    project_template.refresh_from_db()
    assert project_template.hidden and project_template.help_text == "Ask first."
    assert project_template.name == "Manage a project" and project_template.definition["namingRule"]


def test_the_request_list_needs_a_fixed_number_of_queries(
    project_template: Template, requester_a: User, admin: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(admin)
    url = reverse("admin:provisioning_provisioningrequest_changelist")
    for count in (3, 60):
        while ProvisioningRequest.objects.count() < count:
            make_request(
                project_template, requester_a, name=f"R{ProvisioningRequest.objects.count()}"
            )
        with django_assert_max_num_queries(16):
            assert client.get(url).status_code == 200

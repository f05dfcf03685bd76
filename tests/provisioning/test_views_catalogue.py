"""The "New request" catalogue: offered templates by workload, refresh for IT, empty state."""

from __future__ import annotations

from unittest.mock import patch

import pytest

from portal.models import User
from provisioning.models import Template
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_template

pytestmark = pytest.mark.django_db
URL = "/requests/new/"


def test_it_groups_the_tenants_templates_by_workload(tenant_a: Tenant, requester_a: User) -> None:
    for template_id in (1, 11, 21, 31):
        make_template(tenant_a, template_id)
    page = client_for(requester_a).get(URL).content.decode()
    headings = [
        page.index(label)
        for label in ("Team", "Microsoft 365 group", "SharePoint site", "Viva Engage community")
    ]
    assert headings == sorted(headings)
    assert "Manage a project" in page and "Time-boxed project work" in page
    assert "Approved automatically" in page


def test_it_shows_approval_mode_and_admin_help_text(tenant_a: Tenant, requester_a: User) -> None:
    make_template(tenant_a, 2, help_text="Ask your manager first.")
    page = client_for(requester_a).get(URL).content.decode()
    assert "Needs approval" in page
    assert "Ask your manager first." in page


def test_it_hides_hidden_and_removed_templates_and_other_tenants(
    tenant_a: Tenant, tenant_b: Tenant, requester_a: User
) -> None:
    make_template(tenant_a, 1, hidden=True)
    make_template(tenant_a, 2, removed_upstream=True)
    make_template(tenant_b, 3)
    page = client_for(requester_a).get(URL).content.decode()
    assert (
        "Manage a project" not in page
        and "Department team" not in page
        and "Public team" not in page
    )
    assert "No templates to choose from yet" in page


def test_the_empty_state_tells_a_requester_to_ask_it(requester_a: User) -> None:
    page = client_for(requester_a).get(URL).content.decode()
    assert "Ask your IT department" in page
    assert "Refresh from Point" not in page


def test_it_staff_see_the_refresh_button_and_when_it_last_synced(
    tenant_a: Tenant, it_staff: User
) -> None:
    assert "Never synced" in client_for(it_staff).get(URL).content.decode()
    make_template(tenant_a, 1)
    page = client_for(it_staff).get(URL).content.decode()
    assert "Refresh from Point" in page
    assert "Last synced" in page


def test_refresh_enqueues_the_sync_of_the_current_tenant(tenant_a: Tenant, it_staff: User) -> None:
    with patch("provisioning.views.async_task") as enqueue:
        response = client_for(it_staff).post(URL + "refresh")
    assert response.status_code == 302
    enqueue.assert_called_once_with("provisioning.tasks.sync_catalogue", tenant_a.pk)


def test_requesters_cannot_refresh(requester_a: User) -> None:
    with patch("provisioning.views.async_task") as enqueue:
        assert client_for(requester_a).post(URL + "refresh").status_code == 403
    enqueue.assert_not_called()


def test_it_staff_work_in_the_tenant_they_selected(
    tenant_a: Tenant, tenant_b: Tenant, it_staff: User
) -> None:
    it_staff.served_tenants.add(tenant_b)
    it_staff.selected_tenant = tenant_b
    it_staff.save()
    make_template(tenant_a, 1)
    fabrikam = make_template(tenant_b, 2)
    page = client_for(it_staff).get(URL).content.decode()
    assert fabrikam.name in page and "Manage a project" not in page
    assert Template.objects.count() == 2


def test_refresh_loads_the_catalogue_from_the_emulator(
    live_tenant_a: Tenant, it_staff: User
) -> None:
    client = client_for(it_staff)
    response = client.post(URL + "refresh")  # tasks run inline in tests
    page = client.get(response["Location"]).content.decode()
    assert "Refreshing the catalogue of Contoso" in page
    for name in (
        "Manage a project",
        "Microsoft 365 group",
        "Communication site",
        "Viva Engage community",
    ):
        assert name in page
    assert "Last synced" in page

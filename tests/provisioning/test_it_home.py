"""IT staff land on their queues (failed, stuck, waiting) with counts that lead to the
filtered list; the header's tenant drives the lists; switching tenant is one action."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portal.models import User
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request


def aged(item: ProvisioningRequest, hours: float) -> ProvisioningRequest:
    """The request, and everything in its timeline, ``hours`` old."""
    when = timezone.now() - timedelta(hours=hours)
    RequestEvent.objects.create(request=item, source="portal", to_state=item.state)
    RequestEvent.objects.filter(request=item).update(at=when)
    ProvisioningRequest.objects.filter(pk=item.pk).update(created_at=when)
    return item


def test_it_home_counts_each_queue_and_links_to_its_filtered_list(
    project_template: Template, fabrikam_template: Template, requester_a: User, it_staff: User
) -> None:
    failed = make_request(project_template, requester_a, state=State.FAILED, name="F1")
    replaced = make_request(project_template, requester_a, state=State.FAILED, name="F2")
    make_request(project_template, requester_a, name="F2 again", cloned_from=replaced)
    stuck = aged(make_request(project_template, requester_a, state=State.IN_PROGRESS, name="S1"), 3)
    aged(make_request(project_template, requester_a, state=State.WAITING_APPROVAL, name="W1"), 3)
    aged(make_request(project_template, requester_a, state=State.COMPLETED, name="Done"), 3)
    make_request(project_template, requester_a, state=State.IN_PROGRESS, name="Fresh")
    client = client_for(it_staff)
    home = client.get("/").content.decode()
    assert "Needs attention" in home
    tenant = project_template.tenant.pk
    for name in ("failed", "stuck", "waiting"):
        assert f"/requests/all/?queue={name}&amp;tenant={tenant}" in home
    listed = {
        name: client.get(f"/requests/all/?queue={name}&tenant={tenant}").content.decode()
        for name in ("failed", "stuck", "waiting")
    }
    assert f"/requests/{failed.pk}/" in listed["failed"]
    assert f"/requests/{replaced.pk}/" not in listed["failed"]  # fixed and resubmitted
    assert f"/requests/{stuck.pk}/" in listed["stuck"]
    assert "Fresh" not in listed["stuck"] and "Done" not in listed["stuck"]
    assert "W1" in listed["waiting"] and "S1" not in listed["waiting"]
    assert ">1</p>" in home  # each queue holds one here


def test_requesters_get_no_queues(requester_a: User) -> None:
    assert "Needs attention" not in client_for(requester_a).get("/").content.decode()


def test_all_requests_follow_the_tenant_chosen_in_the_header(
    project_template: Template,
    fabrikam_template: Template,
    requester_a: User,
    operator: User,
    tenant_b: Tenant,
) -> None:
    make_request(project_template, requester_a, name="In Contoso")
    make_request(fabrikam_template, requester_a, name="In Fabrikam")
    client = client_for(operator)
    client.post("/auth/tenant", {"tenant": tenant_b.pk})
    page = client.get("/requests/all/").content.decode()
    assert "In Fabrikam" in page and "In Contoso" not in page
    anywhere = client.get("/requests/all/?tenant=").content.decode()
    assert "In Fabrikam" in anywhere and "In Contoso" in anywhere


def test_choosing_a_tenant_in_the_header_switches_at_once(operator: User, tenant_b: Tenant) -> None:
    client = client_for(operator)
    page = client.get("/").content.decode()
    assert 'hx-trigger="change"' in page
    response = client.post(
        "/auth/tenant",
        {"tenant": tenant_b.pk, "next": "/requests/all/"},
        headers={"HX-Request": "true"},
    )
    assert response.headers["HX-Redirect"] == "/requests/all/"

"""Request lists and the request page: who sees what, filters, live status, actions."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from portal.models import User
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request, make_template

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


# --- My requests / All requests ---------------------------------------------------------------


def test_my_requests_lists_only_mine(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    make_request(project_template, requester_a, name="Mine")
    make_request(project_template, requester_b, name="Theirs")
    page = client_for(requester_a).get("/requests/").content.decode()
    assert "PRJ - Mine" in page and "PRJ - Theirs" not in page


def test_my_requests_has_an_empty_state(requester_a: User) -> None:
    assert "You have no requests yet" in client_for(requester_a).get("/requests/").content.decode()


def test_all_requests_shows_only_the_tenants_served(
    project_template: Template,
    fabrikam_template: Template,
    requester_a: User,
    it_staff: User,
    it_staff_other: User,
) -> None:
    make_request(project_template, requester_a, name="Contoso one")
    make_request(fabrikam_template, it_staff_other, name="Fabrikam one")
    contoso_page = client_for(it_staff).get("/requests/all/").content.decode()
    assert "Contoso one" in contoso_page and "Fabrikam one" not in contoso_page
    fabrikam_page = client_for(it_staff_other).get("/requests/all/").content.decode()
    assert "Fabrikam one" in fabrikam_page and "Contoso one" not in fabrikam_page


def test_all_requests_filters_by_state_workload_and_date(
    tenant_a: Tenant, project_template: Template, requester_a: User, it_staff: User
) -> None:
    group = make_template(tenant_a, 11)
    make_request(project_template, requester_a, name="Failed team", state=State.FAILED)
    make_request(group, requester_a, name="Done group", state=State.COMPLETED)
    old = make_request(project_template, requester_a, name="Old team", state=State.FAILED)
    ProvisioningRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=40)
    )
    client = client_for(it_staff)
    failed = client.get("/requests/all/", {"state": "failed"}).content.decode()
    assert "Failed team" in failed and "Done group" not in failed
    groups = client.get("/requests/all/", {"workload": "group"}).content.decode()
    assert "Done group" in groups and "Failed team" not in groups
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    recent = client.get("/requests/all/", {"since": since}).content.decode()
    assert "Failed team" in recent and "Old team" not in recent


def test_all_requests_searches_name_requester_and_upstream_id(
    project_template: Template, requester_a: User, requester_b: User, it_staff: User
) -> None:
    make_request(project_template, requester_a, name="Apollo", upstream_id="4711")
    make_request(project_template, requester_b, name="Gemini")
    client = client_for(it_staff)
    assert "Gemini" not in client.get("/requests/all/", {"q": "apol"}).content.decode()
    assert "Apollo" in client.get("/requests/all/", {"q": "4711"}).content.decode()
    by_person = client.get("/requests/all/", {"q": requester_b.email}).content.decode()
    assert "Gemini" in by_person and "Apollo" not in by_person


def test_all_requests_is_newest_first_and_paged(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    for i in range(30):
        make_request(project_template, requester_a, name=f"R{i:02}")
    client = client_for(it_staff)
    first = client.get("/requests/all/").content.decode()
    assert first.index("PRJ - R29") < first.index("PRJ - R28")
    assert "PRJ - R00" not in first and "Page 1 of 2" in first
    assert "PRJ - R00" in client.get("/requests/all/", {"page": 2}).content.decode()


def test_the_list_filters_as_an_htmx_fragment(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    make_request(project_template, requester_a)
    page = (
        client_for(it_staff)
        .get("/requests/all/", {"state": "submitted"}, headers=HTMX)
        .content.decode()
    )
    assert "<html" not in page and 'id="request-results"' in page and "PRJ - Apollo" in page


# --- The request page ---------------------------------------------------------------------------


def test_the_request_page_shows_summary_and_timeline(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    page = client_for(requester_a).get(f"/requests/{request_a.pk}/").content.decode()
    assert "PRJ - Apollo" in page and "Manage a project" in page
    assert "Submitted." in page and "Portal" in page
    assert "every 3s" in page  # polls while not final


def test_a_requester_cannot_see_someone_elses_request(
    request_a: ProvisioningRequest, requester_b: User
) -> None:
    assert client_for(requester_b).get(f"/requests/{request_a.pk}/").status_code == 404


def test_it_staff_of_another_tenant_get_404(
    request_a: ProvisioningRequest, it_staff_other: User
) -> None:
    assert client_for(it_staff_other).get(f"/requests/{request_a.pk}/").status_code == 404
    assert (
        client_for(it_staff_other).get(f"/requests/{request_a.pk}/status", headers=HTMX).status_code
        == 404
    )


def test_a_completed_request_links_the_workspace_and_stops_polling(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    ProvisioningRequest.objects.filter(pk=request_a.pk).update(
        state=State.COMPLETED, workspace_url="https://contoso.sharepoint.com/sites/prj-apollo"
    )
    client = client_for(requester_a)
    page = client.get(f"/requests/{request_a.pk}/").content.decode()
    assert "https://contoso.sharepoint.com/sites/prj-apollo" in page and "every 3s" not in page
    status = client.get(f"/requests/{request_a.pk}/status", headers=HTMX)
    assert status.status_code == 286
    assert "<html" not in status.content.decode() and "Completed" in status.content.decode()


def test_the_status_fragment_keeps_polling_while_in_progress(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    ProvisioningRequest.objects.filter(pk=request_a.pk).update(state=State.IN_PROGRESS, progress=40)
    status = client_for(requester_a).get(f"/requests/{request_a.pk}/status", headers=HTMX)
    body = status.content.decode()
    assert status.status_code == 200
    assert "<html" not in body and "every 3s" in body and 'value="40"' in body


def test_the_status_view_without_htmx_goes_to_the_page(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    response = client_for(requester_a).get(f"/requests/{request_a.pk}/status")
    assert response.status_code == 302


def test_a_failed_request_shows_the_error_and_correlation_id(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    ProvisioningRequest.objects.filter(pk=request_a.pk).update(
        state=State.FAILED,
        error_message="Point refused the request.",
        correlation_id="corr-123",
        field_errors={"desired_url": ["In use."]},
    )
    page = client_for(requester_a).get(f"/requests/{request_a.pk}/").content.decode()
    assert "Point refused the request." in page and "corr-123" in page
    assert "<strong>URL and alias</strong>: In use." in page
    assert "Retry" in page and "Fix and resubmit" in page


def test_the_timeline_lists_each_transition(
    request_a: ProvisioningRequest, requester_a: User, it_staff: User
) -> None:
    RequestEvent.objects.create(
        request=request_a,
        source=RequestEvent.Source.POLL,
        from_state=State.SUBMITTED,
        to_state=State.WAITING_APPROVAL,
        detail="Waiting for the manager.",
    )
    page = client_for(requester_a).get(f"/requests/{request_a.pk}/").content.decode()
    assert (
        "Status check" in page
        and "Waiting for approval" in page
        and "Waiting for the manager." in page
    )


# --- Actions ----------------------------------------------------------------------------------


def test_the_requester_cancels_a_submitted_request(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    client = client_for(requester_a)
    response = client.post(f"/requests/{request_a.pk}/cancel")
    assert response.status_code == 302
    request_a.refresh_from_db()
    assert request_a.state == State.CANCELLED
    assert "The request is cancelled." in client.get(response["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="request_cancelled").exists()


def test_cancel_of_a_sent_request_is_refused_with_a_message(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    ProvisioningRequest.objects.filter(pk=request_a.pk).update(state=State.IN_PROGRESS)
    client = client_for(requester_a)
    response = client.post(f"/requests/{request_a.pk}/cancel")
    request_a.refresh_from_db()
    assert request_a.state == State.IN_PROGRESS
    assert (
        "not been sent to Point yet can be cancelled"
        in client.get(response["Location"]).content.decode()
    )


def test_an_htmx_action_answers_with_a_client_redirect(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    response = client_for(requester_a).post(f"/requests/{request_a.pk}/cancel", headers=HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == f"/requests/{request_a.pk}/"


def test_it_staff_retry_a_failed_request(request_a: ProvisioningRequest, it_staff: User) -> None:
    ProvisioningRequest.objects.filter(pk=request_a.pk).update(state=State.FAILED)
    with patch("provisioning.services.requests.enqueue_send") as enqueue:
        client_for(it_staff).post(f"/requests/{request_a.pk}/retry")
    request_a.refresh_from_db()
    assert request_a.state == State.SUBMITTED
    enqueue.assert_called_once()


def test_another_requester_cannot_retry_or_cancel(
    request_a: ProvisioningRequest, requester_b: User
) -> None:
    client = client_for(requester_b)
    assert client.post(f"/requests/{request_a.pk}/cancel").status_code == 404
    assert client.post(f"/requests/{request_a.pk}/retry").status_code == 404
    request_a.refresh_from_db()
    assert request_a.state == State.SUBMITTED


def test_actions_need_post(request_a: ProvisioningRequest, requester_a: User) -> None:
    assert client_for(requester_a).get(f"/requests/{request_a.pk}/cancel").status_code == 405


def test_the_request_page_shows_what_was_asked_for(
    request_a: ProvisioningRequest, requester_a: User
) -> None:
    request_a.form_data = {
        "display_name": "Apollo",
        "description": "Moon programme",
        "owners": ["adele@contoso.example"],
        "members": ["alex@contoso.example"],
        "is_private": True,
        "metadata": {"Cost Center": "CC-1001", "External Partners": False},
        "comment": "Urgent",
    }
    request_a.save()
    page = client_for(requester_a).get(f"/requests/{request_a.pk}/").content.decode()
    section = page.split("What was requested")[1].split("</section>")[0]
    for text in (
        "Moon programme",
        "adele@contoso.example",
        "alex@contoso.example",
        "Private",
        "Cost Center",
        "CC-1001",
        "External Partners",
        "No",
        "Urgent",
    ):
        assert text in section, text

"""Requests hardened (issue 11): strange clone ids, a huge Retry-After, and the people a request
names following it read-only."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from core.roles import Role
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for, make_user
from tests.provisioning.ui_fixtures import make_request
from upstreams.contract import Throttled
from upstreams.point import transport

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["²", "٣", "9" * 30, "-1", "1e3"])
def test_a_strange_clone_id_is_ignored(
    project_template: Template, requester_a: User, value: str
) -> None:
    response = client_for(requester_a).get(
        f"/requests/new/{project_template.pk}/", {"clone": value}
    )
    assert response.status_code == 200


# --- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [10**9, float("inf"), float("nan")])
def test_a_huge_retry_after_is_capped_and_the_send_survives(
    project_template: Template, requester_a: User, settings: Settings, retry_after: float
) -> None:
    settings.RETRY_AFTER_MAX = 900
    request = make_request(project_template, requester_a, state=State.SUBMITTED)
    throttled = Throttled("Point is throttling", retry_after=retry_after)
    with patch("upstreams.point.provider.PointProvider.submit", side_effect=throttled):
        result = services.request_send(request_id=request.pk)
    assert result.outcome == "retry"
    request.refresh_from_db()
    assert request.state == State.SUBMITTED
    assert request.next_poll_at is not None
    assert request.next_poll_at <= timezone.now() + timedelta(seconds=901)


def test_a_huge_retry_after_on_a_status_check_is_capped(
    project_template: Template, requester_a: User, settings: Settings
) -> None:
    settings.RETRY_AFTER_MAX = 600
    request = make_request(project_template, requester_a, state=State.IN_PROGRESS, upstream_id="42")
    with patch(
        "upstreams.point.provider.PointProvider.get_request",
        side_effect=Throttled("slow down", retry_after=10**12),
    ):
        services.request_refresh(request_id=request.pk)
    request.refresh_from_db()
    assert request.next_poll_at is not None
    assert request.next_poll_at <= timezone.now() + timedelta(seconds=601)


# --- Requests naming a person ----------------------------------------------------------------------


def test_a_co_owner_follows_a_request_read_only(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    item = make_request(
        project_template,
        requester_a,
        state=State.FAILED,
        owners=[requester_a.email, requester_b.email.upper()],
    )
    client = client_for(requester_b)
    assert item in client.get("/requests/").context["page"].object_list
    page = client.get(f"/requests/{item.pk}/").content.decode()
    assert "named you as owner" in page
    assert "Retry" not in page.split('id="request-live"')[1]
    assert client.post(f"/requests/{item.pk}/retry").status_code == 403
    assert client.post(f"/requests/{item.pk}/cancel").status_code == 403
    item.refresh_from_db()
    assert item.state == State.FAILED


def test_a_member_follows_a_request_too(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    item = make_request(project_template, requester_a, members=[requester_b.email])
    assert client_for(requester_b).get(f"/requests/{item.pk}/").status_code == 200


def test_a_requester_not_named_does_not_see_it(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    item = make_request(project_template, requester_a)
    client = client_for(requester_b)
    assert client.get(f"/requests/{item.pk}/").status_code == 404
    assert item not in client.get("/requests/").context["page"].object_list


def test_being_named_in_another_organisation_grants_nothing(
    project_template: Template, requester_a: User, tenant_b: Tenant
) -> None:
    outsider = make_user(tenant_b, "Diego", Role.REQUESTER)
    item = make_request(project_template, requester_a, owners=[outsider.email])
    assert client_for(outsider).get(f"/requests/{item.pk}/").status_code == 404
    assert ProvisioningRequest.objects.filter(pk=item.pk).exists()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("99999999999999999999999", 900.0),
        ("9" * 12, 900.0),
        ("²", None),
        ("-5", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 900.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_the_upstream_client_reads_retry_after_within_the_cap(
    header: str, expected: float | None
) -> None:
    assert transport.retry_after(header, limit=900) == expected

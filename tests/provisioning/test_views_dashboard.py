"""The IT dashboard: counts by state and workload, requests per day, the oldest open request."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from portal.models import User
from provisioning.models import ProvisioningRequest, Template
from provisioning.selectors import dashboard_for
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_request, make_template

pytestmark = pytest.mark.django_db


def aged(item: ProvisioningRequest, days: int) -> None:
    ProvisioningRequest.objects.filter(pk=item.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )


def test_the_numbers_count_by_state_workload_and_day(
    tenant_a: Tenant, project_template: Template, requester_a: User
) -> None:
    site = make_template(tenant_a, 21)
    make_request(project_template, requester_a, state=State.COMPLETED)
    make_request(project_template, requester_a, state=State.FAILED)
    aged(make_request(site, requester_a, state=State.IN_PROGRESS), 2)
    aged(make_request(site, requester_a, state=State.COMPLETED), 45)  # outside the 30 days
    numbers = dashboard_for(tenants=Tenant.objects.filter(pk=tenant_a.pk))
    assert dict(numbers.by_state)["Completed"] == 2 and dict(numbers.by_state)["Failed"] == 1
    assert dict(numbers.by_workload) == {
        "Team": 2,
        "Microsoft 365 group": 0,
        "SharePoint site": 2,
        "Viva Engage community": 0,
    }
    per_day = dict(numbers.per_day)
    assert len(per_day) == 30 and sum(per_day.values()) == 3
    assert per_day[timezone.localdate()] == 2
    assert per_day[timezone.localdate() - timedelta(days=2)] == 1
    assert numbers.total == 4


def test_days_are_counted_in_the_portals_time_zone(
    tenant_a: Tenant, project_template: Template, requester_a: User
) -> None:
    # 23:30 in Auckland on the 10th is 10:30 UTC on the 10th; 00:30 on the 11th there is still
    # the 10th in UTC: each belongs to its Auckland day.
    zone = ZoneInfo("Pacific/Auckland")
    with timezone.override(zone):
        late = datetime(2026, 11, 10, 23, 30, tzinfo=zone)
        early = datetime(2026, 11, 11, 0, 30, tzinfo=zone)
        for moment in (late, early, early + timedelta(minutes=5)):
            item = make_request(project_template, requester_a)
            ProvisioningRequest.objects.filter(pk=item.pk).update(created_at=moment)
        numbers = dashboard_for(
            tenants=Tenant.objects.filter(pk=tenant_a.pk), today=date(2026, 11, 12)
        )
    per_day = dict(numbers.per_day)
    assert per_day[date(2026, 11, 10)] == 1
    assert per_day[date(2026, 11, 11)] == 2
    assert per_day[date(2026, 11, 12)] == 0


def test_the_oldest_open_request_ignores_final_ones(
    project_template: Template, requester_a: User, tenant_a: Tenant
) -> None:
    aged(make_request(project_template, requester_a, state=State.COMPLETED, name="Done"), 20)
    old_open = make_request(
        project_template, requester_a, state=State.WAITING_APPROVAL, name="Waiting"
    )
    aged(old_open, 5)
    make_request(project_template, requester_a, state=State.SUBMITTED, name="New")
    numbers = dashboard_for(tenants=Tenant.objects.filter(pk=tenant_a.pk))
    assert numbers.oldest_open == old_open


def test_the_page_shows_the_chart_with_a_table_of_the_same_numbers(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    make_request(project_template, requester_a, state=State.IN_PROGRESS, name="Slow")
    page = client_for(it_staff).get("/requests/dashboard/").content.decode()
    assert '<svg class="chart"' in page and '<title id="per-day-title">Requests per day' in page
    assert page.count('class="chart-bar"') == 30
    assert "PRJ - Slow" in page  # the oldest in flight
    day = timezone.localdate()
    assert re.search(rf'datetime="{day:%Y-%m-%d}">[^<]+</time></td><td>1</td>', page)


def test_the_dashboard_counts_only_the_current_tenant(
    project_template: Template, fabrikam_template: Template, requester_a: User, it_staff_other: User
) -> None:
    make_request(project_template, requester_a)
    page = client_for(it_staff_other).get("/requests/dashboard/").content.decode()
    assert "0 requests in all" in page and "PRJ - Apollo" not in page


def test_requesters_have_no_dashboard(requester_a: User) -> None:
    assert client_for(requester_a).get("/requests/dashboard/").status_code == 403


def test_the_counts_are_kept_briefly_say_when_they_were_counted_and_can_be_recounted(
    project_template: Template, requester_a: User, it_staff: User
) -> None:
    client = client_for(it_staff)
    make_request(project_template, requester_a, state=State.IN_PROGRESS, name="First")
    first = client.get("/requests/dashboard/").content.decode()
    assert "1 request in all" in first and "Counted" in first
    make_request(project_template, requester_a, state=State.IN_PROGRESS, name="Second")
    kept = client.get("/requests/dashboard/").content.decode()
    assert "1 request in all" in kept  # the kept counts, not a new count
    recounted = client.get("/requests/dashboard/?fresh=1").content.decode()
    assert "2 requests in all" in recounted
    assert "2 requests in all" in client.get("/requests/dashboard/").content.decode()


def test_counts_are_kept_per_set_of_tenants(
    project_template: Template, fabrikam_template: Template, requester_a: User, operator: User
) -> None:
    client = client_for(operator)
    make_request(project_template, requester_a)
    make_request(fabrikam_template, requester_a)
    one = client.get("/requests/dashboard/").content.decode()
    every = client.get("/requests/dashboard/?scope=all").content.decode()
    assert "1 request in all" in one and "2 requests in all" in every

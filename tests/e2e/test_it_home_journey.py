"""IT staff land on their queues; each count leads to the list it counts. A person named as
co-owner follows the request read-only."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from portal.models import User
from provisioning import services
from provisioning.models import FailureKind, ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import State
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

ADELE = "adele.vance@contoso.onmicrosoft.com"
ALEX = "alex.wilber@contoso.onmicrosoft.com"


def requester(tenant: Tenant) -> User:
    user, _ = User.objects.get_or_create(
        username="adele-e2e",
        defaults={"email": ADELE, "upn": ADELE, "home_tenant": tenant, "role": "requester"},
    )
    return user


def test_it_home_counts_lead_to_the_filtered_lists(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    services.catalogue_sync(tenant=live_tenant_a)
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="3")
    owner = requester(live_tenant_a)
    for name, state in (("Queue Failed", State.FAILED), ("Queue Waiting", State.WAITING_APPROVAL)):
        ProvisioningRequest.objects.create(
            tenant=live_tenant_a,
            template=template,
            requested_by=owner,
            workload=template.workload,
            display_name=name,
            final_name=name,
            state=state,
            failure_kind=FailureKind.UPSTREAM if state == State.FAILED else "",
        )
    sign_in(page, live_server.url, emulator, "Megan Bowen")
    page.goto(f"{live_server.url}/")
    failed_card = page.locator(".queue-failed")
    assert failed_card.locator(".queue-count").inner_text() == "1"
    failed_card.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*queue=failed.*"))
    rows = page.locator("#request-results tbody").inner_text()
    assert "Queue Failed" in rows and "Queue Waiting" not in rows
    page.goto(f"{live_server.url}/")
    page.locator(".queue-waiting").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*queue=waiting.*"))
    rows = page.locator("#request-results tbody").inner_text()
    assert "Queue Waiting" in rows and "Queue Failed" not in rows


def test_a_co_owner_follows_a_request_read_only(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    services.catalogue_sync(tenant=live_tenant_a)
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="3")
    item = services.request_submit(
        tenant=live_tenant_a,
        template=template,
        requested_by=requester(live_tenant_a),
        data=RequestData(display_name="Co-owned Falcon", owners=[ADELE, ALEX]),
    )
    sign_in(page, live_server.url, emulator, "Alex Wilber")
    page.goto(f"{live_server.url}/requests/")
    page.get_by_role("link", name=re.compile("Co-owned Falcon")).click()
    page.wait_for_url(re.compile(rf".*/requests/{item.pk}/$"))
    body = page.locator("main").inner_text()
    assert "named you as owner" in body
    assert page.get_by_role("button", name="Cancel request").count() == 0

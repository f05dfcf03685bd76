"""A two-stage portal approval through the approvers' queue: a named approver, then IT staff;
only then is the request sent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_two_stage_portal_approval_through_the_approvers_queue(
    page: Page, browser: Any, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    services.catalogue_sync(tenant=live_tenant_a)
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="3")
    template.portal_stages = [
        {"kind": "group", "approvers": ["nestor.wilke@contoso.onmicrosoft.com"]},
        {"kind": "it_staff", "approvers": []},
    ]
    template.save()
    sign_in(page, live_server.url, emulator, "Adele Vance")
    page.goto(f"{live_server.url}/requests/new/{template.pk}/")
    page.locator("#id_display_name").fill("Two Stage Falcon")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+/$"))
    assert "Waiting for approval in the portal" in page.locator("main").inner_text()
    item = ProvisioningRequest.objects.get(display_name="Two Stage Falcon")
    assert item.upstream_id == ""  # nothing sent yet

    for person, comment in (("Nestor Wilke", "Budget agreed"), ("Megan Bowen", "")):
        context = browser.new_context()
        approver = context.new_page()
        sign_in(approver, live_server.url, emulator, person)
        approver.get_by_role("link", name="Approvals").click()
        card = approver.locator(".approval-card", has_text="Two Stage Falcon")
        if comment:
            card.locator("textarea").fill(comment)
        card.get_by_role("button", name="Approve").click()
        approver.get_by_text("approved").first.wait_for()
        context.close()

    item.refresh_from_db()
    assert item.upstream_id != ""  # sent once the last stage was approved
    assert item.state not in (State.PORTAL_APPROVAL, State.SUBMITTED)
    page.goto(f"{live_server.url}/requests/{item.pk}/")
    text = page.locator("main").inner_text()
    assert "Budget agreed" in text and "Stage 2 approved by Megan Bowen" in text

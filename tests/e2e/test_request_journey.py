from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from pytest_django.fixtures import Settings

from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_requester_submits_a_group_and_watches_it_complete(
    page: Page,
    live_server: Any,
    emulator: RunningEmulator,
    live_tenant_a: Tenant,
    settings: Settings,
) -> None:
    settings.PROVISIONING_POLL_MIN_INTERVAL = 1
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.5)
    services.catalogue_sync(tenant=live_tenant_a)
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="11")
    sign_in(page, live_server.url, emulator, "Adele Vance")

    page.goto(f"{live_server.url}/requests/new/{template.pk}/")
    page.get_by_role("button", name="Submit request").click()
    assert page.locator(".field-error").first.is_visible()  # the name is required
    page.locator("#id_display_name").fill("Browser Falcon")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+/$"))

    # The page follows the request live (htmx) until it is completed, with the workspace link.
    page.locator(".state-completed").first.wait_for(timeout=30_000)
    request = ProvisioningRequest.objects.get()
    assert request.state == "completed"
    assert page.get_by_role("link", name=re.compile("Open the workspace")).is_visible()
    ledger = emulator.control_get("ledger?tenant=contoso")
    assert [w["requestId"] for w in ledger["workspaces"]] == [request.upstream_id]
    assert page.csp_errors == []  # type: ignore[attr-defined]

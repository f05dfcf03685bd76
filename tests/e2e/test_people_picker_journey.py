"""The people picker: a requester finds a colleague, cannot add a guest as owner, and a guest
typed by hand is refused next to the owners field before anything is sent."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from tenants import people
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

GUEST = "lee_partner.example#ext#@contoso.onmicrosoft.com"


def test_the_people_picker_refuses_a_guest_owner(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    services.catalogue_sync(tenant=live_tenant_a)
    people.remember(
        live_tenant_a,
        [
            ("alex.wilber@contoso.onmicrosoft.com", "Alex Wilber", "user"),
            (GUEST, "Lee (partner)", "guest"),
        ],
    )
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="3")
    sign_in(page, live_server.url, emulator, "Adele Vance")
    page.goto(f"{live_server.url}/requests/new/{template.pk}/")
    page.locator("#id_display_name").fill("Picker Falcon")
    page.locator("#owners_search").fill("alex")
    page.locator("#owners-found").get_by_role("button", name="Add").click()
    assert "alex.wilber@contoso.onmicrosoft.com" in page.locator("#id_owners").input_value()
    page.locator("#owners_search").fill("lee")
    page.locator("#owners-found").get_by_text("guest").wait_for()
    assert page.locator("#owners-found").get_by_role("button", name="Add").is_disabled()
    owners = page.locator("#id_owners")
    owners.fill(owners.input_value() + "\n" + GUEST)
    owners.dispatch_event("change")
    page.locator("#owners-check").get_by_text("a guest cannot be an owner").wait_for()
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(rf".*/requests/new/{template.pk}/$"))
    assert "Guests cannot be owners" in page.locator(".field-invalid").first.inner_text()
    assert not ProvisioningRequest.objects.exists()

"""IT staff upload a CSV with good and bad rows, see each row's result, submit the good ones."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from tests.e2e.test_sign_in_journey import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

CSV = (
    "Name,Description,Owners\n"
    "Bulk Alpha,One,adele.vance@contoso.onmicrosoft.com\n"
    ",No name,adele.vance@contoso.onmicrosoft.com\n"
    "Bulk Gamma,Three,adele.vance@contoso.onmicrosoft.com;#EXT#guest@contoso.onmicrosoft.com\n"
    "Bulk Delta,Four,megan.bowen@contoso.onmicrosoft.com\n"
)


def test_it_staff_bulk_upload_shows_each_row_then_submits_the_good_ones(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    services.catalogue_sync(tenant=live_tenant_a)
    template = Template.objects.get(tenant=live_tenant_a, upstream_id="3")
    sign_in(page, live_server.url, emulator, "Megan Bowen")  # IT staff of Contoso
    page.goto(f"{live_server.url}/requests/all/")
    page.get_by_role("link", name="Bulk requests from a CSV").click()
    page.locator("#id_template").select_option(str(template.pk))
    page.locator("#id_file").set_input_files(
        {"name": "rows.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    page.get_by_role("button", name="Check the rows").click()
    page.wait_for_url(re.compile(r".*/requests/bulk/\d+/$"))
    body = page.locator("main").inner_text()
    assert "2 of 4 rows can be submitted" in body
    assert "Name: This field is required." in body
    assert "Guests cannot be owners" in body
    assert not ProvisioningRequest.objects.exists()  # nothing sent before the button
    page.get_by_role("button", name="Submit the 2 accepted rows").click()
    page.get_by_text("2 requests submitted").wait_for()
    assert page.locator(".bulk-table .badge-ok").count() == 2
    names = sorted(ProvisioningRequest.objects.values_list("display_name", flat=True))
    assert names == ["Bulk Alpha", "Bulk Delta"]

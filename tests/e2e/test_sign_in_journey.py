from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import demo_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from emulator.server import RunningEmulator
    from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)


def register_callback(emulator: RunningEmulator, live_url: str, slug: str) -> None:
    client_id = demo_tenant(slug)["apps"][0]["client_id"]
    emulator.control("redirect-uris", client_id=client_id, add=[f"{live_url}/auth/callback"])


def sign_in(page: Page, live_url: str, emulator: RunningEmulator, person: str) -> None:
    register_callback(emulator, live_url, "contoso")
    page.goto(live_url + "/")
    page.get_by_role("button", name="Contoso").click()
    page.wait_for_url(f"{emulator.url}/**")
    page.get_by_text(person).click()
    page.wait_for_url(f"{live_url}/")


def test_a_requester_signs_in_through_entra_and_lands_home(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    register_callback(emulator, live_server.url, "contoso")
    page.goto(live_server.url + "/")
    assert "/auth/sign-in" in page.url
    page.get_by_role("button", name="Contoso").click()
    page.wait_for_url(f"{emulator.url}/**")
    page.get_by_text("Adele Vance").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_text("Adele Vance").is_visible()
    assert page.csp_errors == []  # type: ignore[attr-defined]


def test_signing_out_ends_the_session(
    page: Page, live_server: Any, emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    register_callback(emulator, live_server.url, "contoso")
    emulator.control(
        "redirect-uris",
        client_id=demo_tenant("contoso")["apps"][0]["client_id"],
        add=[f"{live_server.url}/"],
    )
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Contoso").click()
    page.get_by_text("Megan Bowen").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    page.goto(live_server.url + "/")
    assert "/auth/sign-in" in page.url
    assert page.csp_errors == []  # type: ignore[attr-defined]

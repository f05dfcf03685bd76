from __future__ import annotations

import logging
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from portal.models import AuditAction, AuditEvent, User
from tenants import tokens
from tenants.models import ConnectionCheck, Tenant, TenantToken
from tests.conftest import client_for

CONTOSO_SECRET = "Ctso8Q~demo-portal-secret-contoso-0001"


def form_data(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    data = {
        "name": tenant.name, "slug": tenant.slug, "provider": tenant.provider, "is_active": "on",
        "entra_tenant_id": str(tenant.entra_tenant_id), "client_id": str(tenant.client_id),
        "client_secret": "", "secret_expires_on": "2027-06-30",
        "point_base_url": tenant.point_base_url, "point_app_id": str(tenant.point_app_id),
    }
    data.update(changes)
    return data


def test_the_change_form_never_shows_the_secret(admin: User, tenant_a: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page = client_for(admin).get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert 'type="password"' in page and "Set (stored encrypted)" in page
    assert CONTOSO_SECRET not in page and tenant_a.client_secret_encrypted not in page
    assert CONTOSO_SECRET not in caplog.text


def test_a_blank_secret_keeps_the_stored_one(admin: User, tenant_a: Tenant) -> None:
    before = tenant_a.client_secret_encrypted
    response = client_for(admin).post(f"/admin/tenants/tenant/{tenant_a.pk}/change/", form_data(tenant_a, name="Contoso Ltd"))
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Contoso Ltd" and tenant_a.client_secret_encrypted == before


def test_a_new_secret_replaces_the_old_one_drops_tokens_and_is_audited(
    admin: User, live_tenant_a: Tenant
) -> None:
    tokens.get_token(live_tenant_a)
    response = client_for(admin).post(
        f"/admin/tenants/tenant/{live_tenant_a.pk}/change/", form_data(live_tenant_a, client_secret="New8Q~secret")
    )
    assert response.status_code == 302
    live_tenant_a.refresh_from_db()
    assert live_tenant_a.get_client_secret() == "New8Q~secret"
    assert not TenantToken.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.TENANT_SECRET_CHANGED)
    assert "New8Q~secret" not in event.detail and event.user == admin


def test_bad_ids_and_urls_are_shown_next_to_their_fields_and_input_kept(
    admin: User, tenant_a: Tenant, settings: Settings
) -> None:
    settings.DEMO_MODE = False
    response = client_for(admin).post(
        f"/admin/tenants/tenant/{tenant_a.pk}/change/",
        form_data(tenant_a, entra_tenant_id="not-a-guid", point_base_url="http://point.example/api",
                  client_secret="Typed8Q~secret"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "entra_tenant_id" in errors and "point_base_url" in errors
    page = response.content.decode()
    assert "not-a-guid" in page and "Typed8Q~secret" not in page


def test_a_new_tenant_needs_a_secret(admin: User, tenant_a: Tenant) -> None:
    data = form_data(tenant_a, slug="new", name="New", entra_tenant_id="0d5a3b5e-8c1e-4b1e-9f0a-1e2b3c4d5e6f")
    response = client_for(admin).post("/admin/tenants/tenant/add/", data)
    assert response.status_code == 200
    assert "client_secret" in response.context["adminform"].form.errors


def test_the_admin_action_tests_the_connection(
    admin: User, live_tenant_a: Tenant, django_capture_on_commit_callbacks: Any, settings: Settings
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/admin/tenants/tenant/", {"action": "test_connection", "_selected_action": [live_tenant_a.pk]}
        )
    assert response.status_code == 302
    check = ConnectionCheck.objects.get(tenant=live_tenant_a)
    assert check.ok
    listing = client_for(admin).get("/admin/tenants/tenant/").content.decode()
    assert "Connected: every permission granted" in listing
    token = tokens.get_token(live_tenant_a).value
    assert token not in listing and CONTOSO_SECRET not in listing

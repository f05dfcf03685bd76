from __future__ import annotations

import logging
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from audit.models import AuditAction, AuditEvent
from portal.models import User
from tenants import tokens
from tenants.models import ConnectionCheck, Tenant, TenantToken
from tests.conftest import client_for

CONTOSO_SECRET = "Ctso8Q~demo-portal-secret-contoso-0001"


def form_data(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    data = {
        "name": tenant.name,
        "slug": tenant.slug,
        "provider": tenant.provider,
        "is_active": "on",
        "entra_tenant_id": str(tenant.entra_tenant_id),
        "client_id": str(tenant.client_id),
        "client_secret": "",
        "secret_expires_on": "2027-06-30",
        "api_url": tenant.api_url,
        "point_app_id": str(tenant.point_app_id),
    }
    data.update(changes)
    return data


def test_the_change_form_never_shows_the_secret(
    operator: User, tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = client_for(operator).get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert 'type="password"' in page and "Set (stored encrypted)" in page
    assert CONTOSO_SECRET not in page and tenant_a.client_secret_encrypted not in page
    assert CONTOSO_SECRET not in caplog.text


def test_a_blank_secret_keeps_the_stored_one(operator: User, tenant_a: Tenant) -> None:
    before = tenant_a.client_secret_encrypted
    response = client_for(operator).post(
        f"/admin/tenants/tenant/{tenant_a.pk}/change/", form_data(tenant_a, name="Contoso Ltd")
    )
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Contoso Ltd" and tenant_a.client_secret_encrypted == before


def test_a_new_secret_replaces_the_old_one_drops_tokens_and_is_audited(
    operator: User, live_tenant_a: Tenant
) -> None:
    tokens.get_token(live_tenant_a)
    response = client_for(operator).post(
        f"/admin/tenants/tenant/{live_tenant_a.pk}/change/",
        form_data(live_tenant_a, client_secret="New8Q~secret"),
    )
    assert response.status_code == 302
    live_tenant_a.refresh_from_db()
    assert live_tenant_a.get_client_secret() == "New8Q~secret"
    assert not TenantToken.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.TENANT_SECRET_CHANGED)
    assert "New8Q~secret" not in event.detail and event.user == operator


def test_bad_ids_and_urls_are_shown_next_to_their_fields_and_input_kept(
    operator: User, tenant_a: Tenant, settings: Settings
) -> None:
    settings.DEMO_MODE = False
    response = client_for(operator).post(
        f"/admin/tenants/tenant/{tenant_a.pk}/change/",
        form_data(
            tenant_a,
            entra_tenant_id="not-a-guid",
            api_url="http://point.example/api",
            client_secret="Typed8Q~secret",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "entra_tenant_id" in errors and "api_url" in errors
    page = response.content.decode()
    assert "not-a-guid" in page and "Typed8Q~secret" not in page


def test_a_new_tenant_needs_a_secret(operator: User, tenant_a: Tenant) -> None:
    data = form_data(
        tenant_a, slug="new", name="New", entra_tenant_id="0d5a3b5e-8c1e-4b1e-9f0a-1e2b3c4d5e6f"
    )
    response = client_for(operator).post("/admin/tenants/tenant/add/", data)
    assert response.status_code == 200
    assert "client_secret" in response.context["adminform"].form.errors


def test_the_admin_action_tests_the_connection(
    admin: User, live_tenant_a: Tenant, django_capture_on_commit_callbacks: Any, settings: Settings
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/admin/tenants/tenant/",
            {"action": "test_connection", "_selected_action": [live_tenant_a.pk]},
        )
    assert response.status_code == 302
    check = ConnectionCheck.objects.get(tenant=live_tenant_a)
    assert check.ok
    listing = client_for(admin).get("/admin/tenants/tenant/").content.decode()
    assert "Connected: every permission granted" in listing
    token = tokens.get_token(live_tenant_a).value
    assert token not in listing and CONTOSO_SECRET not in listing


def test_an_admin_sees_their_tenant_but_cannot_move_its_connection(
    admin: User, tenant_a: Tenant, tenant_b: Tenant, settings: Settings
) -> None:
    client = client_for(admin)
    page = client.get(f"/admin/tenants/tenant/{tenant_a.pk}/change/").content.decode()
    assert 'type="password"' not in page  # no secret field at all
    assert 'name="api_url"' not in page and tenant_a.api_url in page  # read-only
    response = client.post(
        f"/admin/tenants/tenant/{tenant_a.pk}/change/",
        form_data(
            tenant_a,
            name="Contoso Ltd",
            api_url="https://attacker.example",
            client_secret="x",
        ),
    )
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Contoso Ltd"
    assert tenant_a.api_url == "http://127.0.0.1:9/point/contoso"
    assert tenant_a.get_client_secret() == CONTOSO_SECRET
    assert not AuditEvent.objects.filter(action=AuditAction.TENANT_CONNECTION_CHANGED).exists()
    # Another organisation's tenant is not there at all; nor may an admin add one.
    assert client.get(f"/admin/tenants/tenant/{tenant_b.pk}/change/").status_code == 404
    assert client.get("/admin/tenants/tenant/add/").status_code == 403


def test_an_operator_moving_a_tenants_point_url_is_audited_and_drops_its_token(
    operator: User, live_tenant_a: Tenant
) -> None:
    tokens.get_token(live_tenant_a)
    old = live_tenant_a.api_url
    response = client_for(operator).post(
        f"/admin/tenants/tenant/{live_tenant_a.pk}/change/",
        form_data(live_tenant_a, api_url="https://point.contoso.example"),
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.TENANT_CONNECTION_CHANGED)
    assert event.detail == f"upstream API URL: {old} -> https://point.contoso.example"
    assert event.user == operator and event.actor_role == "operator"
    assert not TenantToken.objects.exists()


def test_re_pointing_a_tenant_re_reads_its_catalogue_and_says_so(
    operator: User, tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    from unittest.mock import patch

    with (
        patch("provisioning.tasks.async_task") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for(operator).post(
            f"/admin/tenants/tenant/{tenant_a.pk}/change/",
            form_data(tenant_a, api_url="https://contoso.syskit365demo.com/v1.0/"),
            follow=True,
        )
    tenant_a.refresh_from_db()
    # The client adds /v1.0 itself: a URL pasted with it is kept without.
    assert tenant_a.api_url == "https://contoso.syskit365demo.com"
    enqueue.assert_called_once_with("provisioning.tasks.sync_catalogue", tenant_a.pk)
    assert "template catalogue is being read again" in response.content.decode()

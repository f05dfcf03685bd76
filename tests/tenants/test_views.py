from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from portal.models import User
from tenants.models import ConnectionCheck, Tenant
from tests.conftest import client_for


def test_requesters_may_not_see_tenants(requester_a: User, tenant_a: Tenant) -> None:
    client = client_for(requester_a)
    assert client.get("/tenants/").status_code == 403
    assert client.get(f"/tenants/{tenant_a.slug}/").status_code == 403


def test_it_staff_see_only_the_tenants_they_serve(it_staff_other: User, tenant_a: Tenant) -> None:
    client = client_for(it_staff_other)
    assert "Fabrikam" in client.get("/tenants/").content.decode()
    assert "Contoso" not in client.get("/tenants/").content.decode()
    assert client.get(f"/tenants/{tenant_a.slug}/").status_code == 404
    assert client.post(f"/tenants/{tenant_a.slug}/check").status_code == 404
    assert not ConnectionCheck.objects.exists()


def test_a_check_of_another_tenant_is_not_found(
    it_staff: User, tenant_b: Tenant, tenant_a: Tenant
) -> None:
    other = ConnectionCheck.objects.create(tenant=tenant_b)
    assert (
        client_for(it_staff).get(f"/tenants/{tenant_a.slug}/checks/{other.pk}").status_code == 404
    )


def test_a_running_check_polls_until_done(it_staff: User, tenant_a: Tenant) -> None:
    check = ConnectionCheck.objects.create(tenant=tenant_a)
    body = client_for(it_staff).get(f"/tenants/{tenant_a.slug}/checks/{check.pk}").content.decode()
    assert 'hx-trigger="every 1s"' in body and "<html" not in body


def test_the_test_connection_button_starts_a_check(it_staff: User, tenant_a: Tenant) -> None:
    response = client_for(it_staff).post(f"/tenants/{tenant_a.slug}/check")
    assert response.status_code == 302
    assert response["Location"] == f"/tenants/{tenant_a.slug}/"
    check = ConnectionCheck.objects.get(tenant=tenant_a)
    assert check.started_by == it_staff and check.status == "pending"


def test_admins_see_a_banner_before_a_secret_expires(
    admin: User, it_staff: User, tenant_a: Tenant
) -> None:
    tenant_a.secret_expires_on = dt.date.today() + dt.timedelta(days=12)
    tenant_a.save()
    page = client_for(admin).get("/").content.decode()
    assert "The client secret of tenant <strong>Contoso</strong> expires on" in page
    assert "(in 12 days)" in page
    assert "client secret of tenant" not in client_for(it_staff).get("/").content.decode()


def test_no_banner_when_the_secret_is_far_from_expiry(admin: User, tenant_a: Tenant) -> None:
    tenant_a.secret_expires_on = dt.date.today() + dt.timedelta(days=31)
    tenant_a.save()
    assert "client secret of tenant" not in client_for(admin).get("/").content.decode()


def test_healthz_warns_of_an_expiring_secret_but_stays_healthy(
    client: Any, tenant_a: Tenant, settings: Settings, monkeypatch: Any
) -> None:
    from portal import health

    monkeypatch.setattr("portal.views.run_checks", lambda: {"database": health.Check(True)})
    tenant_a.secret_expires_on = dt.date.today() + dt.timedelta(days=30)
    tenant_a.save()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "1 tenant's client secret expires within 30 days or already expired: see the tenants page."
    ]
    # /healthz is public: it names no tenant.
    assert "Contoso" not in response.content.decode()
    assert "contoso" not in response.content.decode()


def test_the_list_shows_each_tenants_latest_check_in_a_fixed_number_of_queries(
    operator: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ConnectionCheck.objects.create(tenant=tenant_a, status="done", ok=True, token_ok=True)
    ConnectionCheck.objects.create(tenant=tenant_a, status="done", token_ok=False)
    client = client_for(operator)
    client.get("/tenants/")  # warm the session and the current tenant
    with CaptureQueriesContext(connection) as two_tenants:
        body = client.get("/tenants/").content.decode()
    assert "No token" in body.split("Contoso</a>")[1].split("</tr>")[0]
    assert "Never tested" in body.split("Fabrikam</a>")[1].split("</tr>")[0]
    for n in range(3):
        more = Tenant.objects.create(
            name=f"Extra {n}",
            slug=f"extra-{n}",
            entra_tenant_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            api_url="https://point.example",
            point_app_id=uuid.uuid4(),
        )
        ConnectionCheck.objects.create(tenant=more, status="done", ok=True, token_ok=True)
    with CaptureQueriesContext(connection) as five_tenants:
        body = client.get("/tenants/").content.decode()
    assert body.count("Connected: every permission granted") == 3
    assert len(five_tenants) == len(two_tenants)

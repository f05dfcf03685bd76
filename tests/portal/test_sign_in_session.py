"""Session lifetime: idle and absolute timeouts, and the tenant selector in the header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory

from audit.models import AuditAction, AuditEvent
from portal.models import User
from tenants.models import Tenant
from tenants.selectors import admin_tenants_for_user, get_object_for_user, tenants_for_user
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_an_idle_session_ends_after_30_minutes(requester_a: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = client_for(requester_a)
        assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=29))
        assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=31))
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/sign-in?next=/"
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).detail == "idle timeout"


def test_an_active_session_ends_after_8_hours(requester_a: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = client_for(requester_a)
        for _ in range(24):  # a request every 20 minutes for 8 hours
            assert client.get("/").status_code == 200
            clock.shift(timedelta(minutes=20))
        clock.shift(timedelta(minutes=1))
        response = client.get("/")
    assert response.status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).detail == "absolute timeout"


def test_the_timeouts_are_configurable(requester_a: User, settings) -> None:
    settings.SESSION_IDLE_TIMEOUT = 5 * 60
    with time_machine.travel(START, tick=False) as clock:
        client = client_for(requester_a)
        assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=6))
        assert client.get("/").status_code == 302


def test_an_expired_htmx_request_asks_htmx_to_reload_to_sign_in(requester_a: User) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client = client_for(requester_a)
        client.get("/")
        clock.shift(timedelta(hours=1))
        response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/auth/sign-in?next=/"


# -- tenants a person serves, and the selector ---------------------------------------------------


def test_who_serves_which_tenant(
    requester_a: User,
    it_staff: User,
    it_staff_other: User,
    admin: User,
    admin_other: User,
    operator: User,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    assert list(tenants_for_user(requester_a)) == [tenant_a]
    assert list(tenants_for_user(it_staff)) == [tenant_a]
    assert list(tenants_for_user(it_staff_other)) == [tenant_b]
    # An admin's role comes from their organisation's Entra: it applies there only.
    assert list(tenants_for_user(admin)) == [tenant_a]
    assert list(tenants_for_user(admin_other)) == [tenant_b]
    assert set(tenants_for_user(operator)) == {tenant_a, tenant_b}
    it_staff.served_tenants.add(tenant_b)
    assert set(tenants_for_user(it_staff)) == {tenant_a, tenant_b}


def test_an_admin_assigned_another_tenant_works_there_but_does_not_administer_it(
    admin: User,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    admin.served_tenants.add(tenant_b)
    assert set(tenants_for_user(admin)) == {tenant_a, tenant_b}
    assert list(admin_tenants_for_user(admin)) == [tenant_a]


def test_an_object_of_a_tenant_the_user_does_not_serve_is_a_404(
    rf: RequestFactory, it_staff: User, it_staff_other: User, tenant_a: Tenant
) -> None:
    from django.http import Http404

    event = AuditEvent.objects.create(action=AuditAction.SIGN_IN, created_at=START, tenant=tenant_a)
    request = rf.get("/")
    request.user = it_staff
    assert get_object_for_user(request.user, AuditEvent.objects.all(), pk=event.pk) == event
    request.user = it_staff_other
    with pytest.raises(Http404):
        get_object_for_user(request.user, AuditEvent.objects.all(), pk=event.pk)


def test_it_staff_with_two_tenants_switch_and_the_choice_is_remembered(
    it_staff: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    it_staff.served_tenants.add(tenant_b)
    client = client_for(it_staff)
    page = client.get("/")
    assert page.context["current_tenant"] == tenant_a
    html = page.content.decode()
    assert 'name="tenant"' in html and "Fabrikam" in html
    response = client.post("/auth/tenant", {"tenant": tenant_b.pk, "next": "/"})
    assert response["Location"] == "/"
    assert client.get("/").context["current_tenant"] == tenant_b
    it_staff.refresh_from_db()
    assert it_staff.selected_tenant == tenant_b
    assert client_for(it_staff).get("/").context["current_tenant"] == tenant_b  # a new session
    assert AuditEvent.objects.get(action=AuditAction.TENANT_SWITCHED).tenant == tenant_b


def test_a_requester_has_no_selector_and_cannot_switch(
    requester_a: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = client_for(requester_a)
    page = client.get("/")
    assert 'name="tenant"' not in page.content.decode()
    assert client.post("/auth/tenant", {"tenant": tenant_b.pk}).status_code == 403
    assert client.get("/").context["current_tenant"] == tenant_a


def test_it_staff_cannot_switch_to_a_tenant_they_do_not_serve(
    it_staff: User, tenant_b: Tenant
) -> None:
    client = client_for(it_staff)
    assert client.post("/auth/tenant", {"tenant": tenant_b.pk}).status_code == 404
    assert 'name="tenant"' not in client.get("/").content.decode()


def test_an_assignment_removed_falls_back_to_the_home_tenant(
    it_staff: User, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    it_staff.served_tenants.add(tenant_b)
    client = client_for(it_staff)
    client.post("/auth/tenant", {"tenant": tenant_b.pk})
    it_staff.served_tenants.remove(tenant_b)
    assert client.get("/").context["current_tenant"] == tenant_a


def test_the_header_names_the_person_role_and_offers_sign_out(admin: User) -> None:
    html = Client().get("/auth/sign-in").content.decode()
    assert "Sign out" not in html
    html = client_for(admin).get("/").content.decode()
    assert "Ada" in html and ">Admin<" in html
    assert 'action="/auth/sign-out"' in html
    assert 'href="/audit/"' in html

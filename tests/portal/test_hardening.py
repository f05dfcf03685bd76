"""The smaller findings of the attacker's and operator's review (issue 11, point 6): each was a
500, a silent sign-out, a parked request or a page left in the browser's cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.models import User
from portal.tasks import clear_sessions
from tenants.models import Tenant
from tests.conftest import client_for
from tests.portal.conftest import ADELE, Entra

pytestmark = pytest.mark.django_db


# --- Sign-in -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "next_url", ["home", "audit", "javascript:alert(1)", "//evil.example/", "\\\\evil"]
)
def test_an_odd_next_address_still_signs_the_person_in(entra: Entra, next_url: str) -> None:
    client = Client()
    response = entra.sign_in(client, ADELE, next_url=next_url)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("field", ["tenant", "next"])
def test_a_nul_byte_in_the_sign_in_form_is_a_bad_request(
    client: Client, tenant_a: Tenant, field: str
) -> None:
    data = {"tenant": "contoso", "next": "/"}
    data[field] += "\x00"
    assert client.post("/auth/sign-in/start", data).status_code == 400


def test_a_nul_byte_in_a_query_is_a_bad_request(client: Client, requester_a: User) -> None:
    assert client_for(requester_a).get("/requests/", {"q": "a\x00b"}).status_code == 400


def test_a_stray_callback_link_does_not_sign_the_person_out(requester_a: User) -> None:
    client = client_for(requester_a)
    response = client.get("/auth/callback?code=x&state=y")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/requests/").status_code == 200


def test_an_abandoned_sign_in_leaves_a_session_that_expires_soon(
    entra: Entra, client: Client, settings: Settings
) -> None:
    entra.start(client)
    session = Session.objects.get()
    assert session.expire_date < timezone.now() + timedelta(minutes=16)


def test_a_finished_sign_in_gets_the_full_session_lifetime(
    entra: Entra, settings: Settings
) -> None:
    client = Client()
    entra.sign_in(client, ADELE)
    session = Session.objects.get()
    assert session.expire_date > timezone.now() + timedelta(
        seconds=settings.SESSION_ABSOLUTE_TIMEOUT - 60
    )


def test_expired_sessions_are_cleared(client: Client, db: None) -> None:
    old = Session.objects.create(
        session_key="a" * 32, session_data="", expire_date=timezone.now() - timedelta(seconds=1)
    )
    fresh = Session.objects.create(
        session_key="b" * 32, session_data="", expire_date=timezone.now() + timedelta(hours=1)
    )
    assert clear_sessions() == 1
    assert list(Session.objects.all()) == [fresh]
    assert not Session.objects.filter(pk=old.pk).exists()


# --- Ids that the database cannot take -----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/requests/{}/", "/requests/new/{}/", "/tenants/contoso/checks/{}"]
)
def test_a_huge_id_in_an_address_is_a_404(it_staff: User, path: str) -> None:
    assert client_for(it_staff).get(path.format("9" * 30)).status_code == 404


def test_a_huge_tenant_id_in_the_selector_is_a_404(it_staff: User) -> None:
    assert client_for(it_staff).post("/auth/tenant", {"tenant": "9" * 30}).status_code == 404


def test_a_site_url_too_long_to_store_is_refused_next_to_the_field(
    it_staff: User, tenant_a: Tenant
) -> None:
    site = "contoso.sharepoint.com/sites/" + "a" * 464  # 493 characters typed, 501 with https://
    response = client_for(it_staff).post(
        "/directory/contoso/reports/refresh",
        {"kind": "site_permissions", "subject": site},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert "At most 500 characters" in response.content.decode()


# --- Pages are not kept by the browser ------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/requests/new/", "/tenants/", "/tenants/contoso/", "/directory/contoso/groups/"]
)
def test_pages_with_personal_data_are_never_stored_by_the_browser(
    it_staff: User, tenant_a: Tenant, path: str
) -> None:
    response = client_for(it_staff).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]

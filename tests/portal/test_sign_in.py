"""Signing in through Entra ID (the emulator, over HTTP): who gets in, as what, and how."""

from __future__ import annotations

import uuid

import pytest
import requests
from django.conf import settings
from django.test import Client

from audit.models import AuditAction, AuditEvent
from core.roles import Role
from portal.models import User
from tenants.models import Tenant
from tests.conftest import client_for
from tests.portal.conftest import ADELE, DIEGO, LYNNE, MEGAN, NESTOR, Entra

pytestmark = pytest.mark.django_db


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


@pytest.mark.parametrize(
    ("person", "role"),
    [(ADELE, Role.REQUESTER), (MEGAN, Role.IT_STAFF), (NESTOR, Role.ADMIN)],
    ids=["requester", "it_staff", "admin"],
)
def test_each_portal_role_signs_in_and_lands_on_home(entra: Entra, person, role) -> None:
    client = Client()
    response = entra.sign_in(client, person)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = signed_in_user(client)
    assert user is not None
    assert user.role == role
    assert (user.entra_tenant_id, user.entra_object_id) == (
        uuid.UUID(Tenant.objects.get(slug="contoso").entra_tenant_id.hex),
        uuid.UUID(person["oid"]),
    )
    assert user.get_full_name() == person["name"]
    assert user.email == person["mail"]
    # Admins get Django admin scoped to their organisation; none of them is a superuser.
    assert user.is_staff is (role == Role.ADMIN)
    assert user.is_superuser is False
    assert not user.has_usable_password()
    home = client.get("/")
    assert home.status_code == 200
    assert person["name"] in home.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN)
    assert event.tenant is not None
    assert (event.user, event.tenant.slug, event.source_ip) == (user, "contoso", "127.0.0.1")


def test_signing_in_gives_a_new_session_id(entra: Entra) -> None:
    client = Client()
    callback = entra.choose(entra.start(client), ADELE)
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.get(callback)
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert before and after and before != after


def test_a_fabrikam_person_signs_in_to_fabrikam_only(entra: Entra, tenant_b: Tenant) -> None:
    client = Client()
    entra.sign_in(client, DIEGO, slug="fabrikam")
    user = signed_in_user(client)
    assert user is not None and user.home_tenant == tenant_b
    assert client.get("/").context["current_tenant"] == tenant_b


def test_name_and_email_refresh_at_each_sign_in_on_the_same_user(
    entra: Entra, tenant_a: Tenant
) -> None:
    existing = User.objects.create(
        username="old-name",
        first_name="Old Name",
        email="old@example.com",
        role=Role.REQUESTER,
        entra_tenant_id=tenant_a.entra_tenant_id,
        entra_object_id=ADELE["oid"],
        home_tenant=tenant_a,
    )
    client = Client()
    entra.sign_in(client, ADELE)
    existing.refresh_from_db()
    assert signed_in_user(client) == existing
    assert (existing.first_name, existing.email) == (ADELE["name"], ADELE["mail"])
    assert User.objects.count() == 1


def test_the_same_oid_in_another_tenant_is_another_person(entra: Entra, tenant_b: Tenant) -> None:
    """Users are keyed on tid + oid, never on the oid or a name alone."""
    other = User.objects.create(
        username="twin",
        role=Role.ADMIN,
        is_staff=True,
        entra_tenant_id=tenant_b.entra_tenant_id,
        entra_object_id=ADELE["oid"],
        home_tenant=tenant_b,
    )
    client = Client()
    entra.sign_in(client, ADELE)
    user = signed_in_user(client)
    assert user is not None and user != other
    assert user.role == Role.REQUESTER


def test_roles_are_re_evaluated_at_the_next_sign_in(entra: Entra, tenant_a: Tenant) -> None:
    was_admin = User.objects.create(
        username="adele",
        role=Role.ADMIN,
        is_staff=True,
        is_superuser=True,
        entra_tenant_id=tenant_a.entra_tenant_id,
        entra_object_id=ADELE["oid"],
        home_tenant=tenant_a,
    )
    client = Client()
    entra.sign_in(client, ADELE)
    was_admin.refresh_from_db()
    assert was_admin.role == Role.REQUESTER
    assert not was_admin.is_staff and not was_admin.is_superuser
    change = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGED)
    assert change.user == was_admin
    assert change.detail == "Admin -> Requester"
    assert client.get("/admin/").status_code == 302


def test_losing_every_portal_role_takes_the_role_away_and_refuses_entry(
    entra: Entra, tenant_a: Tenant
) -> None:
    former = User.objects.create(
        username="lynne",
        role=Role.IT_STAFF,
        entra_tenant_id=tenant_a.entra_tenant_id,
        entra_object_id=LYNNE["oid"],
        home_tenant=tenant_a,
    )
    client = Client()
    response = entra.sign_in(client, LYNNE)
    assert response.status_code == 403
    former.refresh_from_db()
    assert former.role == ""
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_CHANGED, user=former).exists()
    assert signed_in_user(client) is None


def test_a_disabled_portal_account_cannot_sign_in(entra: Entra, tenant_a: Tenant) -> None:
    User.objects.create(
        username="adele",
        role=Role.REQUESTER,
        is_active=False,
        home_tenant=tenant_a,
        entra_tenant_id=tenant_a.entra_tenant_id,
        entra_object_id=ADELE["oid"],
    )
    client = Client()
    response = entra.sign_in(client, ADELE)
    assert response.status_code == 403
    assert signed_in_user(client) is None


def test_it_returns_to_the_page_asked_for(entra: Entra) -> None:
    client = Client()
    response = entra.sign_in(client, NESTOR, next_url="/audit/")
    assert response["Location"] == "/audit/"


def test_it_never_redirects_off_site_after_sign_in(entra: Entra) -> None:
    client = Client()
    response = entra.sign_in(client, ADELE, next_url="https://evil.example/phish")
    assert response["Location"] == "/"


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/auth/sign-in?next=/"


def test_the_sign_in_page_lists_the_active_organisations(
    client: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    tenant_b.is_active = False
    tenant_b.save()
    html = client.get("/auth/sign-in").content.decode()
    assert "Choose your organisation" in html
    assert 'value="contoso"' in html
    assert 'value="fabrikam"' not in html


def test_the_sign_in_page_says_when_no_organisation_is_configured(client: Client, db: None) -> None:
    html = client.get("/auth/sign-in").content.decode()
    assert "No organisation is configured yet" in html
    assert "<button" not in html.split("<main", 1)[1].split("Development only")[0]


def test_choosing_an_unknown_organisation_shows_the_error_on_the_page(
    client: Client, tenant_a: Tenant
) -> None:
    response = client.post("/auth/sign-in/start", {"tenant": "nope"})
    assert response.status_code == 400
    assert "Choose your organisation from the list." in response.content.decode()


def test_the_demo_authorize_page_offers_the_tenants_people(entra: Entra) -> None:
    page = requests.get(entra.start(Client()), timeout=10).text
    for name in ("Adele Vance", "Megan Bowen", "Nestor Wilke", "Lynne Robbins"):
        assert name in page


# -- sign-out ---------------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_goes_through_entras_end_session_endpoint(
    entra: Entra,
) -> None:
    client = Client()
    entra.sign_in(client, ADELE)
    old_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post("/auth/sign-out")
    assert response.status_code == 302
    location = str(response["Location"])
    tid = Tenant.objects.get(slug="contoso").entra_tenant_id
    assert location.startswith(f"{entra.emulator.url}/{tid}/oauth2/v2.0/logout?")
    assert (
        "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Fauth%2Fsign-in%3Fsigned_out%3D1"
        in location
    )
    back = requests.get(location, allow_redirects=False, timeout=10)
    assert back.headers["Location"] == "http://testserver/auth/sign-in?signed_out=1"
    assert "You have signed out." in client.get("/auth/sign-in?signed_out=1").content.decode()
    assert signed_in_user(client) is None
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    assert replay.get("/").status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT).count() == 1


def test_sign_out_is_a_post_only(requester_a: User) -> None:
    client = client_for(requester_a)
    assert client.get("/auth/sign-out").status_code == 405
    assert client.get("/").status_code == 200


def test_sign_out_still_works_when_entra_is_unreachable(requester_a: User, settings) -> None:
    settings.DEMO_MODE, settings.EMULATOR_URL = True, "http://127.0.0.1:9"
    client = client_for(requester_a)
    response = client.post("/auth/sign-out")
    assert response["Location"] == "/auth/sign-in?signed_out=1"
    assert signed_in_user(client) is None


# -- Django admin through Entra -------------------------------------------------------------------


def test_django_admin_signs_in_through_entra(entra: Entra) -> None:
    client = Client()
    to_admin_login = client.get("/admin/")
    assert to_admin_login["Location"] == "/admin/login/?next=/admin/"
    to_sign_in = client.get(to_admin_login["Location"])
    assert to_sign_in["Location"] == "/auth/sign-in?next=%2Fadmin%2F"
    response = entra.sign_in(client, NESTOR, next_url="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_requester_cannot_use_django_admin(entra: Entra) -> None:
    client = Client()
    entra.sign_in(client, ADELE, next_url="/admin/")
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_break_glass_superuser_signs_in_locally_in_development(db: None) -> None:
    User.objects.create_superuser("breakglass", "bg@example.com", "a-long-dev-password")
    client = Client()
    page = client.get("/admin/login/?local=1")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()
    response = client.post(
        "/admin/login/?local=1",
        {"username": "breakglass", "password": "a-long-dev-password", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_production_admin_login_never_accepts_a_password(db: None, settings) -> None:
    settings.PRODUCTION = True
    settings.AUTHENTICATION_BACKENDS = ["portal.backends.EntraBackend"]
    User.objects.create_superuser("breakglass", "bg@example.com", "a-long-dev-password")
    client = Client()
    assert client.get("/admin/login/?local=1")["Location"].startswith("/auth/sign-in")
    response = client.post(
        "/admin/login/?local=1", {"username": "breakglass", "password": "a-long-dev-password"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/sign-in")
    assert signed_in_user(client) is None
    assert "Development only" not in client.get("/auth/sign-in").content.decode()


def test_the_entra_backend_ignores_usernames_and_passwords(rf, admin: User) -> None:
    from portal.backends import EntraBackend

    admin.set_password("pw-123-456-789")
    admin.save()
    assert (
        EntraBackend().authenticate(rf.get("/"), username=admin.username, password="pw-123-456-789")
        is None
    )


def test_production_settings_have_no_password_backend() -> None:
    from tests.portal.test_settings import PRODUCTION, manage

    code = "from django.conf import settings as s; print(','.join(s.AUTHENTICATION_BACKENDS))"
    result = manage("shell", "--no-imports", "-c", code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "portal.backends.EntraBackend"

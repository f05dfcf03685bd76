"""API authentication (api/auth.py) with real tokens from the running emulator, and API
clients in Django admin."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

from api.auth import ApiAuthError, Principal, authenticate, require
from api.models import API_ROLES, DIRECTORY_READ, REQUESTS_READ, REQUESTS_READWRITE, ApiClient
from core.roles import Role
from portal.models import User
from tenants import entra_keys
from tenants.models import Tenant
from tests.api.conftest import demo_app, resign
from tests.conftest import client_for, demo_tenant

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db
Fetch = Callable[..., str]
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def _no_cached_keys() -> Iterator[None]:
    entra_keys.clear_cache()
    yield
    entra_keys.clear_cache()


def refused(token: str, status: int, title: str, address: str = ADDRESS) -> ApiAuthError:
    """The error ``authenticate`` raises; it never repeats the token."""
    with pytest.raises(ApiAuthError) as caught:
        authenticate(token, address)
    error = caught.value
    assert (error.status, error.title) == (status, title), error.detail
    assert token not in f"{error} {error.title} {error.detail}"
    return error


# -- accepted ----------------------------------------------------------------------------------


def test_a_service_desk_token_gives_both_its_roles_and_a_user_made_once(
    api_client: ApiClient, api_token: Fetch, tenant_a: Tenant
) -> None:
    principal = authenticate(api_token(), ADDRESS)

    assert isinstance(principal, Principal)
    assert principal.client == api_client
    assert principal.tenant == tenant_a
    assert principal.roles == {REQUESTS_READWRITE, DIRECTORY_READ}  # what Entra granted it
    assert str(principal) == f"api-client:{api_client.pk}"
    user = principal.user
    app = demo_app("contoso")
    assert user.username == f"api:{app['client_id']}"
    assert str(user.entra_tenant_id) == str(tenant_a.entra_tenant_id)
    assert str(user.entra_object_id) == app["service_principal_id"]
    assert (user.home_tenant, user.role, user.first_name) == (
        tenant_a,
        Role.IT_STAFF,
        "Service desk",
    )
    assert user.is_active and not user.has_usable_password()

    again = authenticate(api_token(), ADDRESS)
    assert again.user.pk == user.pk
    assert User.objects.filter(username__startswith="api:").count() == 1
    api_client.refresh_from_db()
    assert api_client.user == user
    assert api_client.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(
    api_client: ApiClient, api_token: Fetch
) -> None:
    token = api_token()
    recent = timezone.now() - timedelta(seconds=30)
    ApiClient.objects.filter(pk=api_client.pk).update(last_used_at=recent)
    authenticate(token, ADDRESS)
    api_client.refresh_from_db()
    assert api_client.last_used_at == recent

    ApiClient.objects.filter(pk=api_client.pk).update(last_used_at=recent - timedelta(minutes=1))
    authenticate(token, ADDRESS)
    api_client.refresh_from_db()
    assert api_client.last_used_at is not None and api_client.last_used_at > recent


def test_a_renamed_client_renames_its_user(api_client: ApiClient, api_token: Fetch) -> None:
    token = api_token()
    authenticate(token, ADDRESS)
    api_client.name = "ServiceNow"
    api_client.save()
    assert authenticate(token, ADDRESS).user.first_name == "ServiceNow"
    assert User.objects.get(api_client=api_client).first_name == "ServiceNow"


def test_a_v1_token_for_the_app_id_uri_is_accepted(
    api_client: ApiClient, api_token: Fetch, emulator: RunningEmulator, tenant_a: Tenant
) -> None:
    token = resign(
        emulator,
        api_token(),
        iss=f"https://sts.windows.net/{tenant_a.entra_tenant_id}/",
        aud=f"api://{tenant_a.client_id}",
        ver="1.0",
        azp=None,  # v1 names the client in appid only
    )
    assert authenticate(token, ADDRESS).client == api_client


# -- the token -----------------------------------------------------------------------------------


def test_an_expired_token_is_refused_after_the_leeway(
    api_client: ApiClient, api_token: Fetch, emulator: RunningEmulator
) -> None:
    emulator.control("token-lifetime", seconds=1)
    token = api_token()
    authenticate(token, ADDRESS)  # keys cached before the clock moves
    with time_machine.travel(time.time() + 30, tick=False):
        authenticate(token, ADDRESS)  # within the 60 s leeway
    with time_machine.travel(time.time() + 90, tick=False):
        refused(token, 401, "Token expired")


def test_a_token_not_yet_valid_is_refused(api_client: ApiClient, api_token: Fetch) -> None:
    token = api_token()
    with time_machine.travel(time.time() - 30, tick=False):
        authenticate(token, ADDRESS)  # a clock 30 s behind is tolerated
    with time_machine.travel(time.time() - 120, tick=False):
        refused(token, 401, "Token not yet valid")


def test_another_tenants_client_must_be_registered_in_that_tenant(
    api_client: ApiClient, api_token: Fetch, tenant_b: Tenant
) -> None:
    error = refused(api_token("fabrikam"), 403, "Client not registered")
    app_id = demo_app("fabrikam")["client_id"]
    assert app_id in error.detail and "Django admin > API clients" in error.detail


def test_a_token_from_a_tenant_the_portal_does_not_serve_is_refused(
    api_client: ApiClient, api_token: Fetch, tenant_a: Tenant
) -> None:
    refused(api_token("fabrikam"), 401, "Unknown tenant")
    token = api_token()
    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    refused(token, 401, "Unknown tenant")


@pytest.mark.parametrize("resource", ["point", "graph"])
def test_a_token_for_another_audience_is_refused(
    api_client: ApiClient, api_token: Fetch, tenant_a: Tenant, resource: str
) -> None:
    scope = (
        f"api://{demo_tenant('contoso')['point']['api_app_id']}/.default"
        if resource == "point"
        else "https://graph.microsoft.com/.default"
    )
    error = refused(api_token(scope=scope), 401, "Wrong audience")
    assert f"api://{tenant_a.client_id}/.default" in error.detail


def test_a_token_from_another_issuer_is_refused(
    api_client: ApiClient, api_token: Fetch, emulator: RunningEmulator
) -> None:
    token = resign(emulator, api_token(), iss="https://evil.example/v2.0")
    refused(token, 401, "Wrong issuer")


def test_a_users_delegated_token_is_refused(
    api_client: ApiClient, api_token: Fetch, emulator: RunningEmulator
) -> None:
    megan = next(u for u in demo_tenant("contoso")["users"] if u["name"].startswith("Megan"))
    token = resign(
        emulator, api_token(), scp="Requests.Read", idtyp="user", oid=megan["oid"], roles=None
    )
    refused(token, 401, "User token")


def test_a_tampered_payload_fails_the_signature(api_client: ApiClient, api_token: Fetch) -> None:
    head, payload, signature = api_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = list(API_ROLES)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    refused(f"{head}.{forged}.{signature}", 401, "Invalid signature")


def test_only_rs256_tokens_are_read(api_client: ApiClient, api_token: Fetch) -> None:
    claims = jwt.decode(api_token(), options={"verify_signature": False})
    refused(
        jwt.encode(claims, "a-guessed-secret-of-32-bytes-or-more!", "HS256"),
        401,
        "Unsupported token",
    )
    head, payload, _ = api_token().split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    none = base64.urlsafe_b64encode(json.dumps({**header, "alg": "none"}).encode()).decode()
    refused(f"{none.rstrip('=')}.{payload}.", 401, "Unsupported token")


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_what_is_not_a_jwt_is_refused(db: None, token: str) -> None:
    with pytest.raises(ApiAuthError) as caught:
        authenticate(token, ADDRESS)
    assert (caught.value.status, caught.value.title) == (401, "Not a token")


def test_entra_being_unreachable_is_a_503(
    api_client: ApiClient, api_token: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api_token()

    def down(url: str) -> dict[str, Any]:
        raise entra_keys.EntraKeyError(entra_keys.EntraKeyError.Kind.UNREACHABLE, "down")

    monkeypatch.setattr(entra_keys, "_fetch", down)
    refused(token, 503, "Entra ID unreachable")


# -- key rollover ------------------------------------------------------------------------------


def new_key(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**jwk, "kid": kid, "use": "sig"}


def signed_with(token: str, key: rsa.RSAPrivateKey, kid: str) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_a_rolled_over_key_is_accepted_after_one_refetch(
    api_client: ApiClient, api_token: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, rolled = new_key("rolled")
    fetched: list[str] = []
    real = entra_keys._fetch

    def fetch(url: str) -> dict[str, Any]:
        body = real(url)
        if url.endswith("/discovery/v2.0/keys"):
            fetched.append(url)
            if len(fetched) > 1:  # Entra published the new key after our first read
                body = {"keys": [*body["keys"], rolled]}
        return body

    monkeypatch.setattr(entra_keys, "_fetch", fetch)
    authenticate(api_token(), ADDRESS)  # the JWKS is cached, without the new key
    assert len(fetched) == 1

    token = signed_with(api_token(), private, "rolled")
    assert authenticate(token, ADDRESS).client == api_client
    assert len(fetched) == 2
    authenticate(token, ADDRESS)
    assert len(fetched) == 2  # the refreshed JWKS is cached again


def test_a_kid_never_published_is_refused_without_a_refetch_loop(
    api_client: ApiClient, api_token: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    real = entra_keys._fetch

    def fetch(url: str) -> dict[str, Any]:
        if url.endswith("/discovery/v2.0/keys"):
            fetched.append(url)
        return real(url)

    monkeypatch.setattr(entra_keys, "_fetch", fetch)
    private, _ = new_key("never-published")
    token = signed_with(api_token(), private, "never-published")

    refused(token, 401, "Unknown signing key")
    assert len(fetched) == 2  # the cached read, then one refetch
    refused(token, 401, "Unknown signing key")
    assert len(fetched) == 2  # refetched at most once a minute, however many such tokens come


# -- the client ----------------------------------------------------------------------------------


def test_a_client_without_a_role_in_common_is_refused(
    api_client: ApiClient, api_token: Fetch, emulator: RunningEmulator
) -> None:
    token = api_token()
    api_client.roles = [REQUESTS_READ]  # the token carries Requests.ReadWrite and Directory.Read
    api_client.save()
    error = refused(token, 403, "No API role")
    assert "App roles" in error.detail and "Django admin > API clients" in error.detail
    assert all(role in error.detail for role in API_ROLES)

    api_client.roles = list(API_ROLES)
    api_client.save()
    refused(resign(emulator, token, roles=None), 403, "No API role")  # nothing granted in Entra


def test_a_disabled_client_is_refused(api_client: ApiClient, api_token: Fetch) -> None:
    api_client.enabled = False
    api_client.save()
    refused(api_token(), 403, "Client disabled")


def test_a_client_whose_portal_user_was_deactivated_is_refused(
    api_client: ApiClient, api_token: Fetch
) -> None:
    token = api_token()
    user = authenticate(token, ADDRESS).user
    User.objects.filter(pk=user.pk).update(is_active=False)
    refused(token, 403, "Client disabled")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("203.0.113.9", True),
        ("2001:db8::1", True),
        ("198.51.100.1", False),
        ("2001:db9::1", False),
        ("", False),
    ],
)
def test_only_addresses_inside_the_allowed_ranges_may_call(
    api_client: ApiClient, api_token: Fetch, address: str, allowed: bool
) -> None:
    api_client.allowed_networks = "203.0.113.0/24\n2001:db8::/32"
    api_client.save()
    if allowed:
        assert authenticate(api_token(), address).client == api_client
    else:
        refused(api_token(), 403, "Address not allowed", address=address)


def test_require_passes_with_any_one_role_and_names_the_missing_ones(
    api_client: ApiClient, api_token: Fetch
) -> None:
    principal = authenticate(api_token(), ADDRESS)
    require(principal, REQUESTS_READ, REQUESTS_READWRITE)
    require(principal, DIRECTORY_READ)
    api_client.roles = [DIRECTORY_READ]
    api_client.save()
    reader = authenticate(api_token(), ADDRESS)
    with pytest.raises(ApiAuthError) as caught:
        require(reader, REQUESTS_READ, REQUESTS_READWRITE)
    error = caught.value
    assert (error.status, error.title) == (403, "Missing API role")
    assert REQUESTS_READ in error.detail and REQUESTS_READWRITE in error.detail


# -- Django admin ------------------------------------------------------------------------------


def add_form(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Ticketing",
        "tenant": str(tenant.pk),
        "app_id": "0b3f1f1e-52a5-4c8b-9c3c-9d1d1d1d1d1d",
        "roles": [REQUESTS_READ],
        "allowed_networks": "",
        "rate_limit": "",
        "enabled": "on",
    }
    data.update(changes)
    return data


def test_contosos_admin_sees_and_edits_only_contosos_clients(
    api_client: ApiClient, admin: User, tenant_b: Tenant, operator: User
) -> None:
    theirs = ApiClient.objects.create(
        name="Fabrikam desk", tenant=tenant_b, app_id=demo_app("fabrikam")["client_id"]
    )
    web = client_for(admin)
    listing = web.get("/admin/api/apiclient/").content.decode()
    assert "Service desk" in listing and "Fabrikam desk" not in listing
    assert web.get(f"/admin/api/apiclient/{theirs.pk}/change/").status_code == 404
    assert web.post(f"/admin/api/apiclient/{theirs.pk}/delete/", {"post": "yes"}).status_code == 404

    form = add_form(api_client.tenant, name="Service desk (renamed)", app_id=str(api_client.app_id))
    assert web.post(f"/admin/api/apiclient/{api_client.pk}/change/", form).status_code == 302
    api_client.refresh_from_db()
    assert (api_client.name, api_client.roles) == ("Service desk (renamed)", [REQUESTS_READ])

    # Contoso's admin registers Contoso's clients only.
    assert web.post("/admin/api/apiclient/add/", add_form(api_client.tenant)).status_code == 302
    refused_add = web.post("/admin/api/apiclient/add/", add_form(tenant_b, name="Sneaky"))
    assert refused_add.status_code == 200
    assert "tenant" in refused_add.context["adminform"].form.errors
    assert not ApiClient.objects.filter(name="Sneaky").exists()

    every = client_for(operator).get("/admin/api/apiclient/").content.decode()
    assert "Fabrikam desk" in every and "Service desk" in every


def test_the_admin_form_offers_roles_as_checkboxes_and_refuses_bad_values_by_field(
    admin: User, tenant_a: Tenant
) -> None:
    web = client_for(admin)
    page = web.get("/admin/api/apiclient/add/").content.decode()
    for role in API_ROLES:
        assert f'type="checkbox" name="roles" value="{role}"' in page

    answer = web.post(
        "/admin/api/apiclient/add/",
        add_form(
            tenant_a, roles=[REQUESTS_READ, "Everything.ReadWrite"], allowed_networks="10.0.0.0/33"
        ),
    )
    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert "Everything.ReadWrite" in errors["roles"][0]
    assert "Not an address or CIDR range" in errors["allowed_networks"][0]
    assert not ApiClient.objects.exists()

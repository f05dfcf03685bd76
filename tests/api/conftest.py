"""REST API fixtures: Contoso's service desk registered as an API client, and real app-only
tokens from the running emulator (client credentials, as a service desk gets them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jwt
import pytest
import requests

from api.models import API_ROLES, ApiClient
from tenants.models import Tenant
from tests.conftest import demo_tenant

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

SERVICE_DESK = "Service desk (API client)"  # the demo app of contoso and fabrikam with API roles


def demo_app(slug: str, name: str = SERVICE_DESK) -> dict[str, Any]:
    """An app registration of the emulator's demo fixture, by tenant slug and name."""
    return next(app for app in demo_tenant(slug)["apps"] if app["name"] == name)


def portal_scope(slug: str) -> str:
    """The scope a client asks for to call the portal's API (its app registration's URI)."""
    return f"api://{demo_tenant(slug)['apps'][0]['client_id']}/.default"


def fetch_token(
    emulator: RunningEmulator, slug: str = "contoso", app: str = SERVICE_DESK, scope: str = ""
) -> str:
    """A client-credentials access token the emulator issues to ``app`` of ``slug``; the
    portal's API scope unless ``scope`` names another."""
    found = demo_app(slug, app)
    answer = requests.post(
        f"{emulator.url}/{demo_tenant(slug)['id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": found["client_id"],
            "client_secret": found["secrets"][0]["value"],
            "scope": scope or portal_scope(slug),
        },
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def resign(emulator: RunningEmulator, token: str, **changes: Any) -> str:
    """``token``'s claims with ``changes`` (None removes a claim), signed again with its
    tenant's emulator key: a token Entra could have issued with other claims."""
    claims = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    tid = claims["tid"]
    keys = requests.get(f"{emulator.url}/{tid}/discovery/v2.0/keys", timeout=10).json()["keys"]
    return jwt.encode(
        claims,
        emulator.state.signing_key_pem(tid),
        algorithm="RS256",
        headers={"kid": keys[0]["kid"]},
    )


@pytest.fixture
def api_client(tenant_a: Tenant) -> ApiClient:
    """Contoso's service desk, registered with every API role and no address limit."""
    return ApiClient.objects.create(
        name="Service desk",
        tenant=tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )


@pytest.fixture
def api_token(emulator: RunningEmulator) -> Callable[..., str]:
    """``fetch_token`` on the running emulator: ``api_token()`` is Contoso's service desk's;
    ``api_token("fabrikam")``, ``api_token(scope=...)`` others."""

    def fetch(slug: str = "contoso", app: str = SERVICE_DESK, scope: str = "") -> str:
        return fetch_token(emulator, slug, app, scope)

    return fetch

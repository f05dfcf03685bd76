"""Shared fixtures: tenants, the personas of the access matrix, and a live emulator.

Personas (as healthchecks does with alice/bob/charlie):
- requester_a, requester_b: two requesters of tenant_a (Contoso);
- it_staff: IT staff of tenant_a; it_staff_other: IT staff of tenant_b (Fabrikam) only;
- admin: admin of tenant_a (Django admin scoped to Contoso); admin_other: admin of tenant_b;
- operator: operator of the whole portal (signs in from tenant_a, the operator tenant).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from core.roles import Role
from portal.models import User
from tenants.models import Tenant

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

DEMO_FIXTURE = Path(__file__).resolve().parents[1] / "emulator" / "fixtures" / "demo.json"


def demo_tenant(slug: str) -> dict[str, Any]:
    """A tenant of the emulator's demo fixture (ids, app registration, users)."""
    tenants = json.loads(DEMO_FIXTURE.read_text())["tenants"]
    return next(t for t in tenants if t["slug"] == slug)


def make_tenant(slug: str, api_url: str) -> Tenant:
    data = demo_tenant(slug)
    app = data["apps"][0]
    tenant = Tenant(
        name=data["name"],
        slug=slug,
        entra_tenant_id=data["id"],
        client_id=app["client_id"],
        api_url=api_url,
        point_app_id=data["point"]["api_app_id"],
    )
    tenant.set_client_secret(app["secrets"][0]["value"])
    tenant.save()
    return tenant


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return make_tenant("contoso", "http://127.0.0.1:9/point/contoso")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return make_tenant("fabrikam", "http://127.0.0.1:9/point/fabrikam")


def make_user(tenant: Tenant, name: str, role: str, **extra: Any) -> User:
    return User.objects.create(
        username=f"{uuid.uuid4()}@{tenant.entra_tenant_id}",
        first_name=name,
        email=f"{name.lower()}@{tenant.slug}.example",
        entra_tenant_id=tenant.entra_tenant_id,
        entra_object_id=uuid.uuid4(),
        home_tenant=tenant,
        role=role,
        **extra,
    )


@pytest.fixture
def requester_a(tenant_a: Tenant) -> User:
    return make_user(tenant_a, "Alice", Role.REQUESTER)


@pytest.fixture
def requester_b(tenant_a: Tenant) -> User:
    return make_user(tenant_a, "Bob", Role.REQUESTER)


@pytest.fixture
def it_staff(tenant_a: Tenant) -> User:
    return make_user(tenant_a, "Ivy", Role.IT_STAFF)


@pytest.fixture
def it_staff_other(tenant_b: Tenant) -> User:
    return make_user(tenant_b, "Oscar", Role.IT_STAFF)


@pytest.fixture
def admin(tenant_a: Tenant) -> User:
    return make_user(tenant_a, "Ada", Role.ADMIN, is_staff=True)


@pytest.fixture
def admin_other(tenant_b: Tenant) -> User:
    return make_user(tenant_b, "Lee", Role.ADMIN, is_staff=True)


@pytest.fixture
def operator(tenant_a: Tenant, settings: Settings) -> User:
    settings.OPERATOR_TENANT_ID = str(tenant_a.entra_tenant_id)
    return make_user(tenant_a, "Olga", Role.OPERATOR, is_staff=True, is_superuser=True)


@pytest.fixture(autouse=True)
def _cache_starts_empty() -> Iterator[None]:
    """What one test cached (a dashboard, a directory list, a throttle) is not another's: ids
    are reused from test to test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _point_forgets_what_it_learnt() -> Iterator[None]:
    """The Point client remembers per URL whether Point honours `search` and `$skip`; a test
    that switches the emulator's dialect must not leave that to the next one."""
    from upstreams.point.provider import forget_learned

    forget_learned()
    yield
    forget_learned()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def wire_to_emulator(settings: Settings, url: str) -> None:
    """Entra (msal), EMULATOR_URL and Microsoft Graph at the emulator on ``url``."""
    settings.DEMO_MODE = True
    settings.EMULATOR_URL = url
    settings.GRAPH_API_URL = f"{url}/graph/v1.0"
    # As portal/settings.py does for the demo emulator: sign-in forms redirect to it.
    settings.SECURE_CSP = {
        **settings.SECURE_CSP,
        "form-action": ["'self'", settings.ENTRA_LOGIN_URL, url],
    }


@pytest.fixture
def emulator(settings: Settings) -> Iterator[RunningEmulator]:
    """A clean emulator on a free port; msal's Entra calls and EMULATOR_URL point at it."""
    from emulator.server import start_background

    running = start_background(log_requests=False)
    wire_to_emulator(settings, running.url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def live_tenant_a(tenant_a: Tenant, emulator: RunningEmulator) -> Tenant:
    """tenant_a wired to the emulator's Point instance for Contoso."""
    tenant_a.api_url = f"{emulator.url}/point/contoso"
    tenant_a.save()
    return tenant_a


@pytest.fixture
def live_graph_tenant(emulator: RunningEmulator) -> Tenant:
    """Litware, provisioning straight through the emulator's Microsoft Graph."""
    tenant = make_tenant("litware", f"{emulator.url}/graph/v1.0")
    tenant.provider = "graph"
    tenant.save()
    return tenant


@pytest.fixture
def live_gt365_tenant(emulator: RunningEmulator) -> Tenant:
    """Tailspin Toys, provisioning through the emulator's GT365."""
    tenant = make_tenant("tailspin", f"{emulator.url}/gt365/api")
    tenant.provider = "gt365"
    tenant.save()
    return tenant


@pytest.fixture
def live_tenant_b(tenant_b: Tenant, emulator: RunningEmulator) -> Tenant:
    tenant_b.api_url = f"{emulator.url}/point/fabrikam"
    tenant_b.save()
    return tenant_b

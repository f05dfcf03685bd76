"""Sign-in helpers: drive the real msal flow through the emulator over HTTP.

The portal side runs in Django's test client (host ``testserver``), so the fixture registers
``http://testserver/auth/callback`` on both demo app registrations; the authorize page is
answered with ``requests`` as a browser would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.test import Client

from emulator.server import RunningEmulator
from tenants.models import Tenant
from tests.conftest import demo_tenant

CALLBACK = "http://testserver/auth/callback"


def person(slug: str, first_name: str) -> dict[str, Any]:
    """A user of the emulator's demo fixture, by tenant slug and first name."""
    return next(u for u in demo_tenant(slug)["users"] if u["name"].startswith(first_name))


ADELE = person("contoso", "Adele")  # Portal.Requester
MEGAN = person("contoso", "Megan")  # Portal.ITStaff
NESTOR = person("contoso", "Nestor")  # Portal.Admin
LYNNE = person("contoso", "Lynne")  # no portal role
GRADY = person("contoso", "Grady")  # Portal.Operator (Contoso runs the portal in the demo)
DIEGO = person("fabrikam", "Diego")  # Portal.Requester in Fabrikam
LEE = person("fabrikam", "Lee")  # Portal.Admin in Fabrikam


@dataclass
class Entra:
    emulator: RunningEmulator

    def start(self, client: Client, slug: str = "contoso", next_url: str = "") -> str:
        """Press the organisation's button; returns the authorize URL the portal redirects to."""
        data = {"tenant": slug, **({"next": next_url} if next_url else {})}
        response = client.post("/auth/sign-in/start", data)
        assert response.status_code == 302, response.content.decode()
        location = str(response["Location"])
        assert location.startswith(f"{self.emulator.url}/"), location
        return location

    def choose(self, authorize_url: str, user: dict[str, Any]) -> str:
        """Pick ``user`` on the emulator's page; returns the callback path with its query."""
        answer = requests.post(
            authorize_url, data={"user": user["oid"]}, allow_redirects=False, timeout=10
        )
        return self._callback(answer)

    def cancel(self, authorize_url: str) -> str:
        answer = requests.post(
            authorize_url, data={"cancel": "1"}, allow_redirects=False, timeout=10
        )
        return self._callback(answer)

    def _callback(self, answer: requests.Response) -> str:
        assert answer.status_code == 302, answer.text
        location = answer.headers["Location"]
        assert location.startswith(CALLBACK + "?"), location
        return location[len("http://testserver") :]

    def sign_in(
        self, client: Client, user: dict[str, Any], slug: str = "contoso", next_url: str = ""
    ) -> Any:
        return client.get(self.choose(self.start(client, slug, next_url), user))

    def override_id_token(self, **body: Any) -> None:
        self.emulator.control("id-token-overrides", **body)


def with_query(path: str, **changes: str | None) -> str:
    """``path`` with query parameters replaced (None removes one)."""
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return f"{parts.path}?{urlencode(query)}"


@pytest.fixture
def entra(emulator: RunningEmulator, tenant_a: Tenant, tenant_b: Tenant) -> Entra:
    for tenant in (tenant_a, tenant_b):
        emulator.control("redirect-uris", client_id=str(tenant.client_id), add=[CALLBACK])
    return Entra(emulator)

"""The HTTP session msal uses for Entra ID: a timeout always, the emulator in demo mode.

msal only accepts an https authority, so in demo mode and tests the authority stays
https://login.microsoftonline.com/<tid> and this session sends those calls to the emulator
(settings.EMULATOR_URL) instead. Outside demo mode it is a plain session with a timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings

if TYPE_CHECKING:
    from tenants.models import Tenant

ENTRA_TIMEOUT = (5, 15)  # connect, read (seconds)


class EntraSession(requests.Session):
    def __init__(self, emulator_url: str = "") -> None:
        super().__init__()
        self.emulator_url = emulator_url.rstrip("/")
        # Proxy and CA variables of the machine must not redirect sign-in traffic.
        self.trust_env = not self.emulator_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if self.emulator_url and target.startswith(settings.ENTRA_LOGIN_URL):
            target = self.emulator_url + target[len(settings.ENTRA_LOGIN_URL):]
        kwargs.setdefault("timeout", ENTRA_TIMEOUT)
        return super().request(method, target, *args, **kwargs)


def entra_session() -> EntraSession:
    return EntraSession(settings.EMULATOR_URL if settings.DEMO_MODE else "")


def authority(tenant: Tenant) -> str:
    """The tenant's Entra authority (msal needs https; demo mode reroutes it above)."""
    return f"{settings.ENTRA_LOGIN_URL}/{tenant.entra_tenant_id}"

"""The HTTP session msal uses for Entra ID: a timeout always, the emulator in demo mode.

msal only accepts an https authority, so in demo mode and tests the authority stays
https://login.microsoftonline.com/<tid> and this session sends those calls to the emulator
(settings.EMULATOR_URL) instead. Outside demo mode it is a plain session with a timeout.

The session also turns an outage answer into an exception before msal sees it: a 5xx, 408 or
429, or a 2xx whose body is not a JSON object, raises `EntraAnswerError` (a
requests.HTTPError). Without that, msal raises its own MsalServiceError for a 5xx, a
RuntimeError or a "check your tenant name" ValueError during discovery, a JSONDecodeError for
a broken body, or caches the answer for a while (its throttled HTTP client); with it, every
outage reaches the portal as one requests exception that tenants.tokens maps to
EntraUnavailable and portal.auth to "Entra could not be reached". Every Entra endpoint the
portal calls (discovery, JWKS, token) answers JSON, so the body check holds for all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings

if TYPE_CHECKING:
    from tenants.models import Tenant

ENTRA_TIMEOUT = (5, 15)  # connect, read (seconds); tests shorten it

# Statuses that mean "Entra is down, overloaded or throttling": try again later.
_OUTAGE_STATUSES = frozenset({408, 429})


class EntraAnswerError(requests.HTTPError):
    """Entra answered with an outage status (5xx, 408, 429) or an unreadable body.

    `status` is the HTTP status; `malformed` is True for a 2xx whose body is not a JSON object.
    The message names the status only: never the body, a header or the request.
    """

    def __init__(self, message: str, *, status: int, malformed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.malformed = malformed


def _is_outage(status: int) -> bool:
    return status >= 500 or status in _OUTAGE_STATUSES


def _json_object(response: requests.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


class EntraSession(requests.Session):
    def __init__(self, emulator_url: str = "") -> None:
        super().__init__()
        self.emulator_url = emulator_url.rstrip("/")
        # Proxy and CA variables of the machine must not redirect sign-in traffic.
        self.trust_env = not self.emulator_url
        # The status of the last answer, read by tenants.tokens right after msal's discovery
        # (a 4xx there means an unknown tenant, anything else an outage). The session is not
        # shared between threads until the app that owns it is built.
        self.last_status: int | None = None

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if self.emulator_url and target.startswith(settings.ENTRA_LOGIN_URL):
            target = self.emulator_url + target[len(settings.ENTRA_LOGIN_URL) :]
        kwargs.setdefault("timeout", ENTRA_TIMEOUT)
        response = super().request(method, target, *args, **kwargs)
        status = response.status_code
        self.last_status = status
        if _is_outage(status):
            response.close()
            raise EntraAnswerError(f"Entra ID answered HTTP {status}.", status=status)
        if 200 <= status < 300 and status != 204 and not _json_object(response):
            raise EntraAnswerError(
                f"Entra ID answered HTTP {status} with a body that is not a JSON object.",
                status=status,
                malformed=True,
            )
        return response


def entra_session() -> EntraSession:
    return EntraSession(settings.EMULATOR_URL if settings.DEMO_MODE else "")


def authority(tenant: Tenant) -> str:
    """The tenant's Entra authority (msal needs https; demo mode reroutes it above)."""
    return f"{settings.ENTRA_LOGIN_URL}/{tenant.entra_tenant_id}"

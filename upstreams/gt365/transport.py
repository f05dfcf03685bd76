"""HTTP to GT365: the upstream layer's HTTP loop (upstreams/http.py: timeouts, the bearer
token, bounded retries honouring Retry-After, OutcomeUnknown for the POST once it may have
arrived, one token renewal on 401) with GT365's errors.

GT365's one call is synchronous and may take up to two minutes (seed 001): the connection's
``read_timeout`` must allow for it, or a slow success reads as OutcomeUnknown.

``error_for`` turns any GT365 error (an HTTP 4xx, or a 2xx whose wrapped message failed) into
the contract's error, so both paths say the same thing.
"""

from __future__ import annotations

from typing import Any

import requests

from upstreams import http
from upstreams.contract import (
    AlreadyExists,
    AuthenticationFailed,
    Connection,
    Invalid,
    OutcomeUnknown,
    PermissionMissing,
    RequestStatus,
    Status,
    Throttled,
    UpstreamError,
)
from upstreams.gt365 import wire
from upstreams.http import Answer

__all__ = ["Answer", "call", "error_for"]

# One pool of connections for every tenant (requests keeps them per host). Tests replace it.
_session: http.Session = requests.Session()

LABEL = "GT365"

# Guidance shown when GT365 refuses a token, not a secret (bandit B105).
_TOKEN_GUIDANCE = (  # nosec B105
    "GT365 takes a Microsoft Graph token of the tenant's own app registration (client "
    "credentials, scope https://graph.microsoft.com/.default): check the portal app's client "
    "ID and secret and the tenant ID."
)


def _permission_guidance(permission: str) -> str:
    return (
        "In the Entra admin center > App registrations > the portal's app > API permissions > "
        f"Add a permission > Microsoft Graph > Application permissions, add {permission}, "
        'then select "Grant admin consent".'
    )


def error_for(found: wire.Problem, *, request_name: str, permission: str) -> UpstreamError:
    """The contract's error for a GT365 error, wherever it came from."""
    status, code = found.status, found.code.lower()
    if status == 401 or code == "invalidauthenticationtoken":
        return AuthenticationFailed(
            f"GT365 rejected the portal's token for {request_name}: {found.message}",
            guidance=_TOKEN_GUIDANCE,
            status=401,
        )
    if status == 403 or code == "authorization_requestdenied":
        return PermissionMissing(
            f"The portal's app registration lacks the Microsoft Graph permission {permission}, "
            f"which GT365 needs for {request_name}.",
            permission=permission,
            guidance=_permission_guidance(permission),
        )
    if status == 429:
        # A wrapped 429 (Graph throttled GT365): nothing was created, so it may be sent again.
        return Throttled(
            f"GT365 is throttled ({found.message}); try again later.", retry_after=None
        )
    if status >= 500:
        return OutcomeUnknown(
            f"GT365 reported a failure ({status}: {found.message}) for {request_name}: the "
            "group may or may not have been created.",
            status=status,
        )
    clash = wire.duplicate(found)
    if clash is not None:
        return AlreadyExists(
            f"GT365 says a group with this e-mail alias already exists: {found.message}",
            field=clash,
            existing=RequestStatus(id="", status=Status.COMPLETED),
            status=status,
        )
    if status == 404 and not (found.code or found.details):
        return UpstreamError(
            f"GT365 answered 404 to {request_name}: check the tenant's GT365 API URL "
            "(https://gt365api.atwork-it.com/api).",
            status=404,
        )
    return Invalid(wire.field_errors(found), status=status)


class _Gt365:
    """How GT365's answers read (http.Api)."""

    label = LABEL

    def error_message(self, data: Any, *, status: int, reason: str) -> str:
        return wire.error_message(data, status=status, reason=reason)

    def unauthorized(self, request: http.Request) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"GT365 rejected the portal's token for {request.name} (401).",
            guidance=_TOKEN_GUIDANCE,
            status=401,
        )

    def refused(self, response: requests.Response, request: http.Request) -> UpstreamError:
        found = wire.problem(
            http.decoded(response),
            status=response.status_code,
            reason=response.reason or "",
            text=response.text if response.content else "",
        )
        return error_for(found, request_name=request.name, permission=request.permission)


_API = _Gt365()


def call(connection: Connection, method: str, path_or_url: str, **options: Any) -> Answer:
    """One GT365 call (upstreams.http.call with GT365's errors). ``options``: those of upstreams.http.call (permission, params, body,
    safe_to_repeat, expect_json, headers)."""
    return http.call(_API, _session, connection, method, path_or_url, **options)

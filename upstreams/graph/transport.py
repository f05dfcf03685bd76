"""HTTP to Microsoft Graph: the upstream layer's HTTP loop (upstreams/http.py: timeouts, the
bearer token renewed once on a 401, bounded retries honouring Retry-After, OutcomeUnknown for a
write that may have arrived) with Graph's errors, and ``@odata.nextLink`` paging.

Graph's error envelope is ``{"error": {code, message, details}}`` (reference §3.6), read by
``wire`` in any key case. Paging links are followed verbatim (they carry ``$skiptoken``) and only
on the base URL's origin, since the token goes with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests

from upstreams import http
from upstreams.contract import (
    FIELD_DESIRED_URL,
    AlreadyExists,
    AuthenticationFailed,
    Conflict,
    Connection,
    Invalid,
    NotFound,
    NotSupported,
    PermissionMissing,
    UpstreamError,
)
from upstreams.graph import wire
from upstreams.http import Answer

__all__ = ["Answer", "beta_url", "call", "consent_guidance", "pages"]

# One pool of connections for every tenant (requests keeps them per host). Tests replace it.
_session: http.Session = requests.Session()

LABEL = "Microsoft Graph"
# Graph wants this header for $search, $count and advanced $filter (reference §3.5).
EVENTUAL = {"ConsistencyLevel": "eventual"}


def consent_guidance(permission: str) -> str:
    return (
        "In the Entra admin center > App registrations > the portal's app > API permissions > "
        f"Add a permission > Microsoft Graph > Application permissions, add {permission}; then "
        'select "Grant admin consent for <your organisation>".'
    )


class _Graph:
    """How Graph's answers read (http.Api)."""

    label = LABEL

    def error_message(self, data: Any, *, status: int, reason: str) -> str:
        return wire.error_message(data, status=status, reason=reason)

    def unauthorized(self, request: http.Request) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"Microsoft Graph rejected the portal's token for {request.name} (401).",
            guidance="The token must be issued by the tenant's directory for "
            "https://graph.microsoft.com: check the tenant's directory (tenant) id and the "
            "portal's app registration.",
            status=401,
        )

    def refused(self, response: requests.Response, request: http.Request) -> UpstreamError:
        status = response.status_code
        data = http.decoded(response)
        message = wire.error_message(data, status=status, reason=response.reason or "")
        if status == 403:
            return PermissionMissing(
                f"The portal's app registration lacks the Microsoft Graph permission "
                f"{request.permission} (needed for {request.name}).",
                permission=request.permission,
                guidance=consent_guidance(request.permission),
            )
        if status == 400 and wire.nickname_taken(data):
            return AlreadyExists(message, status=400, field=FIELD_DESIRED_URL)
        if status == 400 and wire.api_unavailable(data):
            return NotSupported(
                f"Microsoft Graph does not offer {request.name} here: {message}", status=400
            )
        if status in (400, 422):
            return Invalid(wire.field_errors(data, status=status), status=status)
        if status == 404:
            return NotFound(message, status=404)
        if status == 409:
            if wire.name_taken(data):
                return AlreadyExists(message, status=409, field=FIELD_DESIRED_URL)
            return Conflict(message, status=409)
        return UpstreamError(
            f"Microsoft Graph answered {status} to {request.name}: {message}", status=status
        )


_API = _Graph()


def beta_url(connection: Connection, path: str) -> str:
    """The beta endpoint of ``path``: the base URL's trailing ``/v1.0`` becomes ``/beta``."""
    root = connection.base_url.rstrip("/")
    if root.endswith("/v1.0"):
        root = root[: -len("/v1.0")] + "/beta"
    return root + "/" + path.lstrip("/")


def call(connection: Connection, method: str, path_or_url: str, **options: Any) -> Answer:
    """One Graph call (upstreams.http.call with Graph's errors). ``options``: those of upstreams.http.call (permission, params, body,
    safe_to_repeat, expect_json, headers)."""
    return http.call(_API, _session, connection, method, path_or_url, **options)


def pages(
    connection: Connection,
    path: str,
    *,
    permission: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[wire.ListPage]:
    """Every page of a collection, by ``@odata.nextLink`` (followed verbatim; the first query
    is in it). A link seen before ends the read with an error instead of a loop. Callers bound
    how much they read."""
    answer = call(connection, "GET", path, permission=permission, params=params, headers=headers)
    found = wire.page(answer.data)
    yield found
    seen: set[str] = set()
    while found.next_link:
        if found.next_link in seen:
            raise UpstreamError("Microsoft Graph sent a paging link to a page already read.")
        seen.add(found.next_link)
        answer = call(connection, "GET", found.next_link, permission=permission, headers=headers)
        found = wire.page(answer.data)
        yield found


def items(
    connection: Connection,
    path: str,
    *,
    permission: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Mapping[str, Any]]:
    """Every item of a collection, page after page."""
    for found in pages(connection, path, permission=permission, params=params, headers=headers):
        yield from found.items

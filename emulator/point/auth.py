"""Bearer validation and the documented permission matrix [2.2] of the Point API.

Point is an ASP.NET Core app using JwtBearer [inferred], so: 401 with an empty body and a
``WWW-Authenticate: Bearer`` challenge when the token is missing or invalid (signature, expiry,
audience, or issued by another tenant than this Point instance's), and 403 with an empty body
when the token is valid but lacks the endpoint's app role. Neither names anything secret.
"""

from __future__ import annotations

from typing import Any

from emulator import entra
from emulator.server import Request, Response

SHAREPOINT_READ_ALL = "SharePoint.Read.All"
ASYNC_REQUESTS = "Point.AsyncRequests"
PROVISIONING = "Point.Provisioning"
ADMIN = "Point.Admin"

# documented [2.2]: the roles that open each endpoint group (any one of them suffices).
# The matrix is applied exactly; Point.Admin is not treated as a superset (unknown [11.9]).
WEBHOOKS = (ADMIN,)
OPTIONS = (ADMIN,)
PROVISION = (PROVISIONING,)
GROUPS = (SHAREPOINT_READ_ALL, ASYNC_REQUESTS)
SITES = (SHAREPOINT_READ_ALL,)
USERS = (SHAREPOINT_READ_ALL,)  # was Point.AsyncRequests before the 2026-02-18 docs change
ASYNC_STATUS = (SHAREPOINT_READ_ALL, ASYNC_REQUESTS)


class Denied(Exception):
    """Carries the 401/403 response; routes turn it into the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def unauthorized(error: str | None = None) -> Response:
    # JwtBearer sends a bare challenge when no token came, and error="invalid_token" otherwise.
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return Response(401, b"", {"WWW-Authenticate": challenge})


def forbidden() -> Response:
    return Response(403, b"", {})


def bearer_token(req: Request) -> str | None:
    header = req.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorize(req: Request, tenant: dict[str, Any], roles: tuple[str, ...]) -> dict[str, Any]:
    """The token's claims if it may call an endpoint needing any of ``roles``; raises Denied."""
    token = bearer_token(req)
    if token is None:
        raise Denied(unauthorized())
    audience = str(tenant.get("point", {}).get("api_app_id", ""))
    try:
        claims = entra.verify_access_token(req.state, token, audience=audience)
    except entra.InvalidToken as exc:
        raise Denied(unauthorized("invalid_token")) from exc
    # One Point instance serves one tenant: a token from another tenant is not for us, even if
    # it were signed correctly for the same audience.
    if str(claims.get("tid", "")).lower() != str(tenant["id"]).lower():
        raise Denied(unauthorized("invalid_token"))
    granted = claims.get("roles") or []
    if not isinstance(granted, list) or not any(role in granted for role in roles):
        raise Denied(forbidden())
    return claims

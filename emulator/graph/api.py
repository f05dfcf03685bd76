"""How a Graph route runs: token check, tenant, dialect, lock, and Graph-shaped errors.

``graph_route`` registers a handler under ``/graph/v1.0`` and ``/graph/beta`` (or one of
them). The wrapper verifies the bearer token for ``https://graph.microsoft.com``, takes the
tenant from its ``tid``, checks the roles, then runs the handler holding ``state.lock`` with
the tenant's Graph store at hand. Handlers raise ``GraphError`` for any error answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from emulator import entra
from emulator.graph import dialects, store
from emulator.graph.dialects import Dialect
from emulator.server import Request, Response, route

VERSIONS = ("v1.0", "beta")
GRAPH_HOST = "https://graph.microsoft.com"


class GraphError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers


def bad_request(message: str, details: list[dict[str, str]] | None = None) -> GraphError:
    return GraphError(400, "Request_BadRequest", message, details)


def not_found(object_id: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
    )


def item_not_found(message: str = "The requested resource could not be found.") -> GraphError:
    return GraphError(404, "itemNotFound", message)


@dataclass
class Ctx:
    req: Request
    tenant: dict[str, Any]
    claims: dict[str, Any]
    store: dict[str, Any]
    dialect: Dialect
    version: str
    now: float

    @property
    def query(self) -> dict[str, str]:
        return self.req.query

    def base(self, version: str | None = None) -> str:
        """The emulator's stand-in for https://graph.microsoft.com/{version}."""
        return f"{self.req.base_url}/graph/{version or self.version}"

    def body(self) -> dict[str, Any]:
        if not self.req.body.strip():
            raise bad_request("Empty Payload. JSON content expected.")
        try:
            body = json.loads(self.req.body)
        except ValueError as exc:
            raise bad_request(f"Invalid JSON in the request body: {exc}") from exc
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        return body


GraphHandler = Callable[[Ctx], Response]
# Settle due async operations before each call; each says whether it changed anything.
ADVANCERS: list[Callable[[Ctx], bool]] = []


def graph_route(
    method: str, suffix: str, roles: tuple[str, ...], versions: tuple[str, ...] = VERSIONS
) -> Callable[[GraphHandler], GraphHandler]:
    def register(handler: GraphHandler) -> GraphHandler:
        for version in versions:
            route(method, f"/graph/{version}{suffix}")(_wrap(handler, roles, version))
        return handler

    return register


def _wrap(handler: GraphHandler, roles: tuple[str, ...], version: str) -> Callable[..., Response]:
    def wrapped(req: Request) -> Response:
        state = req.state
        dialect = dialect_for(req)
        try:
            claims = _authorize(req, roles, dialect)
            tenant = state.tenant(str(claims["tid"]))
            if tenant is None:  # verify_access_token already checked; a reset may race it
                raise GraphError(401, "InvalidAuthenticationToken", "Unknown tenant.")
            with state.lock:
                ctx = Ctx(
                    req,
                    tenant,
                    claims,
                    store.tenant_store(state, tenant),
                    dialect,
                    version,
                    state.now(),
                )
                changed = [advance(ctx) for advance in ADVANCERS]
                try:
                    return handler(ctx)
                finally:
                    # Refused writes still add to the ledger; reads change nothing unless an
                    # operation settled, so they spare the state file.
                    if req.method != "GET" or any(changed):
                        state.save()
        except GraphError as exc:
            return dialect.error(req, exc.status, exc.code, exc.message, exc.details, exc.headers)

    return wrapped


def _bearer(req: Request) -> str | None:
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authorize(req: Request, roles: tuple[str, ...], dialect: Dialect) -> dict[str, Any]:
    token = _bearer(req)
    if token is None:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = entra.verify_access_token(req.state, token, audience=entra.GRAPH_RESOURCE)
    except entra.InvalidToken as exc:
        raise GraphError(
            401, "InvalidAuthenticationToken", f"Access token validation failure. {exc}"
        ) from exc
    granted = claims.get("roles") or []
    if not roles:
        return claims
    if not granted and dialect.variant:
        # Seen in the field for app tokens with no roles at all (reference §3.6).
        raise GraphError(
            403, "AccessDenied", "Either scp or roles claim need to be present in the token."
        )
    if not isinstance(granted, list) or not any(role in granted for role in roles):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    return claims


def token_tenant(req: Request) -> dict[str, Any] | None:
    """The tenant named by the bearer token's ``tid``, unverified: only to pick a dialect."""
    token = _bearer(req)
    if token is None:
        return None
    try:
        tid = jwt.decode(token, options={"verify_signature": False}).get("tid")
    except jwt.PyJWTError:
        return None
    return req.state.tenant(str(tid)) if tid else None


def dialect_for(req: Request) -> Dialect:
    tenant = token_tenant(req)
    if tenant is None:
        return dialects.get(dialects.DOCUMENTED)
    with req.state.lock:
        return dialects.get(store.config(req.state, tenant)["dialect"])


def register_fallbacks() -> None:
    """Graph answers an unknown path with 400 "Resource not found for the segment" in its
    error shape, not the emulator's generic 404; registered last so real routes win."""

    def unknown(req: Request) -> Response:
        segment = req.path.rstrip("/").rsplit("/", 1)[-1]
        return dialect_for(req).error(
            req, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
        )

    for depth in range(0, 8):
        pattern = "/graph/{version}" + "".join(f"/{{s{i}}}" for i in range(depth))
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            route(method, pattern)(unknown)

"""The Graph switches under ``/_control/graph/`` (not part of Graph), and the error shaper
that dresses the server's own faults and throttles on ``/graph/`` paths as Graph errors.

Every switch takes ``"tenant": slug`` and applies to that tenant only. None of them returns
a secret: permissions answer with names, the ledger holds credential keys, not values.
"""

from __future__ import annotations

from typing import Any

from emulator.graph import api, auth, dialects, store
from emulator.server import ERROR_SHAPERS, BadRequest, Request, Response, json_response, route
from emulator.state import EmulatorState


def _body(req: Request) -> dict[str, Any]:
    body = req.json() if req.body.strip() else {}
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _tenant(state: EmulatorState, key: Any) -> dict[str, Any]:
    tenant = state.tenant(str(key or ""))
    if tenant is None:
        raise BadRequest(f"Unknown tenant '{key}'; give \"tenant\": slug.")
    return tenant


def _seconds(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest(f"'{name}' must be a number of seconds >= 0.")
    return float(value)


def _config_answer(state: EmulatorState, tenant: dict[str, Any]) -> Response:
    cfg = store.config(state, tenant)
    public = {k: v for k, v in cfg.items() if k != "community_posts"}
    return json_response({"tenant": tenant["slug"], **public})


def _switch(req: Request, change: Any) -> Response:
    """Apply ``change(config, body)`` to the tenant's Graph config and answer the config."""
    body = _body(req)
    state = req.state
    tenant = _tenant(state, body.get("tenant"))
    with state.lock:
        change(store.config(state, tenant), body)
        state.save()
        return _config_answer(state, tenant)


@route("GET", "/_control/graph/config")
def get_config(req: Request) -> Response:
    tenant = _tenant(req.state, req.query.get("tenant"))
    with req.state.lock:
        return _config_answer(req.state, tenant)


@route("POST", "/_control/graph/dialect")
def set_dialect(req: Request) -> Response:
    def change(cfg: dict[str, Any], body: dict[str, Any]) -> None:
        if body.get("dialect") not in dialects.DIALECTS:
            raise BadRequest(f"'dialect' must be one of {', '.join(dialects.DIALECTS)}.")
        cfg["dialect"] = body["dialect"]

    return _switch(req, change)


@route("GET", "/_control/graph/dialect")
def get_dialect(req: Request) -> Response:
    return get_config(req)


@route("POST", "/_control/graph/timing")
def set_timing(req: Request) -> Response:
    """``seconds`` for every kind, and/or ``team`` / ``site`` / ``community`` one by one."""

    def change(cfg: dict[str, Any], body: dict[str, Any]) -> None:
        given = [k for k in ("seconds", *store.KINDS) if k in body]
        if not given:
            raise BadRequest(f"Give 'seconds' or any of {', '.join(store.KINDS)}.")
        if "seconds" in body:
            cfg["timing"] = dict.fromkeys(store.KINDS, _seconds(body, "seconds"))
        for kind in store.KINDS:
            if kind in body:
                cfg["timing"][kind] = _seconds(body, kind)

    return _switch(req, change)


@route("POST", "/_control/graph/fail-next")
def fail_next(req: Request) -> Response:
    """The next operation of ``kind`` (team, site, community; sync = acquireAccessToken) fails."""

    def change(cfg: dict[str, Any], body: dict[str, Any]) -> None:
        kind = body.get("kind")
        if kind not in store.FAIL_KINDS:
            raise BadRequest(f"'kind' must be one of {', '.join(store.FAIL_KINDS)}.")
        cfg["fail_next"][kind] = str(body.get("message") or "Injected failure.")

    return _switch(req, change)


@route("POST", "/_control/graph/replication")
def set_replication(req: Request) -> Response:
    def change(cfg: dict[str, Any], body: dict[str, Any]) -> None:
        cfg["replication"] = _seconds(body, "seconds")

    return _switch(req, change)


@route("POST", "/_control/graph/naming")
def set_naming(req: Request) -> Response:
    def change(cfg: dict[str, Any], body: dict[str, Any]) -> None:
        blocked = body.get("blocked", [])
        if not isinstance(blocked, list) or not all(isinstance(w, str) and w for w in blocked):
            raise BadRequest("'blocked' must be a list of words.")
        cfg["naming"] = store.naming(body)

    return _switch(req, change)


@route("POST", "/_control/graph/permissions")
def set_permissions(req: Request) -> Response:
    """``permissions`` replaces the app's graph_permissions; ``grant`` / ``revoke`` adjust them.
    The app is the tenant's portal app unless ``client_id`` names another. Tokens already
    issued keep their roles, as in Entra: get a new token afterwards."""
    body = _body(req)
    state = req.state
    tenant = _tenant(state, body.get("tenant"))
    lists = {k: body[k] for k in ("permissions", "grant", "revoke") if k in body}
    for name, value in lists.items():
        if not isinstance(value, list) or any(p not in auth.ALL_PERMISSIONS for p in value):
            raise BadRequest(
                f"'{name}' must be a list drawn from {', '.join(auth.ALL_PERMISSIONS)}."
            )
    with state.lock:
        apps = tenant.get("apps", [])
        client_id = str(body.get("client_id") or (apps[0]["client_id"] if apps else ""))
        app = next((a for a in apps if a["client_id"].lower() == client_id.lower()), None)
        if app is None:
            raise BadRequest(f"No app '{client_id}' in tenant '{tenant['slug']}'.")
        held = list(lists.get("permissions", app.get("graph_permissions", [])))
        held = [p for p in held if p not in lists.get("revoke", [])]
        held += [p for p in lists.get("grant", []) if p not in held]
        app["graph_permissions"] = held
        state.save()
    return json_response(
        {"tenant": tenant["slug"], "client_id": app["client_id"], "graph_permissions": held}
    )


@route("GET", "/_control/graph/ledger")
def ledger(req: Request) -> Response:
    """Every create attempt and object (and credential keys handed over), per tenant."""
    state = req.state
    wanted = req.query.get("tenant")
    tenants = [_tenant(state, wanted)] if wanted else state.tenants()
    with state.lock:
        answer = {t["slug"]: list(store.tenant_store(state, t)["ledger"]) for t in tenants}
    if wanted:
        return json_response({"tenant": tenants[0]["slug"], "ledger": answer[tenants[0]["slug"]]})
    return json_response({"ledgers": answer})


def shape_fault(req: Request, response: Response) -> Response:
    """An injected fault, a throttle or a crash on a Graph path, in Graph's error envelope."""
    if not req.path.lower().startswith("/graph/"):
        return response
    return dialects.reshape_fault(api.dialect_for(req), req, response)


ERROR_SHAPERS.append(shape_fault)

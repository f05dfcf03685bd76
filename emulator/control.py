"""The control API (``/_control/...``): how tests and demos steer the emulator.

Not part of Entra or Point. Latency, faults and throttles live in ``state.runtime`` and are
applied by server.py; the rest changes ``state.data`` and is saved. Nothing here ever
returns a secret value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.server import BadRequest, Request, Response, json_response, route
from emulator.state import EmulatorState

FAULT_KINDS = (
    "500",
    "502",
    "503",
    "hang",
    "reset",
    "malformed",
    "reset_after",
    "hang_after",
    "aadsts",
    "401",
    "403",
)
POINT_PERMISSIONS = (
    "SharePoint.Read.All",
    "Point.AsyncRequests",
    "Point.Provisioning",
    "Point.Admin",
)


def _body(request: Request) -> dict[str, Any]:
    body = request.json() if request.body.strip() else {}
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _int(body: dict[str, Any], name: str, default: int | None = None, minimum: int = 0) -> int:
    value = body.get(name, default)
    if value is None:
        raise BadRequest(f"'{name}' is required.")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise BadRequest(f"'{name}' must be a number >= {minimum}.")
    return int(value)


def _target(body: dict[str, Any]) -> tuple[str, str]:
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith(("/", "*")):
        raise BadRequest("'path' must be a path glob such as '/point/contoso/v1.0/provision/*'.")
    method = str(body.get("method") or "*").upper()
    return method, path


def _rules_view(state: EmulatorState) -> dict[str, Any]:
    with state.lock:
        return {name: [dict(rule) for rule in rules] for name, rules in state.runtime.items()}


@route("POST", "/_control/latency")
def set_latency(request: Request) -> Response:
    body = _body(request)
    method, path = _target(body)
    ms = _int(body, "ms")
    state = request.state
    with state.lock:
        rules = state.runtime["latency"]
        rules[:] = [r for r in rules if (r["method"], r["path"]) != (method, path)]
        if ms > 0:
            rules.append({"method": method, "path": path, "ms": ms})
    return json_response({"latency": _rules_view(state)["latency"]})


@route("POST", "/_control/faults")
def add_fault(request: Request) -> Response:
    body = _body(request)
    method, path = _target(body)
    kind = str(body.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise BadRequest(f"'kind' must be one of {', '.join(FAULT_KINDS)}.")
    rule: dict[str, Any] = {
        "method": method,
        "path": path,
        "kind": kind,
        "count": _int(body, "count", 1, minimum=1),
    }
    rule["remaining"] = rule["count"]
    if "seconds" in body:
        rule["seconds"] = _seconds(body["seconds"])
    if kind == "aadsts":
        # Entra's error JSON instead of the handler's answer (e.g. AADSTS90033, Entra's
        # "temporarily unavailable", with status 400 so a client parses the body).
        rule["code"] = _int(body, "code", 90033, minimum=1)
        rule["error"] = str(body.get("error") or "temporarily_unavailable")
        rule["status"] = _int(body, "status", 400, minimum=400)
        if rule["status"] > 599:
            raise BadRequest("'status' must be an HTTP error status (400-599).")
    with request.state.lock:
        request.state.runtime["faults"].append(rule)
    return json_response({"faults": _rules_view(request.state)["faults"]})


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest("'seconds' must be a number >= 0.")
    return float(value)


@route("POST", "/_control/throttle")
def add_throttle(request: Request) -> Response:
    body = _body(request)
    method, path = _target(body)
    count = _int(body, "count", 1, minimum=1)
    rule = {
        "method": method,
        "path": path,
        "count": count,
        "remaining": count,
        "retry_after": _int(body, "retry_after", 1),
    }
    with request.state.lock:
        request.state.runtime["throttles"].append(rule)
    return json_response({"throttles": _rules_view(request.state)["throttles"]})


@route("POST", "/_control/clear")
def clear_rules(request: Request) -> Response:
    with request.state.lock:
        for rules in request.state.runtime.values():
            rules.clear()
    return json_response(_rules_view(request.state))


@route("POST", "/_control/reset")
def reset(request: Request) -> Response:
    request.state.reset()
    return json_response({"reset": True})


def _apps(state: EmulatorState, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The app registrations named by ``client_id`` (optionally narrowed by ``tenant``)."""
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise BadRequest("'client_id' is required.")
    tenants = state.tenants()
    if body.get("tenant"):
        tenant = state.tenant(str(body["tenant"]))
        if tenant is None:
            raise BadRequest(f"Unknown tenant '{body['tenant']}'.")
        tenants = [tenant]
    found = [
        a for t in tenants for a in t.get("apps", []) if a["client_id"].lower() == client_id.lower()
    ]
    if not found:
        raise BadRequest(f"No app registration with client id '{client_id}'.")
    return found


@route("POST", "/_control/expire-secret")
def expire_secret(request: Request) -> Response:
    body = _body(request)
    expires = body.get("expires")
    if expires is None:
        stamp = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        try:
            parsed = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest("'expires' must be an ISO 8601 date or date-time.") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        stamp = parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = request.state
    with state.lock:
        apps = _apps(state, body)
        for app in apps:
            for secret in app.get("secrets", []):
                secret["expires"] = stamp
        state.save()
    return json_response({"client_id": body["client_id"], "expires": stamp, "apps": len(apps)})


@route("POST", "/_control/permissions")
def set_permissions(request: Request) -> Response:
    body = _body(request)
    grant, revoke = body.get("grant", []), body.get("revoke", [])
    for name, value in (("grant", grant), ("revoke", revoke)):
        if not isinstance(value, list) or any(p not in POINT_PERMISSIONS for p in value):
            raise BadRequest(f"'{name}' must be a list drawn from {', '.join(POINT_PERMISSIONS)}.")
    state = request.state
    with state.lock:
        apps = _apps(state, body)
        for app in apps:
            held = [p for p in app.get("point_permissions", []) if p not in revoke]
            held += [p for p in grant if p not in held]
            app["point_permissions"] = held
        state.save()
        held_now = list(apps[0]["point_permissions"])
    return json_response({"client_id": body["client_id"], "point_permissions": held_now})


@route("POST", "/_control/token-lifetime")
def set_token_lifetime(request: Request) -> Response:
    seconds = _int(_body(request), "seconds", minimum=1)
    with request.state.lock:
        request.state.data["settings"]["token_lifetime"] = seconds
        request.state.save()
    return json_response({"token_lifetime": seconds})


@route("GET", "/_control/token-requests")
def token_requests(request: Request) -> Response:
    with request.state.lock:
        log = [dict(entry) for entry in request.state.data.get("token_requests", [])]
    return json_response({"count": len(log), "requests": log})


@route("GET", "/_control/state")
def summary(request: Request) -> Response:
    state = request.state
    with state.lock:
        tenants = [
            {
                "id": t["id"],
                "slug": t["slug"],
                "name": t["name"],
                "point_api_app_id": t.get("point", {}).get("api_app_id"),
                "upstream": t.get("upstream", "point"),
                "apps": [
                    {
                        "client_id": a["client_id"],
                        "name": a.get("name"),
                        "point_permissions": list(a.get("point_permissions", [])),
                        "graph_permissions": list(a.get("graph_permissions", [])),
                        # Expiry only: secret values never leave the emulator through here.
                        "secrets": [{"expires": s.get("expires")} for s in a.get("secrets", [])],
                    }
                    for a in t.get("apps", [])
                ],
                "users": [
                    {"upn": u["upn"], "name": u["name"], "roles": list(u.get("roles", []))}
                    for u in t.get("users", [])
                ],
            }
            for t in state.data["tenants"]
        ]
        answer = {
            "tenants": tenants,
            "token_lifetime": state.data["settings"]["token_lifetime"],
            "token_requests": len(state.data.get("token_requests", [])),
            "outstanding_codes": sum(
                1
                for c in state.data["codes"].values()
                if not c["redeemed"] and c["expires"] > state.now()
            ),
            "ledger": len(state.data.get("ledger", [])),
            "state_file": state.state_file,
            **_rules_view(state),
        }
    return json_response(answer)


@route("POST", "/_control/id-token-overrides")
def add_id_token_override(request: Request) -> Response:
    """Change the next sign-in id_token: ``claims`` to set, ``remove`` to drop, and/or
    ``tamper_signature``. Each call queues one override, used by one token response."""
    body = _body(request)
    claims, remove = body.get("claims", {}), body.get("remove", [])
    if not isinstance(claims, dict):
        raise BadRequest("'claims' must be a JSON object.")
    if not isinstance(remove, list) or not all(isinstance(n, str) for n in remove):
        raise BadRequest("'remove' must be a list of claim names.")
    override = {
        "claims": claims,
        "remove": remove,
        "tamper_signature": bool(body.get("tamper_signature", False)),
    }
    with request.state.lock:
        pending = request.state.runtime.setdefault("id_token_overrides", [])
        pending.append(override)
        count = len(pending)
    return json_response({"pending": count})


@route("POST", "/_control/redirect-uris")
def change_redirect_uris(request: Request) -> Response:
    """Register (``add``) or unregister (``remove``) redirect URIs on an app registration."""
    body = _body(request)
    add, remove = body.get("add", []), body.get("remove", [])
    for name, value in (("add", add), ("remove", remove)):
        if not isinstance(value, list) or not all(
            isinstance(u, str) and u.startswith(("http://", "https://")) for u in value
        ):
            raise BadRequest(f"'{name}' must be a list of http(s) URLs.")
    state = request.state
    with state.lock:
        apps = _apps(state, body)
        for app in apps:
            uris = [u for u in app.get("redirect_uris", []) if u not in remove]
            uris += [u for u in add if u not in uris]
            app["redirect_uris"] = uris
        state.save()
        current = list(apps[0]["redirect_uris"])
    return json_response({"client_id": body["client_id"], "redirect_uris": current})

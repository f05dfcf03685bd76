"""The emulated GT365 API (``POST /gt365/api/ProvisionGroup``) and its control API.

One endpoint for every tenant: the tenant is the token's ``tid`` (a Microsoft Graph token of
the tenant's own app registration; seed 001). The call validates as the seed describes,
creates the group, waits the tenant's ``duration`` (the seed's "some seconds to 2 minutes")
and answers 201 in the tenant's dialect (``dialects``). Work happens before the wait, as on a
real server that keeps going when the client gave up.

State: ``state.data["gt365"]`` (settings, groups and the ledger per tenant), created lazily
because ``/_control/reset`` replaces ``state.data``.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt

from emulator import entra
from emulator.gt365 import dialects
from emulator.server import ERROR_SHAPERS, BadRequest, Request, Response, json_response, route
from emulator.state import EmulatorState

PATH = "/gt365/api/ProvisionGroup"
GROUP_READWRITE_ALL = "Group.ReadWrite.All"
DEFAULTS: dict[str, Any] = {
    "dialect": dialects.DOCUMENTED,
    "duration": 0.0,
    "classifications": ["Public", "General", "Confidential"],
}
# Graph's rule for mailNickname: ASCII, none of @ ( ) \ [ ] " ; : < > , or space; 1-64.
_ALIAS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}")
_MANDATORY = ("displayName", "mailNickname", "ownerUPNs")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _root(state: EmulatorState) -> dict[str, Any]:
    """GT365's part of the state (caller holds the lock)."""
    root: dict[str, Any] = state.data.setdefault("gt365", {})
    root.setdefault("defaults", dict(DEFAULTS))
    root.setdefault("tenants", {})
    return root


def _tenant_state(state: EmulatorState, tenant: dict[str, Any]) -> dict[str, Any]:
    """One tenant's settings, groups and ledger (caller holds the lock)."""
    found: dict[str, Any] = _root(state)["tenants"].setdefault(
        tenant["slug"], {"settings": {}, "groups": [], "attempts": []}
    )
    return found


def _setting(state: EmulatorState, tenant: dict[str, Any], name: str) -> Any:
    own = _tenant_state(state, tenant)["settings"]
    return own[name] if name in own else _root(state)["defaults"][name]


def _value(body: dict[str, Any], name: str) -> Any:
    """A body key in any case (a .NET model binder ignores case)."""
    lowered = {str(k).lower(): v for k, v in body.items()}
    return lowered.get(name.lower())


def _people(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return (
        [str(v).strip() for v in value or [] if str(v).strip()] if isinstance(value, list) else []
    )


# --- The call ------------------------------------------------------------------------------------


def _bearer(req: Request) -> str:
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _check(state: EmulatorState, tenant: dict[str, Any], body: Any) -> dialects.Refusal | None:
    """Seed 001's refusals, in the order GT365 would meet them (caller holds the lock)."""
    if not isinstance(body, dict):
        return dialects.Refusal(400, "", "The request body must be a JSON object.")
    for key in _MANDATORY:
        if not _value(body, key):
            # assumed: the seed shows only the visibility sentence; the others follow it.
            return dialects.Refusal(400, "", f"No {key} was provided.")
    visibility = str(_value(body, "visibility") or "")
    if visibility.lower() not in ("private", "public"):
        return dialects.Refusal(400, "", dialects.NO_VISIBILITY)
    alias = str(_value(body, "mailNickname"))
    if not _ALIAS.fullmatch(alias):
        return dialects.bad_property("mailNickname", "InvalidValue")
    users = {str(u["upn"]).lower() for u in tenant.get("users", [])}
    for role, key in (("owner", "ownerUPNs"), ("member", "memberUPNs")):
        for upn in _people(_value(body, key)):
            if upn.lower() not in users:
                # documented for owners ("Team owner not found for {id}."); assumed for members.
                return dialects.Refusal(400, "InvalidRequest", f"Team {role} not found for {upn}.")
    chosen = _value(body, "classification")
    if chosen not in (None, ""):
        allowed = [c.lower() for c in _setting(state, tenant, "classifications")]
        if str(chosen).lower() not in allowed:
            return dialects.bad_property("classification", "InvalidValue")
    groups = _tenant_state(state, tenant)["groups"]
    if any(g["mailNickname"].lower() == alias.lower() for g in groups):
        return dialects.bad_property("mailNickname", "ObjectConflict")
    return None


@route("POST", PATH)
def provision_group(req: Request) -> Response:
    state = req.state
    try:
        claims = entra.verify_access_token(state, _bearer(req), audience=entra.GRAPH_RESOURCE)
    except entra.InvalidToken:
        tenant = None
    else:
        tenant = state.tenant(str(claims["tid"]))
    if tenant is None:
        unauthorized = dialects.Refusal(401, "InvalidAuthenticationToken", dialects.BAD_TOKEN)
        return dialects.answer_error(_dialect_of_request(req), unauthorized)
    try:
        body: Any = req.json()
    except BadRequest:
        body = None
    with state.lock:
        dialect = _setting(state, tenant, "dialect")
        duration = float(_setting(state, tenant, "duration"))
        own = _tenant_state(state, tenant)
        attempt: dict[str, Any] = {
            "at": _now(),
            "displayName": _value(body, "displayName") if isinstance(body, dict) else None,
            "mailNickname": _value(body, "mailNickname") if isinstance(body, dict) else None,
            "createTeam": _value(body, "createTeam") if isinstance(body, dict) else None,
        }
        own["attempts"].append(attempt)
        if GROUP_READWRITE_ALL not in (claims.get("roles") or []):
            refusal: dialects.Refusal | None = dialects.Refusal(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        else:
            refusal = _check(state, tenant, body)
        if refusal is not None:
            attempt.update(status=refusal.status, error=refusal.code or refusal.message)
            state.save()
            return dialects.answer_error(dialect, refusal)
        assert isinstance(body, dict)  # _check refused anything else
        group = _create(tenant, body)
        own["groups"].append(group)
        attempt.update(status=201, group_id=group["id"])
        state.save()
    if duration > 0:
        time.sleep(duration)
    return dialects.answer_created(dialect, tenant, group)


def _create(tenant: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    alias = str(_value(body, "mailNickname"))
    team = _value(body, "createTeam")
    return {
        "id": str(uuid.uuid4()),
        "displayName": str(_value(body, "displayName")),
        "mailNickname": alias,
        "mail": f"{alias}@{tenant.get('domain') or tenant['slug'] + '.onmicrosoft.com'}",
        "description": str(_value(body, "description") or ""),
        "visibility": str(_value(body, "visibility")).capitalize(),
        "classification": _value(body, "classification"),
        "createTeam": team is True or str(team).lower() == "true",
        "owners": _people(_value(body, "ownerUPNs")),
        "members": _people(_value(body, "memberUPNs")),
        "at": _now(),
    }


def _dialect_of_request(req: Request) -> str:
    """The dialect of the tenant a request's token names (unverified: only to dress an error)."""
    try:
        tid = str(jwt.decode(_bearer(req), options={"verify_signature": False}).get("tid", ""))
    except jwt.PyJWTError:
        tid = ""
    tenant = req.state.tenant(tid) if tid else None
    with req.state.lock:
        if tenant is None:
            return str(_root(req.state)["defaults"]["dialect"])
        return str(_setting(req.state, tenant, "dialect"))


def shape_fault(req: Request, response: Response) -> Response:
    """An injected fault, a throttle or a crash on a GT365 path, in the tenant's dialect."""
    if not req.path.lower().startswith("/gt365/"):
        return response
    return dialects.reshape_fault(_dialect_of_request(req), response)


ERROR_SHAPERS.append(shape_fault)


# --- Control API (not part of GT365) -------------------------------------------------------------


def _control_body(req: Request) -> dict[str, Any]:
    body = req.json() if req.body.strip() else {}
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _named_tenant(state: EmulatorState, name: Any, *, required: bool = False) -> Any:
    if name in (None, ""):
        if required:
            raise BadRequest("'tenant' (slug, id or domain) is required.")
        return None
    tenant = state.tenant(str(name))
    if tenant is None:
        raise BadRequest(f"Unknown tenant '{name}'.")
    return tenant


def _set(state: EmulatorState, tenant: dict[str, Any] | None, name: str, value: Any) -> None:
    """A setting for one tenant, or (no tenant) the default of all, clearing their own."""
    with state.lock:
        root = _root(state)
        if tenant is not None:
            _tenant_state(state, tenant)["settings"][name] = value
        else:
            root["defaults"][name] = value
            for own in root["tenants"].values():
                own["settings"].pop(name, None)
        state.save()


def _settings_view(state: EmulatorState) -> dict[str, Any]:
    with state.lock:
        root = _root(state)
        return {
            "defaults": dict(root["defaults"]),
            "tenants": {slug: dict(own["settings"]) for slug, own in root["tenants"].items()},
        }


@route("GET", "/_control/gt365/settings")
def control_settings(req: Request) -> Response:
    return json_response(_settings_view(req.state))


@route("GET", "/_control/gt365/dialect")
def control_dialect_view(req: Request) -> Response:
    return json_response(_settings_view(req.state))


@route("POST", "/_control/gt365/dialect")
def control_dialect(req: Request) -> Response:
    """``{"dialect": "documented"|"plain", "tenant"?: slug}``: one tenant, or all."""
    body = _control_body(req)
    name = body.get("dialect")
    if name not in dialects.NAMES:
        raise BadRequest(f"'dialect' must be one of {', '.join(dialects.NAMES)}.")
    _set(req.state, _named_tenant(req.state, body.get("tenant")), "dialect", name)
    return json_response(_settings_view(req.state))


@route("POST", "/_control/gt365/classifications")
def control_classifications(req: Request) -> Response:
    """``{"values": [...], "tenant"?: slug}``: the classification policy's values."""
    body = _control_body(req)
    values = body.get("values")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest("'values' must be a list of strings.")
    _set(req.state, _named_tenant(req.state, body.get("tenant")), "classifications", values)
    return json_response(_settings_view(req.state))


@route("POST", "/_control/gt365/duration")
def control_duration(req: Request) -> Response:
    """``{"seconds": n, "tenant"?: slug}``: how long each call takes after its work is done."""
    body = _control_body(req)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("'seconds' must be a number >= 0.")
    _set(req.state, _named_tenant(req.state, body.get("tenant")), "duration", float(seconds))
    return json_response(_settings_view(req.state))


@route("POST", "/_control/gt365/lose-answer")
def control_lose_answer(req: Request) -> Response:
    """``{"mode": "reset"|"hang", "seconds"?: n, "count"?: n}``: the next ``count`` calls (of
    any tenant: the path names none) do their work, then the connection is reset, or held
    ``seconds`` and closed, without an answer. Armed as the server's ``*_after`` fault."""
    body = _control_body(req)
    mode = body.get("mode", "reset")
    if mode not in ("reset", "hang"):
        raise BadRequest("'mode' must be 'reset' or 'hang'.")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BadRequest("'count' must be a whole number >= 1.")
    rule: dict[str, Any] = {
        "method": "POST",
        "path": PATH.lower() + "*",
        "kind": f"{mode}_after",
        "count": count,
        "remaining": count,
    }
    if mode == "hang":
        seconds = body.get("seconds", 30)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise BadRequest("'seconds' must be a number >= 0.")
        rule["seconds"] = float(seconds)
    with req.state.lock:
        req.state.runtime["faults"].append(rule)
    return json_response({"armed": dict(rule)})


@route("GET", "/_control/gt365/ledger")
def control_ledger(req: Request) -> Response:
    """``?tenant=slug``: every ProvisionGroup attempt and every group created."""
    tenant = _named_tenant(req.state, req.query.get("tenant"), required=True)
    with req.state.lock:
        own = _tenant_state(req.state, tenant)
        answer = {
            "tenant": tenant["slug"],
            "attempts": [dict(a) for a in own["attempts"]],
            "groups": [dict(g) for g in own["groups"]],
        }
    return json_response(answer)

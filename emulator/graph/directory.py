"""Directory calls: users, groups (list, get, create), members and owners, validateProperties,
organization.

Replication: a group younger than the tenant's ``replication`` seconds is left out of list
and filter reads (GET by id still finds it, as does the uniqueness check on create).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from emulator.graph import auth, query, store
from emulator.graph.api import Ctx, GraphError, bad_request, graph_route, not_found
from emulator.server import Response, json_response

MAX_BINDS = 20
VISIBILITIES = ("Private", "Public", "HiddenMembership")
GROUP_TYPES = ("Unified", "DynamicMembership")
_NICKNAME_FORBIDDEN = set('@()\\[]";:.<>, ')
_BIND_ID = re.compile(
    r"/(?:users|directoryObjects|groups)(?:/|\(')(?P<id>[^/'()]+)'?\)?/?$", re.IGNORECASE
)
CONFLICT_MESSAGE = "Another object with the same value for property mailNickname already exists."


# -- shapes and lookups -------------------------------------------------------------------


def group_shape(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": group["id"],
        "createdDateTime": store.iso(group["created"]),
        "description": group.get("description"),
        "displayName": group["displayName"],
        "groupTypes": list(group["groupTypes"]),
        "mail": group.get("mail"),
        "mailEnabled": group["mailEnabled"],
        "mailNickname": group["mailNickname"],
        "resourceProvisioningOptions": list(group["resourceProvisioningOptions"]),
        "securityEnabled": group["securityEnabled"],
        "visibility": group.get("visibility"),
    }


def replicated(ctx: Ctx, group: dict[str, Any]) -> bool:
    return ctx.now - float(group["created"]) >= float(ctx.store["config"]["replication"])


def find_group(ctx: Ctx, group_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(group_id)
    except ValueError as exc:
        raise bad_request(f"Invalid object identifier '{group_id}'.") from exc
    for group in ctx.store["groups"]:
        if group["id"].lower() == group_id.lower():
            return group
    raise not_found(group_id)


def nickname_taken(ctx: Ctx, nickname: str) -> bool:
    return any(g["mailNickname"].lower() == nickname.lower() for g in ctx.store["groups"])


def bound_id(value: Any) -> str:
    """The object id at the end of an ``@odata.bind`` / ``@odata.id`` URL (any host)."""
    match = _BIND_ID.search(str(value)) if isinstance(value, str) else None
    if match is None:
        raise bad_request(f"Invalid object reference '{value}'.")
    return match["id"]


def bound_users(ctx: Ctx, body: dict[str, Any], key: str, limit: int) -> list[str]:
    binds = body.get(key, [])
    if not isinstance(binds, list):
        raise bad_request(f"'{key}' must be an array of URLs.")
    if len(binds) > limit:
        raise bad_request(
            f"A maximum of {limit} objects can be bound through '{key}' in one request; add the rest afterwards."
        )
    ids = []
    for bind in binds:
        object_id = bound_id(bind)
        user = store.find_user(ctx.tenant, object_id)
        if user is None:
            raise not_found(object_id)
        ids.append(user["id"])
    return list(dict.fromkeys(ids))


def _count(ctx: Ctx, items: list[Any]) -> Response:
    if not query.eventual(ctx):
        raise bad_request("$count is not currently supported.")
    return Response(200, str(len(items)).encode(), {"Content-Type": "text/plain"})


# -- users ---------------------------------------------------------------------------------


def _users(ctx: Ctx) -> list[dict[str, Any]]:
    return query.apply_search(ctx, query.apply_filter(ctx, store.users(ctx.tenant)))


@graph_route("GET", "/users", auth.USERS_READ)
def list_users(ctx: Ctx) -> Response:
    return json_response(query.page(ctx, "users", _users(ctx), ctx.dialect.user))


@graph_route("GET", "/users/$count", auth.USERS_READ)
def count_users(ctx: Ctx) -> Response:
    return _count(ctx, _users(ctx))


@graph_route("GET", "/users/{user}", auth.USERS_READ)
def get_user(ctx: Ctx) -> Response:
    user = store.find_user(ctx.tenant, ctx.req.params["user"])
    if user is None:
        raise not_found(ctx.req.params["user"])
    body = {"@odata.context": f"{ctx.base()}/$metadata#users/$entity", **ctx.dialect.user(user)}
    return json_response(query.select(ctx, body))


# -- groups --------------------------------------------------------------------------------


def _groups(ctx: Ctx) -> list[dict[str, Any]]:
    visible = [group_shape(g) for g in ctx.store["groups"] if replicated(ctx, g)]
    return query.apply_search(ctx, query.apply_filter(ctx, visible))


@graph_route("GET", "/groups", auth.GROUPS_READ)
def list_groups(ctx: Ctx) -> Response:
    return json_response(query.page(ctx, "groups", _groups(ctx), ctx.dialect.group))


@graph_route("GET", "/groups/$count", auth.GROUPS_READ)
def count_groups(ctx: Ctx) -> Response:
    return _count(ctx, _groups(ctx))


@graph_route("GET", "/groups/{group}", auth.GROUPS_READ)
def get_group(ctx: Ctx) -> Response:
    group = ctx.dialect.group(group_shape(find_group(ctx, ctx.req.params["group"])))
    body = {"@odata.context": f"{ctx.base()}/$metadata#groups/$entity", **group}
    return json_response(query.select(ctx, body))


def _relation(ctx: Ctx, relation: str) -> list[dict[str, Any]]:
    group = find_group(ctx, ctx.req.params["group"])
    people = [store.find_user(ctx.tenant, oid) for oid in group[relation]]
    found = [{"@odata.type": "#microsoft.graph.user", **p} for p in people if p is not None]
    return query.apply_search(ctx, query.apply_filter(ctx, found))


def _list_relation(ctx: Ctx, relation: str) -> Response:
    return json_response(
        query.page(ctx, "directoryObjects", _relation(ctx, relation), ctx.dialect.user)
    )


@graph_route("GET", "/groups/{group}/members", auth.GROUPS_READ)
def list_members(ctx: Ctx) -> Response:
    return _list_relation(ctx, "members")


@graph_route("GET", "/groups/{group}/owners", auth.GROUPS_READ)
def list_owners(ctx: Ctx) -> Response:
    return _list_relation(ctx, "owners")


@graph_route("GET", "/groups/{group}/members/$count", auth.GROUPS_READ)
def count_members(ctx: Ctx) -> Response:
    return _count(ctx, _relation(ctx, "members"))


@graph_route("GET", "/groups/{group}/owners/$count", auth.GROUPS_READ)
def count_owners(ctx: Ctx) -> Response:
    return _count(ctx, _relation(ctx, "owners"))


def _add_ref(ctx: Ctx, relation: str) -> Response:
    group = find_group(ctx, ctx.req.params["group"])
    object_id = bound_id(ctx.body().get("@odata.id"))
    user = store.find_user(ctx.tenant, object_id)
    if user is None:
        raise not_found(object_id)
    if user["id"] in group[relation]:
        raise bad_request(
            f"One or more added object references already exist for the following modified properties: '{relation}'."
        )
    group[relation].append(user["id"])
    store.record(ctx.store, ctx.now, relation[:-1], groupId=group["id"], userId=user["id"])
    return Response(204)


@graph_route("POST", "/groups/{group}/members/$ref", auth.GROUPS_WRITE)
def add_member(ctx: Ctx) -> Response:
    return _add_ref(ctx, "members")


@graph_route("POST", "/groups/{group}/owners/$ref", auth.GROUPS_WRITE)
def add_owner(ctx: Ctx) -> Response:
    return _add_ref(ctx, "owners")


def _invalid(prop: str, why: str = "") -> GraphError:
    message = f"Invalid value specified for property '{prop}' of resource 'Group'.{why}"
    return bad_request(message, [{"target": prop, "code": "InvalidValue", "message": message}])


def blocked_word(ctx: Ctx, value: str) -> str | None:
    for word in ctx.store["config"]["naming"]["blocked"]:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", value, re.IGNORECASE):
            return str(word)
    return None


def _validated_group(ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    name, nickname = body.get("displayName"), body.get("mailNickname")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise _invalid("displayName")
    for prop in ("mailEnabled", "securityEnabled"):
        if not isinstance(body.get(prop), bool):
            raise _invalid(prop)
    if (
        not isinstance(nickname, str)
        or not nickname
        or len(nickname) > 64
        or any(ord(c) > 127 or c in _NICKNAME_FORBIDDEN for c in nickname)
    ):
        raise _invalid("mailNickname")
    types = body.get("groupTypes", [])
    if not isinstance(types, list) or any(t not in GROUP_TYPES for t in types):
        raise _invalid("groupTypes")
    unified = "Unified" in types
    visibility = body.get("visibility") or ("Public" if unified else None)
    if visibility is not None and visibility not in VISIBILITIES:
        raise _invalid("visibility")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _invalid("description")
    word = blocked_word(ctx, name) or blocked_word(ctx, nickname)
    if word:
        message = f"The group name contains the blocked word '{word}'."
        raise bad_request(
            message, [{"target": "displayName", "code": "ContainsBlockedWord", "message": message}]
        )
    owners = bound_users(ctx, body, "owners@odata.bind", MAX_BINDS)
    members = bound_users(ctx, body, "members@odata.bind", MAX_BINDS)
    if nickname_taken(ctx, nickname):
        raise bad_request(
            CONFLICT_MESSAGE,
            [{"target": "mailNickname", "code": "ObjectConflict", "message": CONFLICT_MESSAGE}],
        )
    group = store.new_group(
        ctx.tenant,
        str(uuid.uuid4()),
        name,
        nickname,
        ctx.now,
        unified=unified,
        visibility=visibility,
        description=description,
        owners=owners,
        members=members,
    )
    group["mailEnabled"], group["securityEnabled"] = body["mailEnabled"], body["securityEnabled"]
    group["groupTypes"] = list(types)
    return group


@graph_route("POST", "/groups", auth.GROUPS_CREATE)
def create_group(ctx: Ctx) -> Response:
    body = ctx.body()
    attempt = {"name": body.get("displayName"), "mailNickname": body.get("mailNickname")}
    try:
        group = _validated_group(ctx, body)
    except GraphError as exc:
        store.record(ctx.store, ctx.now, "group", id=None, outcome=exc.code, **attempt)
        raise
    ctx.store["groups"].append(group)
    if "Unified" in group["groupTypes"]:
        # Every Microsoft 365 group gets a team site (reference §3.3).
        ctx.store["sites"].append(
            store.new_site(
                ctx.tenant,
                group["displayName"],
                group["mailNickname"],
                ctx.now,
                group_id=group["id"],
            )
        )
    store.record(ctx.store, ctx.now, "group", id=group["id"], outcome="created", **attempt)
    body = {"@odata.context": f"{ctx.base()}/$metadata#groups/$entity"}
    body.update(ctx.dialect.group(group_shape(group)))
    return json_response(
        body, status=201, headers={"Location": f"{ctx.base()}/groups/{group['id']}"}
    )


# -- validateProperties ----------------------------------------------------------------------


@graph_route("POST", "/directoryObjects/validateProperties", auth.VALIDATE)
def validate_properties(ctx: Ctx) -> Response:
    body = ctx.body()
    if str(body.get("entityType", "")).lower() != "group":
        raise bad_request("The entityType must be 'Group'.")
    given = {p: body[p] for p in ("displayName", "mailNickname") if body.get(p) is not None}
    values = {p: v for p, v in given.items() if isinstance(v, str)}
    if not values or len(values) != len(given):
        raise bad_request("Provide displayName and/or mailNickname as strings.")
    policy = ctx.store["config"]["naming"]
    details = []
    for prop, value in values.items():
        prefix, suffix = policy["prefix"], policy["suffix"]
        if not (
            value.lower().startswith(prefix.lower()) and value.lower().endswith(suffix.lower())
        ):
            details.append(
                {
                    "target": prop,
                    "code": "MissingPrefixSuffix",
                    "message": f"Property {prop} is missing the required prefix/suffix per the Group naming policy.",
                }
            )
        if blocked_word(ctx, value):
            details.append(
                {
                    "target": prop,
                    "code": "ContainsBlockedWord",
                    "message": f"Property {prop} contains a blocked word per the Group naming policy.",
                }
            )
    if "mailNickname" in values and nickname_taken(ctx, values["mailNickname"]):
        details.append(
            {"target": "mailNickname", "code": "PropertyConflict", "message": CONFLICT_MESSAGE}
        )
    if details:
        raise GraphError(
            422,
            "Request_UnprocessableEntity",
            "The values provided contain one or more validation errors.",
            details,
        )
    return Response(204)


# -- organization ----------------------------------------------------------------------------


@graph_route("GET", "/organization", auth.ANY_APP)
def organization(ctx: Ctx) -> Response:
    tenant = ctx.tenant
    org = {
        "id": tenant["id"],
        "displayName": tenant["name"],
        "tenantType": "AAD",
        "countryLetterCode": "US",
        "createdDateTime": store.iso(store.SEED_TIME),
        "verifiedDomains": [
            {
                "name": store.domain(tenant),
                "isDefault": True,
                "isInitial": True,
                "type": "Managed",
                "capabilities": "Email, OfficeCommunicationsOnline",
            }
        ],
    }
    body = ctx.dialect.collection(
        f"{ctx.base()}/$metadata#organization",
        [query.select(ctx, ctx.dialect.extras(org, "organization"))],
    )
    return json_response(body)

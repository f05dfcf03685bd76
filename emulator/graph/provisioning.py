"""The asynchronous creations: teams from groups, beta sites, Viva Engage communities.

Each POST records an operation ``{kind, created, due, fail, outcome, ...}``. Time decides its
status: ``notStarted`` for the first quarter of the tenant's ``timing`` seconds, then
running (``inProgress`` for teams), and once ``due`` the operation settles: it succeeds and
creates its object, or fails with the message armed by ``fail-next``. Settling happens
before every Graph call (``api.ADVANCERS``) and in a ticker, so timing 0 means succeeded on
the first GET and the ledger fills even when nobody polls.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from emulator.graph import api, auth, directory, query, store
from emulator.graph.api import Ctx, GraphError, graph_route, item_not_found
from emulator.server import Response, json_response
from emulator.state import EmulatorState

COMMUNITY_RATE = (10, 30.0)  # requests, seconds, per app [documented]
SITE_TEMPLATES = ("sitepagepublishing", "sts")
_TEMPLATE_BIND = re.compile(r"teamsTemplates\('(?P<name>[^']+)'\)", re.IGNORECASE)
_GROUP_BIND = re.compile(r"groups(?:\('|/)(?P<id>[0-9a-fA-F-]{36})", re.IGNORECASE)


# -- operations ----------------------------------------------------------------------------


def _start(ctx: Ctx, kind: str, **fields: Any) -> dict[str, Any]:
    cfg = ctx.store["config"]
    op = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "created": ctx.now,
        "due": ctx.now + float(cfg["timing"][kind]),
        "fail": cfg["fail_next"].pop(kind, None),
        "outcome": None,
        "settled": None,
        **fields,
    }
    ctx.store["operations"][op["id"]] = op
    return op


def _status(ctx: Ctx, op: dict[str, Any], running: str) -> str:
    if op["outcome"]:
        word = str(op["outcome"])
    elif ctx.now - op["created"] < (op["due"] - op["created"]) / 4:
        word = "notStarted"
    else:
        word = running
    return ctx.dialect.status_word(word)


def _operation(ctx: Ctx, op_id: str, kind: str) -> dict[str, Any]:
    op = ctx.store["operations"].get(op_id.lower())
    if op is None or op["kind"] != kind:
        raise item_not_found(f"Operation '{op_id}' was not found.")
    return op


def settle(tenant: dict[str, Any], gstore: dict[str, Any], now: float) -> bool:
    """Finish every operation that is due (caller holds the lock); True if any was."""
    changed = False
    for op in gstore["operations"].values():
        if op["outcome"] is None and now >= op["due"]:
            op["settled"] = now
            changed = True
            if op["fail"]:
                op["outcome"] = "failed"
                store.record(gstore, now, op["kind"], id=None, operation=op["id"], outcome="failed")
                continue
            op["outcome"] = "succeeded"
            _FINISH[op["kind"]](tenant, gstore, op, now)
    return changed


def _finish_team(
    tenant: dict[str, Any], gstore: dict[str, Any], op: dict[str, Any], now: float
) -> None:
    gstore["teams"][op["groupId"]] = {"created": now}
    for group in gstore["groups"]:
        if group["id"] == op["groupId"]:
            group["resourceProvisioningOptions"] = ["Team"]
    store.record(gstore, now, "team", id=op["groupId"], name=op["name"], outcome="created")


def _finish_site(
    tenant: dict[str, Any], gstore: dict[str, Any], op: dict[str, Any], now: float
) -> None:
    site = store.new_site(tenant, op["name"], op["path"], now, description=op["description"])
    gstore["sites"].append(site)
    op["resourceId"] = site["id"]
    store.record(
        gstore, now, "site", id=site["id"], name=op["name"], url=site["webUrl"], outcome="created"
    )


def _finish_community(
    tenant: dict[str, Any], gstore: dict[str, Any], op: dict[str, Any], now: float
) -> None:
    # A community brings its own Microsoft 365 group and team site (reference §3.4).
    base = re.sub(r"[^a-z0-9]", "", op["name"].lower())[:56] or "community"
    nickname, n = base, 1
    taken = {g["mailNickname"].lower() for g in gstore["groups"]}
    while nickname in taken:
        n += 1
        nickname = f"{base}{n}"
    group = store.new_group(
        tenant,
        str(uuid.uuid4()),
        op["name"],
        nickname,
        now,
        visibility=op["privacy"].capitalize(),
        description=op["description"],
        owners=op["owners"],
        members=op["owners"],
    )
    gstore["groups"].append(group)
    gstore["sites"].append(store.new_site(tenant, op["name"], nickname, now, group_id=group["id"]))
    community = {
        "id": op["communityId"],
        "displayName": op["name"],
        "description": op["description"],
        "privacy": op["privacy"],
        "groupId": group["id"],
    }
    gstore["communities"].append(community)
    op["resourceId"] = community["id"]
    store.record(
        gstore,
        now,
        "community",
        id=community["id"],
        name=op["name"],
        groupId=group["id"],
        outcome="created",
    )
    store.record(
        gstore,
        now,
        "group",
        id=group["id"],
        name=op["name"],
        mailNickname=nickname,
        outcome="created",
    )


_FINISH = {"team": _finish_team, "site": _finish_site, "community": _finish_community}


def _advance(ctx: Ctx) -> bool:
    return settle(ctx.tenant, ctx.store, ctx.now)


api.ADVANCERS.append(_advance)


def tick(state: EmulatorState) -> None:
    with state.lock:
        for slug, gstore in list(state.data.get("graph", {}).items()):
            tenant = state.tenant(slug)
            if tenant is not None and settle(tenant, gstore, state.now()):
                state.save()


# -- teams ---------------------------------------------------------------------------------


def _team_refused(ctx: Ctx, name: str | None, error: GraphError) -> GraphError:
    store.record(ctx.store, ctx.now, "team", id=None, name=name, outcome=error.code)
    return error


@graph_route("POST", "/teams", auth.TEAMS_CREATE)
def create_team(ctx: Ctx) -> Response:
    body = ctx.body()
    template = _TEMPLATE_BIND.search(str(body.get("template@odata.bind") or ""))
    group_bind = _GROUP_BIND.search(str(body.get("group@odata.bind") or ""))
    if template is None:
        raise _team_refused(
            ctx,
            None,
            GraphError(400, "BadRequest", "A template must be bound with 'template@odata.bind'."),
        )
    if group_bind is None:
        raise _team_refused(
            ctx,
            None,
            GraphError(400, "BadRequest", "A group must be bound with 'group@odata.bind'."),
        )
    group_id = group_bind["id"].lower()
    group = next((g for g in ctx.store["groups"] if g["id"] == group_id), None)
    if group is None or not directory.replicated(ctx, group):
        # Replication [documented]: a group younger than ~15 minutes may not be found yet.
        raise _team_refused(
            ctx,
            group["displayName"] if group else None,
            GraphError(
                404,
                "NotFound",
                f"Failed to execute Templates backend request CreateTeamFromGroupWithTemplateRequest. Response Status Code: NotFound, Group '{group_id}' not found.",
            ),
        )
    name = group["displayName"]
    if not group["owners"]:
        raise _team_refused(
            ctx,
            name,
            GraphError(
                400,
                "BadRequest",
                "The group must have at least one owner to be converted into a team.",
            ),
        )
    pending = any(
        op["kind"] == "team" and op["groupId"] == group_id and op["outcome"] != "failed"
        for op in ctx.store["operations"].values()
    )
    if group_id in ctx.store["teams"] or pending:
        raise _team_refused(
            ctx, name, GraphError(409, "Conflict", f"The group '{group_id}' already has a team.")
        )
    op = _start(ctx, "team", groupId=group_id, name=name, template=template["name"])
    store.record(
        ctx.store, ctx.now, "team", id=group_id, name=name, operation=op["id"], outcome="accepted"
    )
    location = f"/teams('{group_id}')/operations('{op['id']}')"
    if ctx.dialect.variant:
        location = ctx.base("v1.0") + location
    return Response(202, b"", {"Location": location, "Content-Location": f"/teams('{group_id}')"})


def _team_operation(ctx: Ctx) -> Response:
    op = _operation(ctx, ctx.req.params["op"], "team")
    if op["groupId"] != ctx.req.params["team"].lower():
        raise item_not_found(f"Operation '{op['id']}' was not found.")
    failed = op["outcome"] == "failed"
    body = {
        "id": op["id"],
        "operationType": "createTeam",
        "createdDateTime": store.iso(op["created"]),
        "lastActionDateTime": store.iso(op["settled"] or ctx.now),
        "attemptsCount": 1,
        "status": _status(ctx, op, "inProgress"),
        "targetResourceId": op["groupId"],
        "targetResourceLocation": f"/teams('{op['groupId']}')",
        "error": {"code": "InternalServerError", "message": op["fail"]} if failed else None,
    }
    return json_response(ctx.dialect.extras(body, "teamsAsyncOperation"))


def _team(ctx: Ctx) -> Response:
    team_id = ctx.req.params["team"].lower()
    group = next((g for g in ctx.store["groups"] if g["id"] == team_id), None)
    if group is None or team_id not in ctx.store["teams"]:
        raise GraphError(404, "NotFound", f"No team found with Group Id {team_id}")
    body = {
        "id": group["id"],
        "createdDateTime": store.iso(ctx.store["teams"][team_id]["created"]),
        "displayName": group["displayName"],
        "description": group.get("description"),
        "visibility": str(group.get("visibility") or "public").lower(),
        "isArchived": False,
        "webUrl": f"https://teams.microsoft.com/l/team/19%3a{uuid.UUID(group['id']).hex}%40thread.tacv2/conversations?groupId={group['id']}&tenantId={ctx.tenant['id']}",
    }
    return json_response(query.select(ctx, ctx.dialect.extras(body, "team")))


for _suffix in ("/teams/{team}/operations/{op}", "/teams('{team}')/operations('{op}')"):
    graph_route("GET", _suffix, auth.TEAMS_READ)(_team_operation)
for _suffix in ("/teams/{team}", "/teams('{team}')"):
    graph_route("GET", _suffix, auth.TEAMS_READ)(_team)


# -- sites ---------------------------------------------------------------------------------


def site_shape(ctx: Ctx, site: dict[str, Any]) -> dict[str, Any]:
    body = {
        "id": site["id"],
        "createdDateTime": store.iso(site["created"]),
        "description": site.get("description"),
        "displayName": site["displayName"],
        "name": site["name"],
        "webUrl": site["webUrl"],
        "siteCollection": {"hostname": store.hostname(ctx.tenant)},
    }
    return query.select(ctx, ctx.dialect.extras(body, "site"))


def _site_by_url(ctx: Ctx, url: str) -> dict[str, Any] | None:
    wanted = url.rstrip("/").lower()
    return next((s for s in ctx.store["sites"] if s["webUrl"].lower() == wanted), None)


@graph_route("GET", "/sites/root", auth.SITES_READ)
def root_site(ctx: Ctx) -> Response:
    return json_response(site_shape(ctx, ctx.store["sites"][0]))


@graph_route("GET", "/sites", auth.SITES_READ)
def search_sites(ctx: Ctx) -> Response:
    term = ctx.query.get("search", "*").strip().strip('"').lower()
    found = [
        s
        for s in ctx.store["sites"]
        if term in ("", "*")
        or any(term in str(s[k]).lower() for k in ("name", "displayName", "webUrl"))
    ]
    return json_response(query.page(ctx, "sites", found, lambda s: site_shape(ctx, s)))


@graph_route("GET", "/sites/{host}:/sites/{path}", auth.SITES_READ)
def site_by_path(ctx: Ctx) -> Response:
    host, path = ctx.req.params["host"], ctx.req.params["path"].rstrip(":")
    site = _site_by_url(ctx, f"https://{host}/sites/{path}")
    if site is None:
        raise item_not_found("Requested site could not be found")
    return json_response(site_shape(ctx, site))


@graph_route("GET", "/sites/getOperationStatus(operationId='{op}')", auth.SITES_CREATE, ("beta",))
def site_operation(ctx: Ctx) -> Response:
    op = _operation(ctx, ctx.req.params["op"], "site")
    body: dict[str, Any] = {
        "id": op["id"],
        "createdDateTime": store.iso(op["created"]),
        "status": _status(ctx, op, "running"),
        "resourceId": op.get("resourceId"),
        "resourceLocation": f"{ctx.base('beta')}/sites/{op['resourceId']}"
        if op.get("resourceId")
        else None,
    }
    if op["outcome"] == "failed":
        body["error"] = {"code": "generalException", "message": op["fail"]}
    return json_response(ctx.dialect.extras(body, "richLongRunningOperation"))


@graph_route("GET", "/sites/{site}", auth.SITES_READ)
def get_site(ctx: Ctx) -> Response:
    wanted = ctx.req.params["site"].lower()
    if wanted == store.hostname(ctx.tenant):
        return root_site(ctx)
    site = next((s for s in ctx.store["sites"] if s["id"].lower() == wanted), None)
    if site is None:
        raise item_not_found("Requested site could not be found")
    return json_response(site_shape(ctx, site))


@graph_route("GET", "/groups/{group}/sites/root", auth.SITES_READ)
def group_site(ctx: Ctx) -> Response:
    group = directory.find_group(ctx, ctx.req.params["group"])
    site = next((s for s in ctx.store["sites"] if s.get("groupId") == group["id"]), None)
    # A brand-new group's site is still being provisioned: 404 until replication is over.
    if site is None or not directory.replicated(ctx, group):
        raise item_not_found("The group's site could not be found; it may still be provisioning.")
    return json_response(site_shape(ctx, site))


def _site_refused(ctx: Ctx, body: dict[str, Any], error: GraphError) -> GraphError:
    store.record(
        ctx.store,
        ctx.now,
        "site",
        id=None,
        name=body.get("name"),
        url=body.get("webUrl"),
        outcome=error.code,
    )
    return error


@graph_route("POST", "/sites", auth.SITES_CREATE, ("beta",))
def create_site(ctx: Ctx) -> Response:
    body = ctx.body()
    name, web_url = body.get("name"), body.get("webUrl")
    prefix = f"https://{store.hostname(ctx.tenant)}/sites/"
    owner = body.get("ownerIdentityToResolve") or {}
    owner_user = (
        store.find_user(ctx.tenant, str(owner.get("email") or ""))
        if isinstance(owner, dict)
        else None
    )
    problem = None
    if not isinstance(name, str) or not name.strip():
        problem = "The 'name' property is required."
    elif not isinstance(web_url, str) or not re.fullmatch(
        re.escape(prefix) + r"[A-Za-z0-9_-]+/?", web_url, re.IGNORECASE
    ):
        problem = f"The 'webUrl' must look like '{prefix}{{name}}'."
    elif body.get("template") not in SITE_TEMPLATES:
        problem = f"The 'template' must be one of {', '.join(SITE_TEMPLATES)}."
    elif owner_user is None:
        problem = "The owner given in 'ownerIdentityToResolve' could not be resolved."
    if problem:
        raise _site_refused(ctx, body, GraphError(400, "invalidRequest", problem))
    assert isinstance(web_url, str) and isinstance(name, str) and owner_user is not None
    url = web_url.rstrip("/")
    pending = any(
        op["kind"] == "site" and op["url"].lower() == url.lower() and op["outcome"] is None
        for op in ctx.store["operations"].values()
    )
    if _site_by_url(ctx, url) is not None or pending:
        raise _site_refused(
            ctx,
            body,
            GraphError(409, "nameAlreadyExists", f"A site already exists at the URL '{url}'."),
        )
    op = _start(
        ctx,
        "site",
        name=name,
        url=url,
        path=url.rsplit("/", 1)[-1],
        description=body.get("description"),
        owner=owner_user["id"],
    )
    store.record(
        ctx.store,
        ctx.now,
        "site",
        id=None,
        name=name,
        url=url,
        operation=op["id"],
        outcome="accepted",
    )
    location = f"{ctx.base('beta')}/sites/getOperationStatus(operationId='{op['id']}')"
    return Response(202, b"", {"Location": location})


# -- Viva Engage communities -------------------------------------------------------------------


def _rate_limited(ctx: Ctx) -> None:
    limit, window = COMMUNITY_RATE
    app_id = str(ctx.claims.get("appid") or ctx.claims.get("azp") or "")
    posts = [
        t for t in ctx.store["config"]["community_posts"].get(app_id, []) if ctx.now - t < window
    ]
    if len(posts) >= limit:
        retry = max(1, int(window - (ctx.now - posts[0])) + 1)
        raise GraphError(
            429,
            "TooManyRequests",
            "Too many requests to create communities. Please try again later.",
            headers={"Retry-After": str(retry)},
        )
    ctx.store["config"]["community_posts"][app_id] = [*posts, ctx.now]


def _community_refused(ctx: Ctx, name: Any, error: GraphError) -> GraphError:
    store.record(ctx.store, ctx.now, "community", id=None, name=name, outcome=error.code)
    return error


@graph_route("POST", "/employeeExperience/communities", auth.COMMUNITIES_WRITE)
def create_community(ctx: Ctx) -> Response:
    _rate_limited(ctx)
    body = ctx.body()
    name, description, privacy = (
        body.get("displayName"),
        body.get("description"),
        body.get("privacy"),
    )
    owners_bind = body.get("owners@odata.bind")
    problem = None
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        problem = "The 'displayName' is required and at most 255 characters long."
    elif description is not None and (not isinstance(description, str) or len(description) > 1024):
        problem = "The 'description' is at most 1024 characters long."
    elif str(privacy).lower() not in ("public", "private"):
        problem = "The 'privacy' must be 'public' or 'private'."
    elif not isinstance(owners_bind, list) or not owners_bind:
        problem = "At least one owner is required with 'owners@odata.bind' in app-only calls."
    elif len(owners_bind) > 100:
        problem = "A community has at most 100 owners."
    if problem:
        raise _community_refused(ctx, name, GraphError(400, "BadRequest", problem))
    try:
        owners = directory.bound_users(ctx, body, "owners@odata.bind", 100)
    except GraphError as exc:
        raise _community_refused(ctx, name, exc) from exc
    op = _start(
        ctx,
        "community",
        communityId=str(uuid.uuid4()),
        name=name,
        description=description,
        privacy=str(privacy).lower(),
        owners=owners,
    )
    store.record(
        ctx.store, ctx.now, "community", id=None, name=name, operation=op["id"], outcome="accepted"
    )
    location = f"{ctx.base()}/employeeExperience/engagementAsyncOperations('{op['id']}')"
    headers = {"Operation-Location": location}
    if ctx.dialect.variant:
        headers["Location"] = location
    return Response(202, b"", headers)


def _community_operation(ctx: Ctx) -> Response:
    op = _operation(ctx, ctx.req.params["op"], "community")
    done = op["outcome"] == "succeeded"
    body = {
        "id": op["id"],
        "createdDateTime": store.iso(op["created"]),
        "lastActionDateTime": store.iso(op["settled"] or ctx.now),
        "status": _status(ctx, op, "running"),
        "statusDetail": op["fail"] if op["outcome"] == "failed" else None,
        "operationType": "createCommunity",
        "resourceId": op["communityId"] if done else None,
        "resourceLocation": f"{ctx.base()}/employeeExperience/communities('{op['communityId']}')"
        if done
        else None,
    }
    return json_response(ctx.dialect.extras(body, "engagementAsyncOperation"))


for _suffix in (
    "/employeeExperience/engagementAsyncOperations/{op}",
    "/employeeExperience/engagementAsyncOperations('{op}')",
):
    graph_route("GET", _suffix, auth.COMMUNITIES_READ)(_community_operation)


@graph_route("GET", "/employeeExperience/communities", auth.COMMUNITIES_READ)
def list_communities(ctx: Ctx) -> Response:
    shape = lambda c: ctx.dialect.extras(dict(c), "community")  # noqa: E731
    return json_response(
        query.page(ctx, "employeeExperience/communities", ctx.store["communities"], shape)
    )


def _community(ctx: Ctx) -> Response:
    wanted = ctx.req.params["community"].lower()
    found = next((c for c in ctx.store["communities"] if c["id"] == wanted), None)
    if found is None:
        raise item_not_found(f"Community '{wanted}' was not found.")
    return json_response(query.select(ctx, ctx.dialect.extras(dict(found), "community")))


for _suffix in (
    "/employeeExperience/communities/{community}",
    "/employeeExperience/communities('{community}')",
):
    graph_route("GET", _suffix, auth.COMMUNITIES_READ)(_community)

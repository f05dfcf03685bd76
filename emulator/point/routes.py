"""HTTP routes of the emulated Point API (``/point/{tenant}/v1.0/...``) and Point's control API.

Every Point route resolves the tenant and its dialect (``dialects.for_tenant``), checks the
bearer token against the permission matrix (``auth``), then works on ``state.data`` under
``state.lock`` and answers through the dialect, which shapes bodies, lists and errors.
Lifecycle transitions happen lazily on read and in a ticker, so webhooks fire even when nobody
polls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from emulator.point import (
    auth,
    catalogue,
    dialects,
    directory,
    jobs,
    provisioning,
    shapes,
    webhooks,
)
from emulator.point.dialects import Dialect
from emulator.server import (
    ERROR_SHAPERS,
    TICKERS,
    BadRequest,
    Request,
    Response,
    json_response,
    route,
)
from emulator.state import EmulatorState

PointHandler = Callable[[Request, dict[str, Any], dict[str, Any], Dialect], Response]
PREFIX = "/point/{tenant}/v1.0"
JSON_TYPES = ("application/json", "application/json-patch+json", "text/json", "application/*+json")


def point_route(
    method: str,
    suffix: str,
    roles: tuple[str, ...],
    available: Callable[[Dialect], bool] | None = None,
) -> Callable[[PointHandler], PointHandler]:
    """Register a Point handler: dialect, tenant lookup and authorization happen before it runs.

    ``available``: whether the dialect has this route at all; where it has not, the route
    answers 404 before any authorization, as an unmatched route does in ASP.NET Core.
    """

    def register(handler: PointHandler) -> PointHandler:
        def wrapped(req: Request) -> Response:
            dialect = dialects.for_tenant(req.state, req.params["tenant"])
            tenant = req.state.tenant(req.params["tenant"])
            if tenant is None:
                return dialect.not_found(req, "PointInstance", req.params["tenant"])
            if available is not None and not available(dialect):
                return dialect.no_route(req)
            try:
                claims = auth.authorize(req, tenant, roles)
            except auth.Denied as denied:
                return denied.response
            return handler(req, tenant, claims, dialect)

        route(method, PREFIX + suffix)(wrapped)
        return handler

    return register


def read_json(req: Request, dialect: Dialect, required: bool = True) -> Any:
    """The JSON body (application/json or application/json-patch+json); None if empty and allowed."""
    if not req.body.strip():
        if required:
            raise _Problem(dialect.invalid(req, {"$": ["A non-empty request body is required."]}))
        return None
    content_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not (content_type in JSON_TYPES or content_type.endswith("+json")):
        raise _Problem(dialect.unsupported_media_type(req))
    try:
        return json.loads(req.body)
    except ValueError as exc:
        raise _Problem(
            dialect.invalid(req, {"$": [f"The JSON value could not be parsed: {exc}"]})
        ) from exc


class _Problem(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _slug(tenant: dict[str, Any]) -> str:
    return str(tenant["slug"]).lower()


# --- Provisioning ------------------------------------------------------------------------------


@point_route("GET", "/provision/templates", auth.PROVISION)
def list_templates(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    return dialect.templates(req, catalogue.templates(tenant))


@point_route("POST", "/provision/{kind}", auth.PROVISION)
def provision(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    kind = req.params["kind"].lower()
    if kind not in shapes.PROVISION_ENDPOINTS:
        return json_response(
            {"error": "not_found", "message": f"No route for {req.path}."}, status=404
        )
    try:
        body = read_json(req, dialect)
    except _Problem as problem:
        return problem.response
    state = req.state
    with state.lock:
        try:
            record = provisioning.create(state, tenant, kind, body, claims)
        except provisioning.Invalid as exc:
            return dialect.refused(req, exc)
        state.save()
        location = f"/point/{_slug(tenant)}/v1.0/provision/requests/{record['id']}"
        return dialect.created(req, record, state.now(), location)


def _advance_tenant(state: EmulatorState) -> None:
    with state.lock:
        events = provisioning.advance_all(state, state.now())
        if events:
            webhooks.dispatch(state, events)
            state.save()


@point_route("GET", "/provision/requests/{id}", auth.PROVISION)
def get_request(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    state = req.state
    _advance_tenant(state)
    with state.lock:
        state.status_reads.append((_slug(tenant), req.params["id"].lower(), state.now()))
        record = provisioning.tenant_data(state, _slug(tenant))["requests"].get(
            req.params["id"].lower()
        )
        if record is None:
            return dialect.not_found(req, "ProvisioningRequest", req.params["id"])
        return json_response(dialect.request(record, state.now()))


@point_route("GET", "/provision/requests", auth.PROVISION, available=lambda d: d.request_lookup)
def find_requests(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    """proposed (not in Point's docs): this app's requests, by desiredUrl and/or displayName.

    A client whose POST outcome was unknown (timeout, reset) uses it to find the request it
    may have created instead of creating a second one.
    """
    state = req.state
    _advance_tenant(state)
    app_id = str(claims.get("appid") or claims.get("azp") or "")
    with state.lock:
        found = provisioning.find_mine(
            state, _slug(tenant), app_id, req.query.get("desiredUrl"), req.query.get("displayName")
        )
        now = state.now()
        return dialect.page(req, found, lambda r: dialect.request(r, now))


# --- Inventory ---------------------------------------------------------------------------------


def _search(
    dialect: Dialect, items: list[dict[str, Any]], term: str | None, *keys: str
) -> list[dict[str, Any]]:
    if not term or not dialect.search:
        return items
    needle = term.lower()
    return [i for i in items if any(needle in str(i.get(k) or "").lower() for k in keys)]


@point_route("GET", "/groups", auth.GROUPS)
def list_groups(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    group_type = req.query.get("groupType")
    if group_type:
        match = next((t for t in shapes.GROUP_TYPES if t.lower() == group_type.lower()), None)
        if match is None:
            return dialect.invalid(
                req,
                {
                    "groupType": [
                        f"The value '{group_type}' is not valid. Use one of: {', '.join(shapes.GROUP_TYPES)}."
                    ]
                },
            )
        group_type = match
    with req.state.lock:
        entries = list(provisioning.ledger(req.state))
    items = directory.groups(tenant, entries)
    if group_type:
        items = [g for g in items if g["group_type"] == group_type]
    items = _search(dialect, items, req.query.get("search"), "name", "email")
    return dialect.page(req, items, dialect.group)


@point_route("GET", "/groups/{name}", auth.GROUPS)
def get_group(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    name = req.params["name"]
    with req.state.lock:
        entries = list(provisioning.ledger(req.state))
    # proposed [5.2]: exact, case-insensitive name match; the first one if several share it.
    found = next(
        (g for g in directory.groups(tenant, entries) if g["name"].lower() == name.lower()), None
    )
    if found is None:
        return dialect.not_found(req, "Group", name)
    return json_response(dialect.group(found))


@point_route("GET", "/sites", auth.SITES)
def list_sites(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    with req.state.lock:
        entries = list(provisioning.ledger(req.state))
    items = _search(
        dialect, directory.sites(tenant, entries), req.query.get("search"), "title", "url"
    )
    return dialect.page(req, items, dialect.site)


# --- Async jobs --------------------------------------------------------------------------------


def _start_job(req: Request, tenant: dict[str, Any], dialect: Dialect, kind: str) -> Response:
    try:
        body = read_json(req, dialect, required=False)
    except _Problem as problem:
        return problem.response
    state = req.state
    with state.lock:
        try:
            job = jobs.create(state, tenant, kind, body)
        except jobs.Invalid as exc:
            return dialect.invalid(req, exc.errors)
        state.save()
        location = f"/point/{_slug(tenant)}/v1.0/requests/{job['id']}/status"
        return dialect.job_started(req, job, state.now(), location)


@point_route("POST", "/groups/memberships", auth.GROUPS)
def group_memberships(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    return _start_job(req, tenant, dialect, shapes.JOB_TYPE_GROUP_MEMBERSHIPS)


@point_route("POST", "/sites/permissions/generate", auth.SITES)
def site_permissions(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    return _start_job(req, tenant, dialect, shapes.JOB_TYPE_SITE_PERMISSIONS)


@point_route("POST", "/users/access/generate", auth.USERS)
def user_access(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    return _start_job(req, tenant, dialect, shapes.JOB_TYPE_USER_ACCESS)


def _job(req: Request, tenant: dict[str, Any]) -> dict[str, Any] | None:
    job: dict[str, Any] | None = provisioning.tenant_data(req.state, _slug(tenant))["jobs"].get(
        req.params["id"].lower()
    )
    if job is not None:
        jobs.advance(job, req.state.now())
    return job


@point_route("GET", "/requests/{id}/status", auth.ASYNC_STATUS)
def job_status(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    state = req.state
    with state.lock:
        job = _job(req, tenant)
        if job is None:
            return dialect.not_found(req, "Request", req.params["id"])
        answer = dialect.job(job, state.now())
        status = job["status"]
    if status == shapes.JOB_SUCCEEDED:
        # documented-draft [4.1]: 302 to the result once it has succeeded.
        location = f"/point/{_slug(tenant)}/v1.0/requests/{job['id']}/result"
        return json_response(answer, status=302, headers={"Location": location})
    return json_response(
        answer, headers={"Retry-After": "1"} if status == shapes.JOB_IN_PROGRESS else None
    )


@point_route("GET", "/requests/{id}/result", auth.ASYNC_STATUS)
def job_result(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    state = req.state
    with state.lock:
        job = _job(req, tenant)
        if job is None:
            return dialect.not_found(req, "Request", req.params["id"])
        job = dict(job)
    if job["status"] == shapes.JOB_FAILED:
        return dialect.error(
            req, 409, f"Request {job['id']} failed: {job['error']}", shapes.INVALID_OPERATION
        )
    if job["status"] != shapes.JOB_SUCCEEDED:
        return dialect.error(
            req, 409, f"Request {job['id']} has not completed yet.", shapes.INVALID_OPERATION
        )
    with state.lock:
        rows = jobs.rows(state, tenant, job)
    return dialect.page(req, rows, lambda row: dialect.row(job["type"], row))


# --- Webhooks and options ----------------------------------------------------------------------
# Documented shapes [6]. The endpoints' bodies are the same in every dialect (only a malformed
# body's 400 follows it); the options answer and the events follow the tenant's dialect.


def _register_webhook(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    try:
        body = read_json(req, dialect)
    except _Problem as problem:
        return problem.response
    with req.state.lock:
        try:
            webhooks.register(req.state, _slug(tenant), body)
        except webhooks.Invalid as exc:
            return dialect.invalid(req, exc.errors)
        req.state.save()
    # documented [6.1]: 200; the body is shown as "{ Null }" (a docs typo): we send none.
    return Response(200, b"", {})


def _list_webhooks(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    with req.state.lock:
        hooks = [shapes.webhook_endpoint(h) for h in webhooks.endpoints(req.state, _slug(tenant))]
    return json_response(hooks)


def _delete_webhook(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    try:
        body = read_json(req, dialect)
    except _Problem as problem:
        return problem.response
    with req.state.lock:
        try:
            deleted = webhooks.delete(req.state, _slug(tenant), body)
        except webhooks.Invalid as exc:
            return dialect.invalid(req, exc.errors)
        req.state.save()
    if not deleted:
        return dialect.not_found(req, "WebhookEndpoint", str(body.get("endpoint")))
    return Response(204, b"", {})


# documented [6.1]: the plural path; the API article's singular spelling is routed too.
for _path in ("/webhooks/endpoints", "/webhook/endpoints"):
    point_route("POST", _path, auth.WEBHOOKS)(_register_webhook)
    point_route("GET", _path, auth.WEBHOOKS)(_list_webhooks)
    point_route("DELETE", _path, auth.WEBHOOKS)(_delete_webhook)


@point_route("GET", "/options", auth.OPTIONS)
def get_options(
    req: Request, tenant: dict[str, Any], claims: dict[str, Any], dialect: Dialect
) -> Response:
    with req.state.lock:
        key = webhooks.options_key(req.state, _slug(tenant))
    return json_response(dialect.options(shapes.options(key)))


# --- Errors the server makes itself ------------------------------------------------------------

_POINT_PATH = re.compile(r"^/point/(?P<tenant>[^/]+)/", re.IGNORECASE)


def shape_fault(req: Request, response: Response) -> Response:
    """An injected fault, a throttle or a crash on a Point path, in the tenant's dialect."""
    match = _POINT_PATH.match(req.path)
    if match is None:
        return response
    return dialects.for_tenant(req.state, match["tenant"]).reshape_fault(req, response)


ERROR_SHAPERS.append(shape_fault)


# --- Ticker ------------------------------------------------------------------------------------


def tick(state: EmulatorState) -> None:
    """Advance every request by time, so webhooks fire even when nobody polls."""
    _advance_tenant(state)


TICKERS.append(tick)


# --- Control API (not part of Point) -----------------------------------------------------------


def _control_body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    body = req.json()
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _control_request(req: Request, action: str) -> Response:
    body = _control_body(req)
    state = req.state
    by, comment = body.get("by"), body.get("comment")
    with state.lock:
        found = provisioning.find_request(state, req.params["id"])
        if found is None:
            return json_response(
                {"error": "not_found", "message": f"No provisioning request {req.params['id']}."},
                status=404,
            )
        _, record = found
        if record["status"] != shapes.REQUEST_PENDING:
            return json_response(
                {
                    "error": "conflict",
                    "message": f"Request {record['id']} is {record['status']}, not Pending.",
                },
                status=409,
            )
        if action == "approve":
            provisioning.approve(state, record, by, comment)
        else:
            provisioning.reject(state, record, by, comment)
        state.save()
        return json_response(shapes.provisioning_request(record, state.now()))


@route("POST", "/_control/requests/{id}/approve")
def control_approve(req: Request) -> Response:
    return _control_request(req, "approve")


@route("POST", "/_control/requests/{id}/reject")
def control_reject(req: Request) -> Response:
    return _control_request(req, "reject")


@route("GET", "/_control/requests")
def control_requests(req: Request) -> Response:
    """Every provisioning request of every tenant (newest last), for the demo and tests."""
    state = req.state
    _advance_tenant(state)
    with state.lock:
        items = [
            {"tenant": slug, **shapes.provisioning_request(r, state.now())}
            for slug, data in state.data.get("point", {}).items()
            if isinstance(data, dict)
            for r in data.get("requests", {}).values()
        ]
    items.sort(key=lambda r: str(r["requestedOn"]))
    return json_response({"count": len(items), "requests": items})


@route("POST", "/_control/requests/bulk")
def control_bulk(req: Request) -> Response:
    """Create ``count`` provisioning requests in one tenant at once (benchmarks): each is the
    ``body`` of a POST /v1.0/provision/{``kind``} with ``displayName`` followed by its number
    (1..count), validated like that POST except for the duplicate check (the numbers make the
    names unique) and made by the tenant's first app registration; the state is saved once.
    Answers ``{"tenant", "count", "requests": [{"id", "displayName"}]}``; a body the POST
    would refuse is a 400 with its field errors."""
    body = _control_body(req)
    state = req.state
    tenant = state.tenant(str(body.get("tenant") or ""))
    if tenant is None:
        raise BadRequest("'tenant' (slug or id) is required and must exist.")
    kind = str(body.get("kind") or "").lower()
    if kind not in shapes.PROVISION_ENDPOINTS:
        raise BadRequest(f"'kind' must be one of {', '.join(shapes.PROVISION_ENDPOINTS)}.")
    count = body.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
        raise BadRequest("'count' must be an integer from 1 to 100000.")
    template = body.get("body")
    if not isinstance(template, dict) or not isinstance(template.get("displayName"), str):
        raise BadRequest("'body' must be a provisioning request body with a displayName.")
    apps = tenant.get("apps") or [{}]
    claims = {"appid": apps[0].get("client_id", "")}
    made: list[dict[str, str]] = []
    with state.lock:
        for number in range(1, count + 1):
            one = {**template, "displayName": f"{template['displayName']} {number}"}
            try:
                record = provisioning.create(
                    state, tenant, kind, one, claims, check_duplicates=False
                )
            except provisioning.Invalid as exc:
                return json_response(
                    {
                        "error": "invalid",
                        "message": f"Request {number} refused.",
                        "errors": exc.errors,
                    },
                    status=400,
                )
            made.append({"id": record["id"], "displayName": record["display_name"]})
        state.save()
    return json_response({"tenant": _slug(tenant), "count": len(made), "requests": made})


@route("GET", "/_control/requests/reads")
def control_reads(req: Request) -> Response:
    """Answered status reads of single requests (GET /v1.0/provision/requests/{id}), oldest
    first: ``{"count", "reads": [[tenant, request id, epoch s], ...]}``, narrowed by ``tenant``
    and by ``since`` / ``until`` (epoch s). Kept in memory only; a reset clears them."""
    wanted = (req.query.get("tenant") or "").lower()
    try:
        since = float(req.query.get("since") or "-inf")
        until = float(req.query.get("until") or "inf")
    except ValueError as exc:
        raise BadRequest("'since' and 'until' must be epoch seconds.") from exc
    with req.state.lock:
        reads = [
            [slug, request_id, at]
            for slug, request_id, at in req.state.status_reads
            if since <= at <= until and (not wanted or slug == wanted)
        ]
    return json_response({"count": len(reads), "reads": reads})


@route("POST", "/_control/timing")
def control_timing(req: Request) -> Response:
    body = _control_body(req)
    state = req.state
    with state.lock:
        current = provisioning.config(state)["timing"]
        for key, value in body.items():
            if key not in provisioning.DEFAULT_TIMING:
                raise BadRequest(
                    f"Unknown phase '{key}'; use {', '.join(provisioning.DEFAULT_TIMING)}."
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadRequest(f"'{key}' must be a number of seconds >= 0.")
            current[key] = float(value)
        state.save()
        return json_response({"timing": dict(current)})


def _fail_next(req: Request, queue_name: str, default: str) -> Response:
    body = _control_body(req)
    state = req.state
    tenant = state.tenant(str(body.get("tenant") or ""))
    if tenant is None:
        raise BadRequest("'tenant' (slug or id) is required and must exist.")
    message = body.get("message") or default
    count = body.get("count", 1)
    if (
        not isinstance(message, str)
        or isinstance(count, bool)
        or not isinstance(count, int)
        or count < 1
    ):
        raise BadRequest("'message' must be a string and 'count' a positive integer.")
    with state.lock:
        queue = provisioning.config(state)[queue_name].setdefault(_slug(tenant), [])
        queue.extend([message] * count)
        state.save()
        return json_response({"tenant": _slug(tenant), "queued": list(queue)})


@route("POST", "/_control/requests/fail-next")
def control_fail_next(req: Request) -> Response:
    return _fail_next(req, "fail_next", provisioning.DEFAULT_FAILURE)


@route("POST", "/_control/jobs/fail-next")
def control_jobs_fail_next(req: Request) -> Response:
    return _fail_next(req, "job_fail_next", jobs.DEFAULT_JOB_ERROR)


@route("GET", "/_control/ledger")
def control_ledger(req: Request) -> Response:
    wanted = (req.query.get("tenant") or "").lower()
    with req.state.lock:
        entries = [
            dict(e) for e in provisioning.ledger(req.state) if not wanted or e["tenant"] == wanted
        ]
    return json_response({"count": len(entries), "workspaces": entries})


@route("GET", "/_control/webhooks/deliveries")
def control_deliveries(req: Request) -> Response:
    wanted = (req.query.get("tenant") or "").lower()
    with req.state.lock:
        entries = [dict(e) for e in webhooks.log(req.state) if not wanted or e["tenant"] == wanted]
    return json_response({"count": len(entries), "deliveries": entries})


@route("POST", "/_control/webhooks")
def control_webhooks(req: Request) -> Response:
    body = _control_body(req)
    state = req.state
    with state.lock:
        cfg = provisioning.config(state)
        if "duplicate_rate" in body:
            rate = body["duplicate_rate"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise BadRequest("'duplicate_rate' must be a number between 0 and 1.")
            cfg["duplicate_rate"] = float(rate)
        if "retry_delays" in body:
            delays = body["retry_delays"]
            if not isinstance(delays, list) or not all(
                isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 for d in delays
            ):
                raise BadRequest("'retry_delays' must be a list of seconds >= 0.")
            cfg["retry_delays"] = [float(d) for d in delays]
        state.save()
        return json_response(
            {"duplicate_rate": cfg["duplicate_rate"], "retry_delays": cfg["retry_delays"]}
        )


@route("GET", "/_control/dialect")
def control_dialect_view(req: Request) -> Response:
    return json_response(dialects.view(req.state))


@route("POST", "/_control/dialect")
def control_dialect(req: Request) -> Response:
    """``{"dialect": name}`` for every tenant (clearing their own choices), or with
    ``"tenant"`` (slug, id or domain) for one; an unknown name is a 400 listing the known."""
    body = _control_body(req)
    state = req.state
    tenant = None
    if body.get("tenant") is not None:
        tenant = state.tenant(str(body["tenant"]))
        if tenant is None:
            raise BadRequest(f"Unknown tenant '{body['tenant']}'.")
    try:
        name = dialects.check(body.get("dialect"))
    except dialects.UnknownDialect as exc:
        raise BadRequest(str(exc)) from exc
    with state.lock:
        dialects.choose(state, name, tenant)
        state.save()
    return json_response(dialects.view(state))

"""Dialects: the same emulated Point answering in other plausible shapes (issue 13).

Seed 000 documents Point's endpoints and permissions, not its bodies, so every body in
``shapes`` is a guess our client shares. A dialect answers the same routes, with the same
behaviour, in another faithful reading of the documented contract, so a test can tell a guess
from a fact. The spec is docs/point-dialects.md; docs/emulator.md ("Dialects") says how to
switch.

How it is built:

- ``for_tenant`` is the one place that decides the dialect of a request: the tenant's own
  choice, else the default (from ``--dialect``, changed by ``POST /_control/dialect``). The
  choices live in ``state.data`` like Point's timings, so a demo restart keeps them.
- Routes keep building today's bodies from internal records; they hand them to the dialect's
  methods: item shapes (``template``, ``group``, ``site``, ``request``, ``job``, ``row``), lists
  (``templates``, ``page``), answers (``created``, ``job_started``), errors (``error``,
  ``invalid``, ``refused``, ``unsupported_media_type``, ``reshape_fault``), the options answer
  (``options``) and webhook events (``webhook_body``, ``algorithm``): ``webhooks.dispatch``
  asks the dialect of the tenant an event belongs to, and signs the bytes it sends.
- ``Dialect`` renders today's shapes unchanged; each other dialect overrides only what it
  changes, as a function of today's body (renamed keys, PascalCase, numeric enums, envelopes).

The webhook signature scheme (Base64 HMAC-SHA256 of the raw body with the options key), delivery
(retries, duplicates), the webhook endpoint routes, the Entra side, the 401 and 403 answers and
the control API never change with the dialect.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode

from emulator.point import provisioning, shapes
from emulator.server import Request, Response, json_response
from emulator.state import EmulatorState

TODAY = "today"
MINIMAL = "documented-minimal"
GRAPH = "graph-names"
PASCAL = "pascal-problem-details"

# The Point exception type of a duplicate (proposed, in Point's documented naming [7]).
DUPLICATE_RESOURCE = "SysKit.Point.Application.SeedWork.Exceptions.DuplicateResourceException"

PROBLEM_JSON = "application/problem+json; charset=utf-8"

T = TypeVar("T")


def _int_param(
    req: Request, name: str, default: int, minimum: int, errors: dict[str, list[str]]
) -> int:
    """A paging integer from the query; a bad value lands in ``errors`` (today's messages)."""
    raw = req.query.get(name)
    try:
        value = default if raw in (None, "") else int(str(raw))
    except ValueError:
        errors[name] = [f"The value '{raw}' is not valid for {name}."]
        return default
    if value < minimum:
        errors[name] = [f"{name} must be at least {minimum}."]
    return value


def _link(req: Request, query: dict[str, str]) -> str:
    """An absolute next-page URL carrying every query parameter of this one."""
    return f"{req.base_url}{req.path}?{urlencode(query, safe='$')}"


# --- today -------------------------------------------------------------------------------------


class Dialect:
    """Today's shapes (``shapes``, the proposed ones of the reference), unchanged.

    The base of every dialect: a subclass overrides the methods whose answer it changes.
    """

    name = TODAY
    # GET /v1.0/provision/requests (our lookup extension, not in seed 000) exists.
    request_lookup = True
    # ?search= filters GET /groups and GET /sites.
    search = True
    # A duplicate name, URL or alias is refused with 409 naming the holder, not today's 400.
    duplicates_conflict = False

    # -- items: an internal record in, a wire body out --

    def template(self, t: dict[str, Any]) -> Any:
        return shapes.template(t)

    def group(self, g: dict[str, Any]) -> Any:
        return shapes.group(g)

    def site(self, s: dict[str, Any]) -> Any:
        return shapes.site(s)

    def request(self, r: dict[str, Any], now: float) -> Any:
        return shapes.provisioning_request(r, now)

    def job(self, j: dict[str, Any], now: float) -> Any:
        return shapes.request_status(j, now)

    def row(self, job_type: str, row: dict[str, Any]) -> Any:
        """A report row; rows are stored in today's wire shape (``jobs.rows``)."""
        return row

    # -- lists --

    def templates(self, req: Request, records: Sequence[dict[str, Any]]) -> Response:
        # proposed [3.3]: a bare array (the catalogue is small; no paging).
        return json_response([self.template(t) for t in records])

    def page(self, req: Request, items: Sequence[T], render: Callable[[T], Any]) -> Response:
        """proposed paging: ``$top`` (default 100, max 1000) and ``$skip``; only the page's
        items are rendered."""
        errors: dict[str, list[str]] = {}
        top = _int_param(req, shapes.PAGE_TOP_PARAM, shapes.PAGE_DEFAULT, 1, errors)
        skip = _int_param(req, shapes.PAGE_SKIP_PARAM, 0, 0, errors)
        if errors:
            return self.invalid(req, errors)
        top = min(top, shapes.PAGE_MAX)
        chunk = [render(i) for i in items[skip : skip + top]]
        next_link = None
        if skip + top < len(items):
            query = dict(req.query)
            query[shapes.PAGE_TOP_PARAM] = str(top)
            query[shapes.PAGE_SKIP_PARAM] = str(skip + top)
            next_link = _link(req, query)
        return json_response(self.envelope(chunk, len(items), next_link))

    def envelope(self, items: list[Any], total: int, next_link: str | None) -> Any:
        return shapes.page(items, total, next_link)

    # -- answers --

    def created(self, req: Request, r: dict[str, Any], now: float, location: str) -> Response:
        """POST /provision/{kind} accepted the request."""
        return json_response(self.request(r, now), status=201, headers={"Location": location})

    def job_started(self, req: Request, j: dict[str, Any], now: float, location: str) -> Response:
        """A generate request was accepted [4.1]."""
        return json_response(
            self.job(j, now), status=202, headers={"Location": location, "Retry-After": "1"}
        )

    # -- errors --

    def error(
        self, req: Request, status: int, message: str, exception_type: str = shapes.DOMAIN_ERROR
    ) -> Response:
        """A domain error (404, 409): documented for 404 [7], proposed for the rest."""
        return json_response(shapes.domain_error(message, exception_type), status=status)

    def not_found(self, req: Request, kind: str, key: str) -> Response:
        body = shapes.not_found(kind, key)
        return self.error(req, 404, body["exceptionMessage"], body["exceptionType"])

    def no_route(self, req: Request) -> Response:
        """A route this dialect does not have: Point's 404 in the domain-error body."""
        return self.error(
            req,
            404,
            f"No HTTP resource was found that matches the request URI '{req.path}'.",
            shapes.RESOURCE_MISSING,
        )

    def invalid(self, req: Request, errors: dict[str, list[str]]) -> Response:
        """400 with field errors (inferred: ValidationProblemDetails)."""
        return json_response(
            shapes.validation_problem(errors),
            status=400,
            headers={"Content-Type": PROBLEM_JSON},
        )

    def unsupported_media_type(self, req: Request) -> Response:
        # ASP.NET Core answers 415 to a body it has no input formatter for.
        return json_response(
            {
                "type": "https://tools.ietf.org/html/rfc9110#section-15.5.16",
                "title": "Unsupported Media Type",
                "status": 415,
                "traceId": shapes.trace_id(),
            },
            status=415,
        )

    def refused(self, req: Request, exc: provisioning.Invalid) -> Response:
        """A provisioning body that was refused: field errors, or a duplicate."""
        if not self.duplicates_conflict:
            return self.invalid(req, exc.errors)
        if exc.conflicts and not exc.validation_errors:
            # The duplicate check runs once the body is valid, as a domain rule would.
            return self.error(req, 409, exc.conflicts[0].duplicate_message, DUPLICATE_RESOURCE)
        return self.invalid(req, exc.validation_errors)

    def reshape_fault(self, req: Request, response: Response) -> Response:
        """An error the server made itself (injected fault, throttle, crash), in this dialect."""
        return response

    # -- webhooks and options --

    def webhook_body(self, envelope: dict[str, Any], ts: float) -> Any:
        """A webhook event's body from today's envelope (``shapes.webhook_envelope``); ``ts`` is
        the event's time, which ``meta.timeStamp`` holds to the second."""
        return envelope

    def algorithm(self) -> str:
        """The webhook ``Algorithm`` header (documented name, undocumented value)."""
        return shapes.ALGORITHM_VALUE

    def options(self, body: dict[str, Any]) -> Any:
        """GET /v1.0/options from today's body (``shapes.options``)."""
        return body


class Today(Dialect):
    """``today``: the emulator's shapes as they were before dialects."""


# --- documented-minimal ------------------------------------------------------------------------


# Webhook content keys as the docs example spells them ("correlationId " with a trailing space).
MINIMAL_WEBHOOK_KEYS = {"correlationId": "correlationId "}


class Minimal(Dialect):
    """``documented-minimal``: only what seed 000 shows; every extra is gone."""

    name = MINIMAL
    request_lookup = False
    search = False
    duplicates_conflict = True

    def template(self, t: dict[str, Any]) -> Any:
        body = shapes.template(t)
        return {k: body[k] for k in ("id", "name", "description", "workspaceType")}

    def group(self, g: dict[str, Any]) -> Any:
        body = shapes.group(g)
        return {k: body[k] for k in ("id", "name", "email", "groupType")}

    def site(self, s: dict[str, Any]) -> Any:
        body = shapes.site(s)
        return {k: body[k] for k in ("id", "url", "title")}

    def request(self, r: dict[str, Any], now: float) -> Any:
        body = shapes.provisioning_request(r, now)
        out: dict[str, Any] = {"id": body["id"], "status": body["status"]}
        if body["status"] == shapes.REQUEST_COMPLETED and body["result"]:
            out["result"] = {"url": body["result"]["url"]}
        if body["status"] == shapes.REQUEST_FAILED:
            out["error"] = body["error"]
        return out

    def job(self, j: dict[str, Any], now: float) -> Any:
        body = shapes.request_status(j, now)
        return {"id": body["id"], "status": body["status"]}

    def page(self, req: Request, items: Sequence[T], render: Callable[[T], Any]) -> Response:
        # A bare array of everything: $top and $skip mean nothing here (not even a 400).
        return json_response([render(i) for i in items])

    def created(self, req: Request, r: dict[str, Any], now: float, location: str) -> Response:
        return json_response({"id": r["id"]}, status=201, headers={"Location": location})

    def job_started(self, req: Request, j: dict[str, Any], now: float, location: str) -> Response:
        return json_response(
            {"id": j["id"]}, status=202, headers={"Location": location, "Retry-After": "1"}
        )

    def webhook_body(self, envelope: dict[str, Any], ts: float) -> Any:
        # The docs example's fields exactly: no requestId (our extension), and the Failed
        # example's key as printed, trailing space included.
        content = {
            MINIMAL_WEBHOOK_KEYS.get(k, k): v
            for k, v in envelope["content"].items()
            if k != "requestId"
        }
        return {**envelope, "content": content}

    def algorithm(self) -> str:
        return "HMAC-SHA256"


# --- graph-names -------------------------------------------------------------------------------


SKIPTOKEN_PARAM = "$skiptoken"


def _skiptoken(offset: int) -> str:
    """An opaque continuation token, as Graph's: clients follow the link, never build one."""
    return base64.urlsafe_b64encode(f"skip={offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int | None:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = decoded.partition("=")
    if prefix != "skip" or not number.isdigit():
        return None
    return int(number)


# Webhook content keys by Graph's names; the others (type, requesterId, correlationId,
# requestId) keep today's.
GRAPH_WEBHOOK_KEYS = {
    "name": "displayName",
    "url": "webUrl",
    "microsoftId": "id",
    "requestedOn": "createdDateTime",
    "error": "errorMessage",
}


class Graph(Dialect):
    """``graph-names``: Point built on Microsoft Graph, with Graph's names and OData paging."""

    name = GRAPH

    def template(self, t: dict[str, Any]) -> Any:
        body = shapes.template(t)
        out: dict[str, Any] = {
            "id": body["id"],
            "displayName": body["name"],
            "description": body["description"],
            "workspaceType": body["workspaceType"],
            "approvalProcess": {"isAutomatic": body["approvalProcess"]["isAutomatic"]},
        }
        # Today's extras keep today's names.
        out.update({k: v for k, v in body.items() if k not in out and k != "name"})
        return out

    def group(self, g: dict[str, Any]) -> Any:
        body = shapes.group(g)
        kind = body["groupType"]
        return {
            "id": body["id"],
            "displayName": body["name"],
            "mail": body["email"] or None,
            "groupTypes": ["Unified"] if kind == "UnifiedGroup" else [],
            "mailEnabled": kind != "SecurityGroup",
            "securityEnabled": kind in ("SecurityGroup", "MailEnabledSecurityGroup"),
            # Graph's visibility is null for groups that are not Microsoft 365 groups.
            "visibility": body["privacy"],
            "resourceProvisioningOptions": ["Team"] if body["isTeam"] else [],
            "createdDateTime": body["createdOn"],
        }

    def site(self, s: dict[str, Any]) -> Any:
        body = shapes.site(s)
        return {
            "id": body["id"],
            "webUrl": body["url"],
            "displayName": body["title"],
            "name": body["url"].rstrip("/").rsplit("/", 1)[-1],
            "createdDateTime": body["createdOn"],
        }

    def request(self, r: dict[str, Any], now: float) -> Any:
        body = shapes.provisioning_request(r, now)
        status = body["status"]
        out: dict[str, Any] = {
            "id": body["id"],
            "status": status,
            "displayName": body["displayName"],
        }
        if status == shapes.REQUEST_COMPLETED and body["result"]:
            out["webUrl"] = body["result"]["url"]
        out["createdDateTime"] = body["requestedOn"]
        if status == shapes.REQUEST_COMPLETED:
            out["percentComplete"] = 100
        else:
            out["percentComplete"] = body.get("progress", 0)
        return out

    def job(self, j: dict[str, Any], now: float) -> Any:
        body = shapes.request_status(j, now)
        total = int(j["total"])
        if body["status"] == shapes.JOB_SUCCEEDED:
            processed = total
        elif "progress" in body:
            processed = body["progress"]["processedItems"]
        else:
            processed = 0
        return {
            "id": body["id"],
            "status": body["status"],
            "processedCount": processed,
            "totalCount": total,
        }

    def row(self, job_type: str, row: dict[str, Any]) -> Any:
        if job_type == shapes.JOB_TYPE_GROUP_MEMBERSHIPS:
            return {
                "groupId": row["groupId"],
                "groupDisplayName": row["groupName"],
                "displayName": row["displayName"],
                "userPrincipalName": row["email"],
                "memberType": row["memberType"],
                "role": row["role"],
            }
        if job_type == shapes.JOB_TYPE_SITE_PERMISSIONS:
            return {
                "siteWebUrl": row["siteUrl"],
                "principalDisplayName": row["principalName"],
                "principalType": row["principalType"],
                "roles": [row["permissionLevel"]],
                "scope": row["scope"],
                "scopeUrl": row["scopeUrl"],
                "grantedThrough": row["accessVia"],
            }
        return {
            "displayName": row["workspaceName"],
            "webUrl": row["url"],
            "workspaceType": row["workspaceType"],
            "roles": [row["permission"]],
            "grantedThrough": row["accessVia"],
        }

    def templates(self, req: Request, records: Sequence[dict[str, Any]]) -> Response:
        return self.page(req, records, self.template)

    def page(self, req: Request, items: Sequence[T], render: Callable[[T], Any]) -> Response:
        """OData as Graph pages: ``$top``, an opaque ``$skiptoken`` in ``@odata.nextLink``, and
        ``@odata.count`` only when asked with ``$count=true``. ``$skip`` is not Graph's: ignored."""
        errors: dict[str, list[str]] = {}
        top = _int_param(req, shapes.PAGE_TOP_PARAM, shapes.PAGE_DEFAULT, 1, errors)
        skip = 0
        token = req.query.get(SKIPTOKEN_PARAM)
        if token:
            offset = _offset(token)
            if offset is None:
                errors[SKIPTOKEN_PARAM] = [f"The value '{token}' is not a valid skip token."]
            else:
                skip = offset
        if errors:
            return self.invalid(req, errors)
        top = min(top, shapes.PAGE_MAX)
        body: dict[str, Any] = {}
        if str(req.query.get("$count", "")).lower() == "true":
            body["@odata.count"] = len(items)
        body["value"] = [render(i) for i in items[skip : skip + top]]
        if skip + top < len(items):
            query = dict(req.query)
            query[shapes.PAGE_TOP_PARAM] = str(top)
            query[SKIPTOKEN_PARAM] = _skiptoken(skip + top)
            body["@odata.nextLink"] = _link(req, query)
        return json_response(body)

    def webhook_body(self, envelope: dict[str, Any], ts: float) -> Any:
        content = {GRAPH_WEBHOOK_KEYS.get(k, k): v for k, v in envelope["content"].items()}
        return {**envelope, "content": content}

    def algorithm(self) -> str:
        return "sha256"


# --- pascal-problem-details --------------------------------------------------------------------


# Enums as numbers, in the order an ASP.NET enum would declare them.
REQUEST_STATUS_CODES = {
    shapes.REQUEST_PENDING: 0,
    shapes.REQUEST_APPROVED: 1,
    shapes.REQUEST_REJECTED: 2,
    shapes.REQUEST_IN_PROGRESS: 3,
    shapes.REQUEST_COMPLETED: 4,
    shapes.REQUEST_FAILED: 5,
    "Canceled": 6,  # declared by the dialect; the emulator never cancels
}
WORKSPACE_TYPE_CODES = {name: code for code, name in enumerate(shapes.WORKSPACE_TYPES)}
# Running, Succeeded, Failed: a job that has not started yet counts as Running.
JOB_STATUS_CODES = {
    shapes.JOB_NOT_STARTED: 0,
    shapes.JOB_IN_PROGRESS: 0,
    shapes.JOB_SUCCEEDED: 1,
    shapes.JOB_FAILED: 2,
}

# Problem "type" per status (the RFC 9110 sections ASP.NET Core links to).
_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}

# Request fields that are lists: model binding names them bare ("Owners"); scalar fields get
# System.Text.Json's path ("$.DisplayName"); metadata the bound parameter's ("body.Metadata.X").
_LIST_FIELDS = frozenset({"owners", "members", "groupIds", "siteUrls", "types"})
# Query parameters keep the name they were sent with.
_QUERY_FIELDS = frozenset({"groupType"})


def pascal_key(key: str) -> str:
    return key[:1].upper() + key[1:]


def pascal_case(value: Any) -> Any:
    """Every object key in PascalCase, recursively. Today's bodies have no data-keyed objects
    except a site's always-empty ``customMetadata``, so every key is a field name."""
    if isinstance(value, dict):
        return {pascal_key(k): pascal_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal_case(v) for v in value]
    return value


def pascal_error_key(key: str) -> str:
    """Today's 400 key (camelCase field, ``metadata.<name>``, ``$``, ``$top``) as this dialect
    names it: ``$.DisplayName``, ``Owners``, ``body.Metadata.Cost Center``."""
    if key.startswith("$") or key in _QUERY_FIELDS:
        return key
    if key == "metadata" or key.startswith("metadata."):
        return "body.Metadata" + key[len("metadata") :]
    if key in _LIST_FIELDS:
        return pascal_key(key)
    return "$." + pascal_key(key)


def dotnet_timestamp(ts: float) -> str:
    """A zoneless UTC timestamp with .NET's seven fractional digits: 2026-08-20T09:15:12.1234567."""
    ticks = min(int(ts % 1 * 10_000_000), 9_999_999)
    return f"{shapes.iso_zoneless(ts)}.{ticks:07d}"


def problem(
    req: Request, status: int, detail: str, *, title: str | None = None, trace: str | None = None
) -> dict[str, Any]:
    """RFC 9457 problem details, as ASP.NET Core writes them (plus its traceId)."""
    return {
        "type": _PROBLEM_TYPES.get(status, "about:blank"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": req.path,
        "traceId": trace or shapes.trace_id(),
    }


class Pascal(Dialect):
    """``pascal-problem-details``: today's shapes in PascalCase with numeric enums, lists in an
    ``Items`` envelope, and every error as problem details."""

    name = PASCAL
    duplicates_conflict = True

    def template(self, t: dict[str, Any]) -> Any:
        body = shapes.template(t)
        body["workspaceType"] = WORKSPACE_TYPE_CODES[body["workspaceType"]]
        return pascal_case(body)

    def group(self, g: dict[str, Any]) -> Any:
        return pascal_case(shapes.group(g))

    def site(self, s: dict[str, Any]) -> Any:
        return pascal_case(shapes.site(s))

    def request(self, r: dict[str, Any], now: float) -> Any:
        body = shapes.provisioning_request(r, now)
        body["status"] = REQUEST_STATUS_CODES[body["status"]]
        body["workspaceType"] = WORKSPACE_TYPE_CODES[body["workspaceType"]]
        return pascal_case(body)

    def job(self, j: dict[str, Any], now: float) -> Any:
        body = shapes.request_status(j, now)
        body["status"] = JOB_STATUS_CODES[body["status"]]
        return pascal_case(body)

    def row(self, job_type: str, row: dict[str, Any]) -> Any:
        # A user-access row's workspaceType (Site, MicrosoftTeam, ...) is another enum than
        # the templates' and stays a string.
        return pascal_case(row)

    def templates(self, req: Request, records: Sequence[dict[str, Any]]) -> Response:
        return self.page(req, records, self.template)

    def envelope(self, items: list[Any], total: int, next_link: str | None) -> Any:
        return {"Items": items, "TotalCount": total, "NextPageLink": next_link}

    def created(self, req: Request, r: dict[str, Any], now: float, location: str) -> Response:
        # 202 Accepted with the id alone, as a JSON string.
        return json_response(r["id"], status=202, headers={"Location": location})

    def error(
        self, req: Request, status: int, message: str, exception_type: str = shapes.DOMAIN_ERROR
    ) -> Response:
        return json_response(
            problem(req, status, message), status=status, headers={"Content-Type": PROBLEM_JSON}
        )

    def invalid(self, req: Request, errors: dict[str, list[str]]) -> Response:
        body = problem(
            req,
            400,
            "See the errors property for details.",
            title="One or more validation errors occurred.",
        )
        body["errors"] = {pascal_error_key(k): list(v) for k, v in errors.items()}
        return json_response(body, status=400, headers={"Content-Type": PROBLEM_JSON})

    def unsupported_media_type(self, req: Request) -> Response:
        detail = f"The content type '{req.headers.get('content-type', '')}' is not supported."
        return json_response(
            problem(req, 415, detail), status=415, headers={"Content-Type": PROBLEM_JSON}
        )

    def reshape_fault(self, req: Request, response: Response) -> Response:
        """The server's own JSON errors ({message, exceptionMessage} or {error, message,
        traceId}) as problem details; anything else (a malformed body) is left alone."""
        if response.status < 400:
            return response
        try:
            body = json.loads(response.body)
        except ValueError:
            return response
        if not isinstance(body, dict):
            return response
        detail = str(body.get("exceptionMessage") or body.get("message") or "")
        trace = body.get("traceId")
        headers = {**response.headers, "Content-Type": PROBLEM_JSON}
        return json_response(
            problem(req, response.status, detail, trace=str(trace) if trace else None),
            status=response.status,
            headers=headers,
        )

    def webhook_body(self, envelope: dict[str, Any], ts: float) -> Any:
        # Algorithm stays today's HMACSHA256 (the .NET class name).
        content = dict(envelope["content"])
        content["type"] = WORKSPACE_TYPE_CODES[content["type"]]
        body: dict[str, Any] = pascal_case({**envelope, "content": content})
        body["Meta"]["TimeStamp"] = dotnet_timestamp(ts)
        return body

    def options(self, body: dict[str, Any]) -> Any:
        return pascal_case(body)


# --- the switch --------------------------------------------------------------------------------


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Today(), Minimal(), Graph(), Pascal())}
NAMES = tuple(DIALECTS)

_SETTINGS = "point_dialects"


class UnknownDialect(ValueError):
    def __init__(self, name: object) -> None:
        super().__init__(f"Unknown dialect '{name}'; use one of: {', '.join(NAMES)}.")


def check(name: object) -> str:
    """``name`` if it is a dialect; raises UnknownDialect (a ValueError) listing the known."""
    if not isinstance(name, str) or name not in DIALECTS:
        raise UnknownDialect(name)
    return name


def settings(state: EmulatorState) -> dict[str, Any]:
    """The choices, kept in ``state.data`` (so the state file keeps them, like the timings).

    Rebuilt from the command line's default when missing (after ``/_control/reset``) or when
    they were saved under another default: a restart with a new ``--dialect`` must not be
    overridden by a choice made under the old one. Callers hold ``state.lock``.
    """
    startup = state.dialect
    current = state.data.get(_SETTINGS)
    if not isinstance(current, dict) or current.get("startup") != startup:
        current = {"startup": startup, "default": startup, "tenants": {}}
        state.data[_SETTINGS] = current
    return current


def for_tenant(state: EmulatorState, tenant_key: str) -> Dialect:
    """The dialect answering a Point request to ``tenant_key`` (slug, id or domain): the
    tenant's own choice, else the default. An unknown tenant gets the default."""
    with state.lock:
        chosen = settings(state)
        tenant = state.tenant(tenant_key)
        name = chosen["tenants"].get(str(tenant["slug"]).lower()) if tenant else None
        return DIALECTS.get(name or chosen["default"], DIALECTS[TODAY])


def choose(state: EmulatorState, name: str, tenant: dict[str, Any] | None = None) -> None:
    """Answer in ``name`` from now on: one tenant, or every tenant (which clears the tenants'
    own choices). Callers hold ``state.lock`` and save."""
    chosen = settings(state)
    if tenant is None:
        chosen["default"] = check(name)
        chosen["tenants"] = {}
    else:
        chosen["tenants"][str(tenant["slug"]).lower()] = check(name)


def view(state: EmulatorState) -> dict[str, Any]:
    """What ``GET /_control/dialect`` shows."""
    with state.lock:
        chosen = settings(state)
        return {
            "default": chosen["default"],
            "tenants": dict(chosen["tenants"]),
            "startup": chosen["startup"],
            "dialects": list(NAMES),
        }

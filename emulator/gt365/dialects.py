"""How the emulated GT365 answers, per tenant dialect (``/_control/gt365/dialect``).

- ``documented``: seed 001 literally: 201 with the serialized .NET HttpResponseMessage (the
  group's Location in its ``headers`` array), Graph-style ``{"error": {...}}`` errors, and the
  visibility error as one plain-text line.
- ``plain``: another faithful reading of a one-sample contract: 201 with a bare group in
  PascalCase (``Id``, ``DisplayName``, ``MailNickname``, ``Mail``) and every error as ASP.NET's
  ``{"Message": "..."}`` with the same words and status (the visibility error too).

Statuses are the same in both (assumed: the seed gives none for its errors): 401 for a token,
403 for a missing permission, 400 for the rest.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.server import Response, json_response

DOCUMENTED = "documented"
PLAIN = "plain"
NAMES = (DOCUMENTED, PLAIN)

NO_VISIBILITY = "No visibility (Private|Public) was provided or had a wrong label."
BAD_TOKEN = "CompactToken parsing failed with error code: 80049217"
_FAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway"}


@dataclass(frozen=True)
class Refusal:
    """An error to answer. ``code`` "" is a plain sentence (seed 001's visibility error)."""

    status: int
    code: str
    message: str
    target: str = ""
    detail_code: str = ""


def bad_property(name: str, code: str) -> Refusal:
    """Graph's refusal of a property (seed 001: classification InvalidValue, mailNickname
    ObjectConflict)."""
    if code == "ObjectConflict":
        message = f"Another object with the same value for property {name} already exists."
    else:
        message = f"Property {name} has an invalid value."
    return Refusal(400, "Request_BadRequest", message, name, code)


def _graph_error(code: str, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "innerError": {
            "request-id": str(uuid.uuid4()),
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        },
    }


def answer_error(dialect: str, refusal: Refusal) -> Response:
    if dialect == PLAIN:
        return json_response({"Message": refusal.message}, status=refusal.status)
    if not refusal.code:
        return Response(
            refusal.status,
            refusal.message.encode(),
            {"Content-Type": "text/plain; charset=utf-8"},
        )
    error = _graph_error(refusal.code, refusal.message)
    if refusal.target:
        error["details"] = [{"target": refusal.target, "code": refusal.detail_code}]
    return json_response({"error": error}, status=refusal.status)


def _version(major: int, minor: int) -> dict[str, int]:
    return {
        "major": major,
        "minor": minor,
        "build": -1,
        "revision": -1,
        "majorRevision": -1,
        "minorRevision": -1,
    }


def _headers(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"key": key, "value": [value]} for key, value in pairs]


def wrapped_created(tenant: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
    """Seed 001's 201 body: Graph's answer to GT365, serialized as an HttpResponseMessage."""
    request_id = str(uuid.uuid4())
    location = (
        f"https://graph.microsoft.com/v2/{tenant['id']}/directoryObjects/{group['id']}"
        "/Microsoft.DirectoryServices.Group"
    )
    return {
        "version": _version(1, 1),
        "content": {
            "headers": _headers(
                [("Content-Type", "application/json; odata.metadata=minimal; charset=utf-8")]
            )
        },
        "statusCode": 201,
        "reasonPhrase": "Created",
        "headers": _headers(
            [
                ("Cache-Control", "private"),
                ("Transfer-Encoding", "chunked"),
                ("Location", location),
                ("request-id", request_id),
                ("client-request-id", request_id),
                ("OData-Version", "4.0"),
                ("Date", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")),
            ]
        ),
        "requestMessage": {
            "version": _version(2, 0),
            "content": {"headers": _headers([("Content-Type", "application/json; charset=utf-8")])},
            "method": {"method": "POST"},
            "requestUri": "https://graph.microsoft.com/v1.0/groups",
            "headers": _headers([("Authorization", "Bearer {some-value}")]),
            "properties": {},
        },
        "isSuccessStatusCode": True,
    }


def answer_created(dialect: str, tenant: dict[str, Any], group: dict[str, Any]) -> Response:
    if dialect == PLAIN:
        bare = {
            "Id": group["id"],
            "DisplayName": group["displayName"],
            "MailNickname": group["mailNickname"],
            "Mail": group["mail"],
        }
        return json_response(bare, status=201)
    return json_response(wrapped_created(tenant, group), status=201)


def reshape_fault(dialect: str, response: Response) -> Response:
    """An error the server made itself (fault, throttle, crash), in the dialect's shape; the
    headers (Retry-After) are kept."""
    try:
        sent = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(sent, dict) or response.status < 400:
        return response
    message = str(sent.get("exceptionMessage") or sent.get("message") or "An error occurred.")
    if dialect == PLAIN:
        body: dict[str, Any] = {"Message": message}
    else:
        code = _FAULT_CODES.get(response.status, "ServiceUnavailable")
        body = {"error": _graph_error(code, message)}
    shaped = json_response(body, status=response.status)
    shaped.headers = {**response.headers, **shaped.headers}
    return shaped

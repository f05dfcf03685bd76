"""HTTP to one Point instance: the upstream layer's HTTP loop (upstreams/http.py: timeouts, the
bearer token, bounded retries honouring Retry-After, OutcomeUnknown for a write that may have
arrived, one token renewal on 401) with Point's errors, plus Point's paging.

Redirects are not followed: a status poll must see the 302 that means "done"
(docs/point-contract.md §6.1). A 2xx or 3xx to a provisioning POST is an answer whatever its
body: Point accepted the request, so an unreadable body is handed back (``Answer.unreadable``),
never an error (§3.2). What is retried: 429 (rate limits are not documented, §8), 5xx,
connection errors and malformed JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from upstreams import http
from upstreams.contract import (
    AlreadyExists,
    AuthenticationFailed,
    Conflict,
    Connection,
    Invalid,
    NotFound,
    PermissionMissing,
    UpstreamError,
)
from upstreams.http import Answer, backoff, retry_after
from upstreams.point import wire

__all__ = ["Answer", "ListStats", "backoff", "call", "iter_pages", "list_answer", "retry_after"]

logger = logging.getLogger(__name__)

# One pool of connections for every tenant (requests keeps them per host). Tests replace it.
_session: http.Session = requests.Session()

LABEL = "Point"


@dataclass
class ListStats:
    """What iter_pages learnt of a list while reading it: the total of its first page (when
    Point says) and how many pages were read."""

    total: int | None = None
    pages: int = 0


class _Point:
    """How Point's answers read (http.Api)."""

    label = LABEL

    def error_message(self, data: Any, *, status: int, reason: str) -> str:
        return wire.error_message(data, status=status, reason=reason)

    def unauthorized(self, request: http.Request) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"Point rejected the portal's token for {request.name} (401).",
            guidance="The token was issued for another app: check the Point API app ID (the "
            '"Syskit Point API" app registration of this tenant) and the Point API URL.',
            status=401,
        )

    def refused(self, response: requests.Response, request: http.Request) -> UpstreamError:
        status = response.status_code
        data = http.decoded(response)
        reason = response.reason or ""
        if status == 403:
            return PermissionMissing(
                f"The portal's app registration lacks the Point permission "
                f"{request.permission} (needed for {request.name}).",
                permission=request.permission,
                guidance="In Entra ID > App registrations > the portal's app > API permissions, "
                f"add the application permission {request.permission} of the "
                '"Syskit Point API", then select "Grant admin consent".',
            )
        if status in (400, 422):
            return Invalid(wire.field_errors(data, status=status, reason=reason), status=status)
        message = wire.error_message(data, status=status, reason=reason)
        if status == 404:
            return NotFound(message, status=404)
        if status == 409:
            # A duplicate name, URL or alias (and the request that holds it, when said) is told
            # apart from other conflicts (a report not ready): the send adopts its own (§8).
            is_duplicate, existing_id = wire.duplicate(data, message)
            if is_duplicate:
                return AlreadyExists(message, existing_id=existing_id, status=409)
            return Conflict(message, status=409)
        return UpstreamError(f"Point answered {status} to {request.name}: {message}", status=status)


_API = _Point()


def absolute_url(connection: Connection, path_or_url: str) -> str:
    return http.absolute_url(connection, path_or_url, label=LABEL)


def call(connection: Connection, method: str, path_or_url: str, **options: Any) -> Answer:
    """One Point call (upstreams.http.call with Point's errors). ``options``: those of upstreams.http.call (permission, params, body,
    safe_to_repeat, expect_json, headers)."""
    return http.call(_API, _session, connection, method, path_or_url, **options)


def list_answer(answer: Answer, *, lone_object: bool = False) -> wire.ListShape:
    """The page an answer holds; 204 No Content is an empty list."""
    if answer.status == 204:
        return wire.ListShape([], bare=True)
    return wire.list_shape(answer.data, lone_object=lone_object)


def iter_pages(
    connection: Connection,
    path: str,
    *,
    permission: str,
    params: Mapping[str, Any] | None = None,
    lone_object: bool = False,
    stats: ListStats | None = None,
) -> Iterator[Mapping[str, Any]]:
    """Every item of a (possibly paged) list (docs/point-contract.md §7).

    Pages are followed by their next link (``@odata.nextLink``, ``NextPageLink``, ``next``...);
    a link may be relative (resolved against the page it came in) but must stay on the base
    URL's origin, and a link seen before ends in an error instead of a loop. A page with a total
    but no link is followed by ``$skip`` while items are missing; if Point ignores ``$skip``
    (the same first item again) reading stops there. ``lone_object``: an object that is no page
    is a list of one (see wire.list_shape). ``stats`` learns the total and the pages read.
    Callers bound how much they read (islice).
    """
    first_url = url = absolute_url(connection, path)
    answer = call(connection, "GET", url, permission=permission, params=params)
    shape = list_answer(answer, lone_object=lone_object)
    if stats is not None:
        stats.total, stats.pages = shape.total, 1
    yield from shape.items
    first_item = shape.items[0] if shape.items else None
    read = len(shape.items)
    total = shape.total
    seen = {url}
    while True:
        if shape.next_link:
            url = urljoin(url, shape.next_link)
            if url in seen:
                raise UpstreamError(
                    "Point sent a paging link that points back to a page already read."
                )
            seen.add(url)
            answer = call(connection, "GET", url, permission=permission)
        elif not shape.bare and shape.items and total is not None and read < total:
            start = int((params or {}).get("$skip", 0) or 0) + read
            answer = call(
                connection,
                "GET",
                first_url,
                permission=permission,
                params={**(params or {}), "$skip": start},
            )
        else:
            return
        shape = list_answer(answer)
        if stats is not None:
            stats.pages += 1
        if not shape.items:
            return
        if not shape.next_link and shape.items[0] == first_item:
            logger.warning(
                "Point %s: $skip ignored; the list ends here", http.endpoint(connection, url)
            )
            return
        read += len(shape.items)
        yield from shape.items

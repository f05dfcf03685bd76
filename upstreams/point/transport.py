"""HTTP to one Point instance: timeouts, the bearer token, retries and neutral errors.

One call is a loop of three small steps:

1. ``_send``: one attempt, with ``timeout=(connect, read)`` and redirects off (a status poll
   must see the 302 that means "done", docs/point-contract.md §6.1, and the token must never
   follow a redirect to another host);
2. ``_classify``: the answer becomes an Answer, a reason to try again (``_Again``), or a
   neutral error of upstreams.contract;
3. ``_Retries.pause``: bounded retries with exponential back-off and jitter, Retry-After
   honoured (capped), all waiting within the connection's retry budget.

What is retried: 429 (rate limits are not documented, §8; treated as retryable), 5xx,
connection errors and malformed JSON. A POST that is not safe to repeat (a provisioning
request) is never sent twice once it may have arrived: it raises OutcomeUnknown and the caller
looks the request up first. But a 2xx (or 3xx) to it is an answer whatever its body: Point
accepted the request, so an unreadable body is handed back (``Answer.unreadable``), never an
error (§3.2). A 401 gets one fresh token.

Tokens: only in the Authorization header, never in a message or a log line; the local
variables holding one are named ``token`` so the portal's error-report scrubbing hides them.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NameResolutionError, NewConnectionError

from upstreams.contract import (
    AlreadyExists,
    AuthenticationFailed,
    Conflict,
    Connection,
    Invalid,
    NotFound,
    OutcomeUnknown,
    PermissionMissing,
    Throttled,
    TokenSource,
    Unavailable,
    UpstreamError,
)
from upstreams.point import wire

logger = logging.getLogger(__name__)

# One pool of connections for every tenant (requests keeps them per host). Tests replace it.
_session = requests.Session()

# The exponent of the back-off stops growing here: 2**32 back-off units already exceed any
# retry budget, and a larger power could overflow a float.
_MAX_BACKOFF_EXPONENT = 32

# Configuration errors: the request never left, and sending it again cannot help.
_NOT_SENDABLE = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status (2xx, or 3xx since redirects are not followed), the
    decoded JSON (None when empty or not asked for) and the headers (any case).

    ``unreadable``: the body of a write that must not be repeated was not JSON; ``text`` holds
    its first characters (a plain-text id, perhaps). Only such writes get one (§3.2).
    """

    status: int
    data: Any
    headers: Mapping[str, str]
    unreadable: bool = False
    text: str = ""


@dataclass
class ListStats:
    """What iter_pages learnt of a list while reading it: the total of its first page (when
    Point says) and how many pages were read."""

    total: int | None = None
    pages: int = 0


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    path: str  # for messages and logs (see _endpoint)
    permission: str
    params: Mapping[str, Any] | None
    body: Any
    repeatable: bool
    expect_json: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class _Again:
    """Try the call again: ``problem`` says why (for the message if we give up); ``wait`` is
    the upstream's Retry-After (None: back-off only); ``throttled``: it was a 429."""

    problem: str
    wait: float | None = None
    throttled: bool = False


# --- Addresses ----------------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def absolute_url(connection: Connection, path_or_url: str) -> str:
    """The URL of a path under the base URL, or an absolute URL (a paging link) checked to be
    on the base URL's origin: the bearer token goes with it and must never leave Point."""
    if not path_or_url.startswith(("http://", "https://")):
        return connection.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")
    if _origin(path_or_url) != _origin(connection.base_url):
        raise UpstreamError(
            f"Refusing to follow a link to another host ({_origin(path_or_url)[1]}): the "
            "portal's token is only sent to the tenant's Point."
        )
    return path_or_url


def _endpoint(connection: Connection, url: str) -> str:
    """The path of ``url`` under the base URL ("/v1.0/groups"), for messages and logs: no host
    and no query (a query may hold a person's search term)."""
    path = urlsplit(url).path
    base = urlsplit(connection.base_url).path.rstrip("/")
    return path[len(base) :] if base and path.startswith(base + "/") else path


# --- Retry policy -------------------------------------------------------------------------------


def retry_after(value: str | None, *, limit: float) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date, at most ``limit``.

    None when absent or unparseable (the back-off applies instead). A huge or far-future value
    neither stalls a call for hours (the cap) nor overflows (a float, never a date sum).
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        seconds = float(text)  # inf for absurdly many digits, which the cap then bounds
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(0.0, seconds), max(0.0, limit))


def backoff(connection: Connection, retry: int) -> float:
    """Exponential back-off with jitter: ``backoff * 2**retry``, between half and all of it
    (the jitter spreads the retries of many workers hit by the same outage)."""
    ceiling = connection.backoff * 2.0 ** min(max(retry, 0), _MAX_BACKOFF_EXPONENT)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class _Retries:
    """How many retries one call has made and how long it has waited; ``pause`` waits before
    the next attempt or raises when the limits are spent."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.count = 0
        self.waited = 0.0

    def pause(self, again: _Again, request: _Request) -> None:
        connection = self.connection
        delay = max(again.wait or 0.0, backoff(connection, self.count))
        spent = self.count >= connection.max_retries
        over_budget = self.waited + delay > connection.retry_budget
        if again.throttled and (spent or over_budget):
            raise Throttled(
                f"Point is throttling the portal ({request.name}); try again "
                + (f"in {int(again.wait)} s." if again.wait is not None else "later."),
                retry_after=again.wait,
            )
        if spent:
            raise Unavailable(
                f"Point {again.problem} for {request.name}, {self.count + 1} times; giving up. "
                "Try again later; if it persists, check the tenant's Point API URL and "
                "Point's status."
            )
        if over_budget:
            raise Unavailable(
                f"Point {again.problem} for {request.name}; giving up after {self.count + 1} "
                f"attempts (retry budget of {connection.retry_budget:g} s spent)."
            )
        connection.sleep(delay)
        self.waited += delay
        self.count += 1


# --- One attempt --------------------------------------------------------------------------------


def _send(request: _Request, connection: Connection, token: str) -> requests.Response:
    """One HTTP attempt. Raises requests.RequestException when no answer came."""
    return _session.request(
        request.method,
        request.url,
        params=request.params,
        json=request.body,
        timeout=(connection.connect_timeout, connection.read_timeout),
        allow_redirects=False,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def _never_arrived(error: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (safe to send again)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _decoded(response: requests.Response) -> Any:
    """The JSON of an error answer, or None (an error body is read for its words only)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _no_answer(error: requests.RequestException, request: _Request) -> _Again:
    """A connection error, timeout or broken transfer: retry, unless a write may have landed."""
    kind = type(error).__name__
    if isinstance(error, _NOT_SENDABLE):
        raise UpstreamError(
            f"The Point API URL is not usable for {request.name} ({kind}): check the tenant's "
            "Point API URL."
        ) from None
    if not request.repeatable and not _never_arrived(error):
        logger.warning("Point %s: no answer (%s); outcome unknown", request.name, kind)
        raise OutcomeUnknown(
            f"Point did not answer {request.name} ({kind}): it may or may not have been "
            "carried out."
        ) from None
    problem = (
        "timed out" if isinstance(error, requests.Timeout) else f"could not be reached ({kind})"
    )
    logger.warning("Point %s: %s", request.name, problem)
    return _Again(problem)


def _refused(response: requests.Response, request: _Request) -> UpstreamError:
    """The error for a 4xx other than 401 and 429 (those two are handled by the loop)."""
    status = response.status_code
    data = _decoded(response)
    reason = response.reason or ""
    if status == 403:
        return PermissionMissing(
            f"The portal's app registration lacks the Point permission {request.permission} "
            f"(needed for {request.name}).",
            permission=request.permission,
            guidance="In Entra ID > App registrations > the portal's app > API permissions, "
            f'add the application permission {request.permission} of the "Syskit Point API", '
            'then select "Grant admin consent".',
        )
    if status in (400, 422):
        return Invalid(wire.field_errors(data, status=status, reason=reason), status=status)
    message = wire.error_message(data, status=status, reason=reason)
    if status == 404:
        return NotFound(message, status=404)
    if status == 409:
        # A duplicate name, URL or alias (and the request that holds it, when said) is told
        # apart from other conflicts (a report not ready): the send adopts its own request (§8).
        is_duplicate, existing_id = wire.duplicate(data, message)
        if is_duplicate:
            return AlreadyExists(message, existing_id=existing_id, status=409)
        return Conflict(message, status=409)
    return UpstreamError(f"Point answered {status} to {request.name}: {message}", status=status)


def _classify(
    response: requests.Response, request: _Request, connection: Connection
) -> Answer | _Again:
    """What an answer means: success, try again, or a neutral error (raised). A 401 here is
    the second one (the loop renews the token once before)."""
    status = response.status_code
    if status == 401:
        raise AuthenticationFailed(
            f"Point rejected the portal's token for {request.name} (401).",
            guidance="The token was issued for another app: check the Point API app ID (the "
            '"Syskit Point API" app registration of this tenant) and the Point API URL.',
            status=401,
        )
    if status == 429:
        wait = retry_after(response.headers.get("Retry-After"), limit=connection.retry_after_max)
        logger.info("Point %s: 429, Retry-After %s", request.name, wait)
        return _Again("throttled (429)", wait=wait, throttled=True)
    if status >= 500:
        logger.warning("Point %s: %s", request.name, status)
        if not request.repeatable:
            raise OutcomeUnknown(
                f"Point answered {status} to {request.name}: it may or may not have been "
                "carried out.",
                status=status,
            )
        message = wire.error_message(_decoded(response), status=status, reason=response.reason)
        return _Again(f"answered {status}: {message}")
    if status >= 400:
        logger.info("Point %s: %s", request.name, status)
        raise _refused(response, request)
    return _success(response, request)


def _success(response: requests.Response, request: _Request) -> Answer | _Again:
    """A 2xx or 3xx: its JSON. A broken body is retried on a call that may be repeated; on a
    write that may not, it is still an answer (Point accepted the write, §3.2): handed back as
    unreadable, with its first characters, for the caller to read what it can."""
    headers = CaseInsensitiveDict(response.headers)
    data: Any = None
    if request.expect_json and response.content:
        try:
            data = response.json()
        except ValueError:
            if not request.repeatable:
                logger.warning("Point %s: accepted, with a body that is not JSON", request.name)
                text = response.content[:200].decode("utf-8", errors="replace")
                return Answer(response.status_code, None, headers, unreadable=True, text=text)
            logger.warning("Point %s: malformed JSON", request.name)
            return _Again("sent a malformed JSON answer")
    return Answer(response.status_code, data, headers)


# --- The call -----------------------------------------------------------------------------------


def _fresh_token(tokens: TokenSource, rejected: str) -> str:
    """After a 401: forget the rejected token and get a new one (it may have been revoked or
    issued before a permission change). Raises AuthenticationFailed."""
    tokens.rejected(rejected)
    return tokens.token(fresh=True)


def call(
    connection: Connection,
    method: str,
    path_or_url: str,
    *,
    permission: str,
    params: Mapping[str, Any] | None = None,
    body: Any = None,
    safe_to_repeat: bool | None = None,
    expect_json: bool = True,
) -> Answer:
    """One Point call with timeouts, retries and neutral errors (see the module docstring).

    ``path_or_url``: a path under the connection's base URL, or a paging link on its origin.
    ``permission``: the application permission the endpoint needs (named by PermissionMissing).
    ``safe_to_repeat`` defaults to True for everything but POST: a POST that may have arrived
    is then never sent twice (OutcomeUnknown instead).
    """
    method = method.upper()
    url = absolute_url(connection, path_or_url)
    request = _Request(
        method=method,
        url=url,
        path=_endpoint(connection, url),
        permission=permission,
        params=params,
        body=body,
        repeatable=method != "POST" if safe_to_repeat is None else safe_to_repeat,
        expect_json=expect_json,
    )
    retries = _Retries(connection)
    token = connection.tokens.token()
    renewed = False
    while True:
        try:
            response = _send(request, connection, token)
        except requests.RequestException as error:
            outcome: Answer | _Again = _no_answer(error, request)
        else:
            if response.status_code == 401 and not renewed:
                renewed = True
                token = _fresh_token(connection.tokens, token)
                continue
            outcome = _classify(response, request, connection)
        if isinstance(outcome, Answer):
            return outcome
        retries.pause(outcome, request)


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
                "Point %s: $skip ignored; the list ends here", _endpoint(connection, url)
            )
            return
        read += len(shape.items)
        yield from shape.items

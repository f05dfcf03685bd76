"""HTTP to an upstream API: timeouts, the bearer token, retries and neutral errors.

Every upstream package's transport (Point, GT365, Microsoft Graph) is this loop plus an ``Api``
saying how its errors read. One call is three small steps:

1. ``_send``: one attempt, with ``timeout=(connect, read)`` and redirects off (a Point status
   poll must see the 302 that means "done", and the token must never follow a redirect to
   another host);
2. ``_classify``: the answer becomes an Answer, a reason to try again (``_Again``), or a
   neutral error of upstreams.contract (4xx other than 401 and 429: ``Api.refused``);
3. ``_Retries.pause``: bounded retries with exponential back-off and jitter, Retry-After
   honoured (capped), all waiting within the connection's retry budget.

What is retried: 429, 5xx, connection errors and malformed JSON. A POST that is not safe to
repeat (a provisioning request) is never sent twice once it may have arrived: it raises
OutcomeUnknown and the caller looks the request up first. A 2xx (or 3xx) to it is an answer
whatever its body (``Answer.unreadable``), never an error. A 401 gets one fresh token.

Tokens: only in the Authorization header, never in a message or a log line; the local
variables holding one are named ``token`` so the portal's error-report scrubbing hides them.
"""

from __future__ import annotations

import email.utils
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NameResolutionError, NewConnectionError

from upstreams.contract import (
    AuthenticationFailed,
    Connection,
    OutcomeUnknown,
    Throttled,
    TokenSource,
    Unavailable,
    UpstreamError,
)

logger = logging.getLogger(__name__)

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


# A requests.Session, or what tests script in its place (anything with ``request``).
Session = Any


@dataclass(frozen=True)
class Request:
    """One call as the loop and the Api see it. ``path`` is for messages and logs."""

    method: str
    url: str
    path: str
    permission: str
    params: Mapping[str, Any] | None
    body: Any
    repeatable: bool
    expect_json: bool
    headers: Mapping[str, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class Api(Protocol):
    """How one upstream's answers read: its name and its refusals."""

    label: str  # "Point", "Microsoft Graph", "GT365"

    def refused(self, response: requests.Response, request: Request) -> UpstreamError:
        """The error for a 4xx other than 401 and 429."""
        ...

    def error_message(self, data: Any, *, status: int, reason: str) -> str:
        """The upstream's words for an error answer (``data``: its JSON or None)."""
        ...

    def unauthorized(self, request: Request) -> AuthenticationFailed:
        """The error for a second 401 (after one fresh token)."""
        ...


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status (2xx, or 3xx since redirects are not followed), the
    decoded JSON (None when empty or not asked for) and the headers (any case).

    ``unreadable``: the body of a write that must not be repeated was not JSON; ``text`` holds
    its first characters (a plain-text id, perhaps). Only such writes get one.
    """

    status: int
    data: Any
    headers: Mapping[str, str]
    unreadable: bool = False
    text: str = ""


@dataclass(frozen=True)
class _Again:
    """Try the call again: ``problem`` says why (for the message if we give up); ``wait`` is
    the upstream's Retry-After (None: back-off only); ``throttled``: it was a 429."""

    problem: str
    wait: float | None = None
    throttled: bool = False


# --- Addresses ----------------------------------------------------------------------------------


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def absolute_url(connection: Connection, path_or_url: str, *, label: str = "upstream") -> str:
    """The URL of a path under the base URL, or an absolute URL (a paging link, a Location)
    checked to be on the base URL's origin: the bearer token goes with it and must never leave
    the upstream."""
    if not path_or_url.startswith(("http://", "https://")):
        return connection.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")
    if origin(path_or_url) != origin(connection.base_url):
        raise UpstreamError(
            f"Refusing to follow a link to another host ({origin(path_or_url)[1]}): the "
            f"portal's token is only sent to the tenant's {label}."
        )
    return path_or_url


def endpoint(connection: Connection, url: str) -> str:
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
    # Jitter spreads retries; nothing secret depends on it (bandit B311).
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # nosec B311


class _Retries:
    """How many retries one call has made and how long it has waited; ``pause`` waits before
    the next attempt or raises when the limits are spent."""

    def __init__(self, connection: Connection, label: str) -> None:
        self.connection = connection
        self.label = label
        self.count = 0
        self.waited = 0.0

    def pause(self, again: _Again, request: Request) -> None:
        connection, label = self.connection, self.label
        delay = max(again.wait or 0.0, backoff(connection, self.count))
        spent = self.count >= connection.max_retries
        over_budget = self.waited + delay > connection.retry_budget
        if again.throttled and (spent or over_budget):
            raise Throttled(
                f"{label} is throttling the portal ({request.name}); try again "
                + (f"in {int(again.wait)} s." if again.wait is not None else "later."),
                retry_after=again.wait,
            )
        if spent:
            raise Unavailable(
                f"{label} {again.problem} for {request.name}, {self.count + 1} times; giving "
                f"up. Try again later; if it persists, check the tenant's {label} API URL and "
                f"{label}'s status."
            )
        if over_budget:
            raise Unavailable(
                f"{label} {again.problem} for {request.name}; giving up after {self.count + 1} "
                f"attempts (retry budget of {connection.retry_budget:g} s spent)."
            )
        connection.sleep(delay)
        self.waited += delay
        self.count += 1


# --- One attempt --------------------------------------------------------------------------------


def _send(
    session: Session, request: Request, connection: Connection, token: str
) -> requests.Response:
    """One HTTP attempt. Raises requests.RequestException when no answer came."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    headers.update(request.headers or {})
    return session.request(
        request.method,
        request.url,
        params=request.params,
        json=request.body,
        timeout=(connection.connect_timeout, connection.read_timeout),
        allow_redirects=False,
        headers=headers,
    )


def _never_arrived(error: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (safe to send again)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError | NameResolutionError)


def decoded(response: requests.Response) -> Any:
    """The JSON of an error answer, or None (an error body is read for its words only)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _no_answer(error: requests.RequestException, request: Request, label: str) -> _Again:
    """A connection error, timeout or broken transfer: retry, unless a write may have landed."""
    kind = type(error).__name__
    if isinstance(error, _NOT_SENDABLE):
        raise UpstreamError(
            f"The {label} API URL is not usable for {request.name} ({kind}): check the "
            f"tenant's {label} API URL."
        ) from None
    if not request.repeatable and not _never_arrived(error):
        logger.warning("%s %s: no answer (%s); outcome unknown", label, request.name, kind)
        raise OutcomeUnknown(
            f"{label} did not answer {request.name} ({kind}): it may or may not have been "
            "carried out."
        ) from None
    problem = (
        "timed out" if isinstance(error, requests.Timeout) else f"could not be reached ({kind})"
    )
    logger.warning("%s %s: %s", label, request.name, problem)
    return _Again(problem)


def _classify(
    api: Api, response: requests.Response, request: Request, connection: Connection
) -> Answer | _Again:
    """What an answer means: success, try again, or a neutral error (raised). A 401 here is
    the second one (the loop renews the token once before)."""
    status, label = response.status_code, api.label
    if status == 401:
        raise api.unauthorized(request)
    if status == 429:
        wait = retry_after(response.headers.get("Retry-After"), limit=connection.retry_after_max)
        logger.info("%s %s: 429, Retry-After %s", label, request.name, wait)
        return _Again("throttled (429)", wait=wait, throttled=True)
    if status >= 500:
        logger.warning("%s %s: %s", label, request.name, status)
        if not request.repeatable:
            raise OutcomeUnknown(
                f"{label} answered {status} to {request.name}: it may or may not have been "
                "carried out.",
                status=status,
            )
        message = api.error_message(decoded(response), status=status, reason=response.reason)
        return _Again(f"answered {status}: {message}")
    if status >= 400:
        logger.info("%s %s: %s", label, request.name, status)
        raise api.refused(response, request)
    return _success(response, request, label)


def _success(response: requests.Response, request: Request, label: str) -> Answer | _Again:
    """A 2xx or 3xx: its JSON. A broken body is retried on a call that may be repeated; on a
    write that may not, it is still an answer (the upstream accepted the write): handed back as
    unreadable, with its first characters, for the caller to read what it can."""
    headers = CaseInsensitiveDict(response.headers)
    data: Any = None
    if request.expect_json and response.content:
        try:
            data = response.json()
        except ValueError:
            if not request.repeatable:
                logger.warning("%s %s: accepted, with a body that is not JSON", label, request.name)
                text = response.content[:200].decode("utf-8", errors="replace")
                return Answer(response.status_code, None, headers, unreadable=True, text=text)
            logger.warning("%s %s: malformed JSON", label, request.name)
            return _Again("sent a malformed JSON answer")
    return Answer(response.status_code, data, headers)


# --- The call -----------------------------------------------------------------------------------


def _fresh_token(tokens: TokenSource, rejected: str) -> str:
    """After a 401: forget the rejected token and get a new one (it may have been revoked or
    issued before a permission change). Raises AuthenticationFailed."""
    tokens.rejected(rejected)
    return tokens.token(fresh=True)


def call(
    api: Api,
    session: Session,
    connection: Connection,
    method: str,
    path_or_url: str,
    *,
    permission: str,
    params: Mapping[str, Any] | None = None,
    body: Any = None,
    safe_to_repeat: bool | None = None,
    expect_json: bool = True,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One call with timeouts, retries and neutral errors (see the module docstring).

    ``path_or_url``: a path under the connection's base URL, or a link on its origin.
    ``permission``: the application permission the endpoint needs (named by PermissionMissing).
    ``safe_to_repeat`` defaults to True for everything but POST: a POST that may have arrived
    is then never sent twice (OutcomeUnknown instead).
    """
    method = method.upper()
    url = absolute_url(connection, path_or_url, label=api.label)
    request = Request(
        method=method,
        url=url,
        path=endpoint(connection, url),
        permission=permission,
        params=params,
        body=body,
        repeatable=method != "POST" if safe_to_repeat is None else safe_to_repeat,
        expect_json=expect_json,
        headers=headers,
    )
    retries = _Retries(connection, api.label)
    token = connection.tokens.token()
    renewed = False
    while True:
        try:
            response = _send(session, request, connection, token)
        except requests.RequestException as error:
            outcome: Answer | _Again = _no_answer(error, request, api.label)
        else:
            if response.status_code == 401 and not renewed:
                renewed = True
                token = _fresh_token(connection.tokens, token)
                continue
            outcome = _classify(api, response, request, connection)
        if isinstance(outcome, Answer):
            return outcome
        retries.pause(outcome, request)

"""HTTP client for the Syskit Point API: the only module that calls it.

Reference: shared/reference/syskit-point-api.md (sections 2-7) and docs/emulator-point.md.
Every call:
- takes the tenant (its base URL and credentials) and gets the shared app token from
  tenants.tokens;
- has a (connect, read) timeout from settings;
- retries 5xx answers, connection errors, malformed JSON and 429 (honouring Retry-After, in
  seconds or as an HTTP date) with exponential back-off and jitter, at most POINT_MAX_RETRIES
  times and POINT_RETRY_BUDGET seconds of waiting;
- never blindly repeats a POST that may have reached Point and is not safe to repeat (a
  provisioning request): it raises OutcomeUnknown so the caller looks the request up first;
- parses answers into dataclasses here, at the boundary, and raises typed PointErrors, each
  with `retryable`. Tokens and secrets never appear in logs or errors.

Callers import the module: `from provisioning import point` then `point.list_templates(t)`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from urllib3.exceptions import NameResolutionError, NewConnectionError

from tenants import tokens
from tenants.models import Tenant

logger = logging.getLogger(__name__)

API_VERSION = "v1.0"

# The app roles of the documented permission matrix (syskit-point-api.md 2.2).
SHAREPOINT_READ_ALL = "SharePoint.Read.All"
ASYNC_REQUESTS = "Point.AsyncRequests"
PROVISIONING = "Point.Provisioning"
ADMIN = "Point.Admin"
READ_OR_ASYNC = f"{SHAREPOINT_READ_ALL} or {ASYNC_REQUESTS}"

# Provisioning endpoint per workload ("teams", "groups", "sites", "yammer").
WORKLOAD_ENDPOINTS = ("teams", "groups", "sites", "yammer")

# Tests patch this to record waits instead of sleeping.
_sleep = time.sleep
_session = requests.Session()


# --- Errors ------------------------------------------------------------------------------------


class PointError(Exception):
    """A failed Point call. `retryable`: trying the same call later may succeed."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def problem_text(error: PointError) -> str:
    """What went wrong, in Point's (or this client's) words, plus what to do when we know
    (AuthenticationError and PermissionMissing carry guidance for an admin)."""
    return f"{error.message} {getattr(error, 'guidance', '')}".strip()


class AuthenticationError(PointError):
    """No token (see `token_error` and `guidance`), or Point rejected the token (401)."""

    def __init__(
        self,
        message: str,
        *,
        guidance: str = "",
        status: int | None = None,
        token_error: tokens.TokenError | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.guidance = guidance
        self.token_error = token_error
        self.retryable = bool(token_error and token_error.retryable)


class PermissionMissing(PointError):
    """403: the app registration lacks the app role `permission` (or was not consented)."""

    def __init__(self, permission: str, path: str) -> None:
        super().__init__(
            f"The portal's app registration lacks the Point permission {permission} (needed for {path}).",
            status=403,
        )
        self.permission = permission
        self.guidance = (
            f"In Entra ID > App registrations > the portal's app > API permissions, add the "
            f"application permission {permission} of the Syskit Point API and grant admin consent."
        )


class ValidationFailed(PointError):
    """400: `errors` maps a request field ("" for the whole request) to its messages."""

    def __init__(self, errors: dict[str, list[str]], *, status: int = 400) -> None:
        details = "; ".join(f"{k or 'request'}: {' '.join(v)}" for k, v in errors.items())
        super().__init__(f"Point refused the request: {details}", status=status)
        self.errors = errors


class NotFound(PointError):
    pass


class Conflict(PointError):
    """409: e.g. an async result that is not ready, or a job that failed."""


class Throttled(PointError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class Unavailable(PointError):
    """Point could not be reached, timed out, or kept answering 5xx / broken JSON."""

    retryable = True


class OutcomeUnknown(PointError):
    """A POST may have reached Point but no answer came: look it up before sending it again."""

    retryable = False


# --- Typed responses ----------------------------------------------------------------------------


def _str_id(data: dict[str, Any]) -> str:
    value = data.get("id", data.get("requestId"))
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    workspace_type: str
    is_automatic: bool | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Template:
        approval = data.get("approvalProcess") or {}
        automatic = approval.get("isAutomatic") if isinstance(approval, dict) else None
        return cls(
            id=_str_id(data),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            workspace_type=str(data.get("workspaceType") or ""),
            is_automatic=automatic if isinstance(automatic, bool) else None,
            raw=data,
        )


@dataclass(frozen=True)
class NewWorkspace:
    """The body of POST /provision/{workload} (documented fields; metadata/desiredEmail proposed)."""

    template_id: int
    display_name: str
    owners: list[str]
    members: list[str] = field(default_factory=list)
    desired_url: str | None = None
    description: str | None = None
    comment: str | None = None
    metadata: dict[str, Any] | None = None
    is_private: bool | None = None
    desired_email: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "templateId": self.template_id,
            "displayName": self.display_name,
            "owners": list(self.owners),
            "members": list(self.members),
        }
        optional = {
            "desiredUrl": self.desired_url,
            "description": self.description,
            "comment": self.comment,
            "metadata": self.metadata,
            "isPrivate": self.is_private,
            "desiredEmail": self.desired_email,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass(frozen=True)
class ProvisionRequest:
    id: str
    status: str
    template_id: str
    display_name: str
    desired_url: str
    progress: int | None
    result_url: str | None
    microsoft_id: str | None
    email: str | None
    error: str | None
    correlation_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProvisionRequest:
        found = data.get("result")
        result: dict[str, Any] = found if isinstance(found, dict) else {}
        progress = data.get("progress")
        return cls(
            id=_str_id(data),
            status=str(data.get("status") or ""),
            template_id=str(data.get("templateId") or ""),
            display_name=str(data.get("displayName") or ""),
            desired_url=str(data.get("desiredUrl") or ""),
            progress=progress if isinstance(progress, int) else None,
            result_url=result.get("url"),
            microsoft_id=result.get("microsoftId"),
            email=result.get("email"),
            error=data.get("error"),
            correlation_id=data.get("correlationId"),
            raw=data,
        )


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    email: str | None
    group_type: str
    is_team: bool
    members_count: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        return cls(
            id=_str_id(data),
            name=str(data.get("name") or ""),
            email=data.get("email"),
            group_type=str(data.get("groupType") or ""),
            is_team=bool(data.get("isTeam")),
            members_count=data.get("membersCount"),
            raw=data,
        )


@dataclass(frozen=True)
class Site:
    id: str
    url: str
    title: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Site:
        return cls(
            id=_str_id(data),
            url=str(data.get("url") or ""),
            title=str(data.get("title") or ""),
            raw=data,
        )


@dataclass(frozen=True)
class AsyncJob:
    """An async report request (RequestStatus). `result_ready` once status answered 302."""

    id: str
    type: str
    status: str
    processed: int | None
    total: int | None
    error: str | None
    result_ready: bool

    @classmethod
    def from_json(cls, data: dict[str, Any], *, result_ready: bool = False) -> AsyncJob:
        found = data.get("progress")
        progress: dict[str, Any] = found if isinstance(found, dict) else {}
        return cls(
            id=_str_id(data),
            type=str(data.get("type") or ""),
            status=str(data.get("status") or ("Succeeded" if result_ready else "")),
            processed=progress.get("processedItems"),
            total=progress.get("totalItems"),
            error=data.get("error"),
            result_ready=result_ready,
        )


@dataclass(frozen=True)
class WebhookEndpoint:
    endpoint: str
    types: list[str]


@dataclass(frozen=True)
class Options:
    # The webhook signing key is a secret: kept out of repr.
    webhook_signing_key: str = field(repr=False)


# --- The request loop ---------------------------------------------------------------------------


def _timeout() -> tuple[float, float]:
    return (float(settings.POINT_CONNECT_TIMEOUT), float(settings.POINT_READ_TIMEOUT))


def base_url(tenant: Tenant) -> str:
    return f"{tenant.point_base_url.rstrip('/')}/{API_VERSION}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), at most RETRY_AFTER_MAX: a
    huge or far-future value must neither stall a request for hours nor overflow a date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]{1,12}", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(0.0, seconds), float(settings.RETRY_AFTER_MAX))


def _backoff(retry: int) -> float:
    """Exponential back-off with jitter: base * 2**retry, between half and all of it."""
    ceiling = settings.POINT_BACKOFF_MS / 1000 * (2**retry)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _not_sent(error: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (safe to send again)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(response: requests.Response) -> str:
    """Point's own words: exceptionMessage, else title, else the status line."""
    data = _error_body(response)
    text = data.get("exceptionMessage") or data.get("title") or data.get("message")
    return str(text) if text else f"HTTP {response.status_code} {response.reason or ''}".strip()


def _validation_errors(response: requests.Response) -> dict[str, list[str]]:
    data = _error_body(response)
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        return {
            str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in errors.items()
        }
    return {"": [_message(response)]}


def _raise_for(response: requests.Response, path: str, permission: str) -> None:
    status = response.status_code
    if status == 403:
        raise PermissionMissing(permission, path)
    if status == 400 or status == 422:
        raise ValidationFailed(_validation_errors(response), status=status)
    if status == 404:
        raise NotFound(_message(response), status=404)
    if status == 409:
        raise Conflict(_message(response), status=409)
    raise PointError(f"Point answered {status} to {path}: {_message(response)}", status=status)


@dataclass
class _Answer:
    status: int
    data: Any
    headers: dict[str, str]


@sensitive_variables("token")  # the bearer token; portal.errors also masks the headers
def _call(
    tenant: Tenant,
    method: str,
    path_or_url: str,
    *,
    permission: str,
    params: dict[str, Any] | None = None,
    body: Any = None,
    safe_to_repeat: bool | None = None,
    expect_json: bool = True,
) -> _Answer:
    """One Point call with timeouts, retries and typed errors (see the module docstring).

    `safe_to_repeat` defaults to True for GET/DELETE and False for POST: a POST that may
    have arrived is then never sent twice (OutcomeUnknown instead).
    """
    if path_or_url.startswith(("http://", "https://")):
        url = path_or_url
        # A nextLink carries our bearer token: only to the tenant's own Point.
        if _origin(url) != _origin(base_url(tenant)):
            raise PointError(f"Refusing to follow a link to another host ({_origin(url)[1]}).")
        path = urlsplit(url).path
    else:
        url = base_url(tenant) + path_or_url
        path = path_or_url
    repeatable = method != "POST" if safe_to_repeat is None else safe_to_repeat

    try:
        token = tokens.get_token(tenant)
    except tokens.TokenError as error:
        raise AuthenticationError(
            error.message, guidance=error.guidance, token_error=error
        ) from error

    retries = 0
    waited = 0.0
    renewed_token = False
    last_problem = ""
    while True:
        wait: float | None = None
        try:
            response = _session.request(
                method,
                url,
                params=params,
                json=body,
                timeout=_timeout(),
                allow_redirects=False,
                headers={"Authorization": f"Bearer {token.value}", "Accept": "application/json"},
            )
        except requests.RequestException as error:
            kind = type(error).__name__
            if not repeatable and not _not_sent(error):
                logger.warning("Point %s %s: no answer (%s); outcome unknown", method, path, kind)
                raise OutcomeUnknown(
                    f"Point did not answer {method} {path} ({kind}): it may or may not have been "
                    "carried out. Look it up before sending it again.",
                ) from None
            last_problem = (
                "timed out"
                if isinstance(error, requests.Timeout)
                else f"could not be reached ({kind})"
            )
            logger.warning("Point %s %s: %s", method, path, last_problem)
        else:
            status = response.status_code
            if status == 401 and not renewed_token:
                # The token may have been revoked or issued before a change: one fresh try.
                renewed_token = True
                tokens.invalidate(tenant, token)
                try:
                    token = tokens.get_token(tenant, fresh=True)
                except tokens.TokenError as error:
                    raise AuthenticationError(
                        error.message, guidance=error.guidance, token_error=error
                    ) from error
                continue
            if status == 401:
                raise AuthenticationError(
                    f"Point rejected the portal's token for {path} (401).",
                    guidance="The token was issued for another app: check the Point API app ID "
                    '(the "Syskit Point API" app registration of this tenant) and the Point API URL.',
                    status=401,
                )
            if status == 429:
                wait = _retry_after(response)
                last_problem = "throttled (429)"
                logger.info("Point %s %s: 429, Retry-After %s", method, path, wait)
                if retries >= settings.POINT_MAX_RETRIES or (
                    waited + (wait or 0) > settings.POINT_RETRY_BUDGET
                ):
                    raise Throttled(
                        f"Point is throttling the portal ({path}); try again "
                        + (f"in {int(wait)} s." if wait is not None else "later."),
                        retry_after=wait,
                    )
            elif status >= 500:
                logger.warning("Point %s %s: %s", method, path, status)
                if not repeatable:
                    raise OutcomeUnknown(
                        f"Point answered {status} to {method} {path}: it may or may not have been "
                        "carried out. Look it up before sending it again.",
                        status=status,
                    )
                last_problem = f"answered {status}: {_message(response)}"
            elif status >= 400:
                logger.info("Point %s %s: %s", method, path, status)
                _raise_for(response, path, permission)
            else:
                data: Any = None
                if expect_json and response.content:
                    try:
                        data = response.json()
                    except ValueError:
                        if not repeatable:
                            raise OutcomeUnknown(
                                f"Point answered {method} {path} with a broken body: it may or may "
                                "not have been carried out. Look it up before sending it again.",
                                status=status,
                            ) from None
                        last_problem = "sent a malformed JSON answer"
                        logger.warning("Point %s %s: malformed JSON", method, path)
                        data = _MALFORMED
                if data is not _MALFORMED:
                    return _Answer(status, data, dict(response.headers))
        # Retry (5xx, connection error, malformed JSON, 429) within the limits.
        if retries >= settings.POINT_MAX_RETRIES:
            raise Unavailable(
                f"Point {last_problem} for {method} {path}, {retries + 1} times; giving up. "
                "Try again later; if it persists, check the tenant's Point API URL and Point's status."
            )
        delay = max(wait if wait is not None else 0.0, _backoff(retries))
        if waited + delay > settings.POINT_RETRY_BUDGET:
            raise Unavailable(
                f"Point {last_problem} for {method} {path}; giving up after {retries + 1} attempts "
                f"(retry budget of {settings.POINT_RETRY_BUDGET} s spent)."
            )
        _sleep(delay)
        waited += delay
        retries += 1


_MALFORMED = object()


def _items(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A bare array, or {"value": [...], "@odata.nextLink": url}."""
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)], None
    if isinstance(data, dict) and isinstance(data.get("value"), list):
        link = data.get("@odata.nextLink")
        return [d for d in data["value"] if isinstance(d, dict)], link if isinstance(
            link, str
        ) else None
    raise PointError("Point sent a list in an unexpected shape.")


def iter_pages(
    tenant: Tenant, path: str, *, permission: str, params: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every item of a (possibly paged) list, following @odata.nextLink until it is absent."""
    answer = _call(tenant, "GET", path, permission=permission, params=params)
    items, link = _items(answer.data)
    yield from items
    while link:
        answer = _call(tenant, "GET", link, permission=permission)
        items, link = _items(answer.data)
        yield from items


def _object(answer: _Answer) -> dict[str, Any]:
    if not isinstance(answer.data, dict):
        raise PointError("Point sent an answer in an unexpected shape.")
    return answer.data


# --- Provisioning -------------------------------------------------------------------------------


def list_templates(tenant: Tenant) -> list[Template]:
    """The tenant's provisioning templates. Reference: syskit-point-api.md 3.3."""
    return [
        Template.from_json(t)
        for t in iter_pages(tenant, "/provision/templates", permission=PROVISIONING)
    ]


def provision(tenant: Tenant, workload: str, request: NewWorkspace) -> ProvisionRequest:
    """Ask Point to provision a workspace. Reference: syskit-point-api.md 3.1, 3.2.

    `workload` is teams, groups, sites or yammer. Never retried once it may have been sent:
    OutcomeUnknown means "call find_provision_requests before posting again".
    """
    if workload not in WORKLOAD_ENDPOINTS:
        raise ValueError(f"Unknown workload {workload!r}: one of {', '.join(WORKLOAD_ENDPOINTS)}.")
    answer = _call(
        tenant,
        "POST",
        f"/provision/{workload}",
        permission=PROVISIONING,
        body=request.to_json(),
        safe_to_repeat=False,
    )
    return ProvisionRequest.from_json(_object(answer))


def get_provision_request(tenant: Tenant, request_id: str) -> ProvisionRequest:
    """A provisioning request's status. Reference: syskit-point-api.md 3.4."""
    answer = _call(tenant, "GET", f"/provision/requests/{request_id}", permission=PROVISIONING)
    return ProvisionRequest.from_json(_object(answer))


def find_provision_requests(
    tenant: Tenant, *, desired_url: str | None = None, display_name: str | None = None
) -> list[ProvisionRequest]:
    """The portal's requests matching a URL and/or name (emulator extension, proposed)."""
    params = {
        k: v for k, v in {"desiredUrl": desired_url, "displayName": display_name}.items() if v
    }
    return [
        ProvisionRequest.from_json(r)
        for r in iter_pages(tenant, "/provision/requests", permission=PROVISIONING, params=params)
    ]


# --- Directory ----------------------------------------------------------------------------------


def iter_groups(
    tenant: Tenant,
    *,
    group_type: str | None = None,
    search: str | None = None,
    page_size: int | None = None,
) -> Iterator[Group]:
    """Every group (optionally of one type / matching a text). Reference: 5.2."""
    params: dict[str, Any] = {}
    if group_type:
        params["groupType"] = group_type
    if search:
        params["search"] = search
    if page_size:
        params["$top"] = page_size
    for item in iter_pages(tenant, "/groups", permission=READ_OR_ASYNC, params=params):
        yield Group.from_json(item)


def get_group(tenant: Tenant, name: str) -> Group:
    """One group by its exact name (NotFound otherwise)."""
    answer = _call(tenant, "GET", f"/groups/{quote(name, safe='')}", permission=READ_OR_ASYNC)
    return Group.from_json(_object(answer))


@dataclass(frozen=True)
class Page[T]:
    """One page of an inventory list: its items, the total (if Point says) and whether more follow."""

    items: list[T]
    total: int | None
    has_more: bool


def _one_page(
    tenant: Tenant, path: str, *, permission: str, params: dict[str, Any], top: int, skip: int
) -> tuple[list[dict[str, Any]], int | None, bool]:
    """One page through $top/$skip; a bare (unpaged) array is sliced here instead."""
    answer = _call(
        tenant, "GET", path, permission=permission, params={**params, "$top": top, "$skip": skip}
    )
    if isinstance(answer.data, list):
        everything = [d for d in answer.data if isinstance(d, dict)]
        return everything[skip : skip + top], len(everything), len(everything) > skip + top
    items, link = _items(answer.data)
    count = answer.data.get("@odata.count") if isinstance(answer.data, dict) else None
    return items, count if isinstance(count, int) else None, bool(link)


def list_groups_page(
    tenant: Tenant,
    *,
    top: int,
    skip: int = 0,
    group_type: str | None = None,
    search: str | None = None,
) -> Page[Group]:
    """One page of groups (optionally of one type / matching a text). Reference: 5.2."""
    params = {k: v for k, v in {"groupType": group_type, "search": search}.items() if v}
    items, total, more = _one_page(
        tenant, "/groups", permission=READ_OR_ASYNC, params=params, top=top, skip=skip
    )
    return Page([Group.from_json(i) for i in items], total, more)


def list_sites_page(
    tenant: Tenant, *, top: int, skip: int = 0, search: str | None = None
) -> Page[Site]:
    """One page of SharePoint sites (optionally matching a text). Reference: 5.1."""
    params = {"search": search} if search else {}
    items, total, more = _one_page(
        tenant, "/sites", permission=SHAREPOINT_READ_ALL, params=params, top=top, skip=skip
    )
    return Page([Site.from_json(i) for i in items], total, more)


def iter_sites(
    tenant: Tenant, *, search: str | None = None, page_size: int | None = None
) -> Iterator[Site]:
    """Every SharePoint site (optionally matching a text). Reference: 5.1."""
    params: dict[str, Any] = {}
    if search:
        params["search"] = search
    if page_size:
        params["$top"] = page_size
    for item in iter_pages(tenant, "/sites", permission=SHAREPOINT_READ_ALL, params=params):
        yield Site.from_json(item)


# --- Async reports ------------------------------------------------------------------------------


def _start_job(tenant: Tenant, path: str, body: dict[str, Any], permission: str) -> AsyncJob:
    # Starting a report twice only makes a second report: safe to repeat.
    answer = _call(tenant, "POST", path, permission=permission, body=body, safe_to_repeat=True)
    return AsyncJob.from_json(_object(answer))


def start_group_memberships(tenant: Tenant, group_ids: list[str] | None = None) -> AsyncJob:
    """Start the memberships report of some (or all) groups. Reference: 4.4."""
    return _start_job(
        tenant, "/groups/memberships", {"groupIds": list(group_ids or [])}, READ_OR_ASYNC
    )


def start_site_permissions(tenant: Tenant, site_urls: list[str] | None = None) -> AsyncJob:
    """Start the permissions report of some (or all) sites. Reference: 4.3."""
    body = {"siteUrls": list(site_urls)} if site_urls else {}
    return _start_job(tenant, "/sites/permissions/generate", body, SHAREPOINT_READ_ALL)


def start_user_access(tenant: Tenant, user: str) -> AsyncJob:
    """Start the access report of one user (UPN). Reference: 4.2."""
    return _start_job(tenant, "/users/access/generate", {"user": user}, SHAREPOINT_READ_ALL)


def get_job(tenant: Tenant, job_id: str) -> AsyncJob:
    """A report's status; a 302 (not followed) means the result is ready."""
    answer = _call(tenant, "GET", f"/requests/{job_id}/status", permission=READ_OR_ASYNC)
    data = answer.data if isinstance(answer.data, dict) else {"id": job_id}
    return AsyncJob.from_json(data, result_ready=answer.status == 302)


def iter_job_result(
    tenant: Tenant, job_id: str, *, page_size: int | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of a finished report, every page (Conflict if it is not ready or failed)."""
    params = {"$top": page_size} if page_size else None
    yield from iter_pages(
        tenant, f"/requests/{job_id}/result", permission=READ_OR_ASYNC, params=params
    )


# --- Webhooks and options -----------------------------------------------------------------------


def register_webhook(tenant: Tenant, endpoint: str, types: list[str] | None = None) -> None:
    """Register (or update the types of) a webhook endpoint. Reference: 6.1."""
    _call(
        tenant,
        "POST",
        "/webhooks/endpoints",
        permission=ADMIN,
        body={"endpoint": endpoint, "types": list(types or ["*"])},
        safe_to_repeat=True,
        expect_json=False,
    )


def list_webhooks(tenant: Tenant) -> list[WebhookEndpoint]:
    return [
        WebhookEndpoint(str(e.get("endpoint") or ""), [str(t) for t in e.get("types") or []])
        for e in iter_pages(tenant, "/webhooks/endpoints", permission=ADMIN)
    ]


def delete_webhook(tenant: Tenant, endpoint: str) -> None:
    """Remove a webhook endpoint (NotFound if it is not registered)."""
    _call(
        tenant,
        "DELETE",
        "/webhooks/endpoints",
        permission=ADMIN,
        body={"endpoint": endpoint},
        expect_json=False,
    )


def get_options(tenant: Tenant) -> Options:
    """Point's options: the webhook signing key (a secret: never log or render it)."""
    data = _object(_call(tenant, "GET", "/options", permission=ADMIN))
    return Options(str(data.get("webhooksSignatureAuthenticationKey") or ""))


# --- Probes for the connection check ------------------------------------------------------------


def probe(tenant: Tenant, permission: str) -> str:
    """One cheap call that needs `permission`; returns the endpoint it used. Raises PointError."""
    if permission == SHAREPOINT_READ_ALL:
        _call(tenant, "GET", "/sites", permission=permission, params={"$top": 1})
        return "GET /v1.0/sites?$top=1"
    if permission == ASYNC_REQUESTS:
        # Groups open to SharePoint.Read.All or Point.AsyncRequests; the check reads the
        # token's roles to tell which one granted it (tenants.checks).
        _call(tenant, "GET", "/groups", permission=permission, params={"$top": 1})
        return "GET /v1.0/groups?$top=1"
    if permission == PROVISIONING:
        _call(tenant, "GET", "/provision/templates", permission=permission)
        return "GET /v1.0/provision/templates"
    if permission == ADMIN:
        _call(tenant, "GET", "/options", permission=permission)
        return "GET /v1.0/options"
    raise ValueError(f"Unknown Point permission {permission!r}.")

"""The REST API for machine clients (/api/v1/), on the same services and selectors as the pages.

django-ninja builds the OpenAPI document (/api/v1/openapi.json) and its docs (/api/v1/docs)
from these functions and schemas. Every call carries an app-only Entra token (api/auth.py);
every error is a problem document (api/problems.py); each client has its own rate limit
(api/throttle.py). See docs/api.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header, NinjaAPI, Query, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.responses import Status
from ninja.security import HttpBearer

from api import auth, submit
from api.models import DIRECTORY_READ, REQUESTS_READ, REQUESTS_READWRITE
from api.problems import MEDIA_TYPE, Problem, ProblemError, problem
from api.schemas import (
    Changes,
    EventOut,
    FormField,
    GroupPage,
    MembershipRow,
    Memberships,
    RequestDetail,
    RequestIn,
    RequestPage,
    SitePage,
    TemplateOut,
)
from api.throttle import ClientThrottle
from directory import selectors as directory
from directory.models import ReportRun
from provisioning import selectors, services
from provisioning.forms import RequestForm
from provisioning.models import ProvisioningRequest, RequestEvent, RequestPerson, Template
from provisioning.states import State, TransitionRefused
from upstreams.contract import ReportKind, Workload

PAGE_MAX = 100
# Changes younger than this are not handed out yet: a transaction that began earlier may still
# commit a change with an older timestamp, which a cursor past it would never see.
CHANGES_SETTLE = timedelta(seconds=2)

READ = (REQUESTS_READ, REQUESTS_READWRITE)
ERRORS: dict[int, Any] = dict.fromkeys((400, 401, 403, 404, 409, 422, 429), Problem)


class Bearer(HttpBearer):
    """An app-only Entra token of a registered client (api/auth.py)."""

    def authenticate(self, request: HttpRequest, token: str) -> auth.Principal:
        return auth.authenticate(token, str(request.META.get("REMOTE_ADDR", "")))


class Api(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Errors are documented as problem documents, as they are sent."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for code, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if str(code).startswith(("4", "5")) and "application/json" in content:
                        content[MEDIA_TYPE] = content.pop("application/json")
        return schema


api = Api(
    title="Provisioning portal API",
    version="1",
    description="Requests for Microsoft 365 workspaces and the directory, for service desks "
    "and scripts. Authenticate with an app-only token from your organisation's Entra ID for "
    "the scope `api://<portal app id>/.default`; your app must be registered as an API client "
    "by an admin. Errors are RFC 9457 problem documents.",
    auth=Bearer(),
    throttle=ClientThrottle(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


# --- Errors ---------------------------------------------------------------------------------------


@api.exception_handler(auth.ApiAuthError)
def _auth_error(request: HttpRequest, error: auth.ApiAuthError) -> HttpResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if error.status == 401 else {}
    return problem(error.status, error.title, error.detail, headers=headers)


@api.exception_handler(AuthenticationError)
def _no_token(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return problem(
        401,
        "Token required",
        "Send an app-only Entra token: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(ProblemError)
def _problem(request: HttpRequest, error: ProblemError) -> HttpResponse:
    return problem(error.status, error.title, error.detail, errors=error.errors)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for found in error.errors:
        location = [str(part) for part in found.get("loc", ()) if part not in ("body", "query")]
        errors.setdefault(".".join(location[-2:]) if location else "", []).append(
            str(found.get("msg", "Invalid."))
        )
    return problem(422, "The request was refused", "Correct the fields in `errors`.", errors=errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    if error.status_code == 429:  # ninja adds Retry-After
        wait = getattr(error, "wait", None)
        detail = f"This client's rate limit is spent; try again in {int(wait or 1)} s."
        return problem(429, "Too many requests", detail)
    return problem(error.status_code, str(error))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return problem(404, "Not found", str(error) or "No such object in your organisation.")


# --- Helpers ---------------------------------------------------------------------------------------


def _principal(request: HttpRequest, *roles: str) -> auth.Principal:
    principal: auth.Principal = request.auth  # type: ignore[attr-defined]
    auth.require(principal, *roles)
    return principal


def _requests(principal: auth.Principal) -> QuerySet[ProvisioningRequest]:
    """Every request of the client's organisation, as IT staff see them."""
    return (
        selectors.request_list_for_staff(user=principal.user)
        .filter(tenant=principal.tenant)
        .prefetch_related(Prefetch("people", queryset=RequestPerson.objects.order_by("id")))
    )


def _request_out(item: ProvisioningRequest) -> dict[str, Any]:
    people = list(item.people.all())
    return {
        "id": item.pk,
        "tenant": item.tenant.slug,
        "template": item.template_id,
        "template_name": item.template.name,
        "workload": item.workload,
        "display_name": item.display_name,
        "final_name": item.final_name,
        "state": item.state,
        "state_label": item.get_state_display(),
        "requested_by": item.requested_by.get_full_name() or item.requested_by.email,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "finished_at": item.finished_at,
        "upstream_id": item.upstream_id,
        "workspace_url": item.workspace_url,
        "error": item.error_message,
        "field_errors": item.field_errors if isinstance(item.field_errors, dict) else {},
        "owners": [p.upn for p in people if p.role == RequestPerson.Role.OWNER],
        "members": [p.upn for p in people if p.role == RequestPerson.Role.MEMBER],
    }


def _detail(item: ProvisioningRequest) -> dict[str, Any]:
    events = RequestEvent.objects.filter(request=item).select_related("actor").order_by("at", "id")
    return {
        **_request_out(item),
        "events": [
            EventOut(
                at=e.at,
                source=e.source,
                from_state=e.from_state,
                to_state=e.to_state,
                detail=e.detail,
                actor=(e.actor.get_full_name() or e.actor.email) if e.actor else "",
            )
            for e in events
        ],
    }


def _get(principal: auth.Principal, pk: int) -> ProvisioningRequest:
    item = _requests(principal).filter(pk=pk).first()
    if item is None:
        raise Http404(f"No request {pk} in your organisation.")
    return item


def _cursor(*values: Any) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, pk = json.loads(raw)
        found = datetime.fromisoformat(when)
        if found.tzinfo is None or not isinstance(pk, int):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ProblemError(400, "Bad cursor", "Pass a cursor exactly as the API gave it.") from None
    return found, pk


# --- Templates ----------------------------------------------------------------------------------

templates = Router(tags=["Templates"])


def _fields(template: Template) -> list[FormField]:
    form = RequestForm(template=template)
    out = []
    for name, field in form.fields.items():
        if name == "submission_key":
            continue
        if name in form.metadata_fields:
            name = f"metadata.{form.metadata_fields[name].name}"
        choices = [str(value) for value, _ in getattr(field, "choices", []) if value != ""]
        out.append(
            FormField(
                name=submit.API_NAMES.get(name, name),
                label=str(field.label or name),
                required=field.required,
                help=str(field.help_text or ""),
                choices=choices,
            )
        )
    return out


@templates.get("", response={200: list[TemplateOut], **ERRORS}, summary="Templates offered")
def template_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The templates your organisation offers, with the fields a new request takes."""
    principal = _principal(request, *READ)
    return [
        {
            "id": t.pk,
            "name": t.name,
            "workload": t.workload,
            "description": t.description,
            "approval": t.approval,
            "fields": _fields(t),
        }
        for t in selectors.template_list_offered(tenant=principal.tenant)
    ]


# --- Requests --------------------------------------------------------------------------------------

requests_router = Router(tags=["Requests"])


@requests_router.post(
    "",
    response={201: RequestDetail, 200: RequestDetail, **ERRORS},
    summary="Submit a request",
)
def request_create(
    request: HttpRequest,
    body: RequestIn,
    idempotency_key: str = Header("", alias="Idempotency-Key"),
) -> Status:
    """Checked as the request form checks it, then sent to the upstream in the background.

    With an `Idempotency-Key`, a repeat of the same body returns the first answer (200, the same
    request) and another body with the same key a 409."""
    principal = _principal(request, REQUESTS_READWRITE)
    template = (
        selectors.template_list_offered(tenant=principal.tenant).filter(pk=body.template).first()
    )
    if template is None:
        raise ProblemError(
            422,
            "The request was refused",
            "Choose a template from GET /templates.",
            errors={"template": [f"No template {body.template} is offered in your organisation."]},
        )
    item, created = submit.submit(principal, template, body, idempotency_key)
    return Status(201 if created else 200, _detail(_get(principal, item.pk)))


@requests_router.get("", response={200: RequestPage, **ERRORS}, summary="List requests")
def request_list(
    request: HttpRequest,
    state: State | None = None,
    workload: Workload | None = None,
    q: str = Query("", max_length=200, description="Text in the name, the requester or the id"),
    cursor: str = "",
    limit: int = Query(25, ge=1, le=PAGE_MAX),
) -> dict[str, Any]:
    """Newest first, `limit` at a time; follow `next_cursor`."""
    principal = _principal(request, *READ)
    found = selectors.request_filter(
        _requests(principal), {"state": state, "workload": workload, "q": q}
    ).order_by("-created_at", "-id")
    if cursor:
        at, pk = _uncursor(cursor)
        found = found.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    items = list(found[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if more else None
    return {
        "items": [_request_out(i) for i in items],
        "next_cursor": _cursor(last.created_at, last.pk) if last else None,
    }


@requests_router.get("/changes", response={200: Changes, **ERRORS}, summary="Changes since")
def request_changes(
    request: HttpRequest,
    since: str = Query("", description="The cursor of the last call; empty: from the start"),
    limit: int = Query(100, ge=1, le=PAGE_MAX),
) -> dict[str, Any]:
    """Requests changed (any state, event or field) since the cursor, oldest change first: one
    call instead of polling every request. Keep the returned cursor and pass it next time."""
    principal = _principal(request, *READ)
    found = _requests(principal).filter(updated_at__lte=timezone.now() - CHANGES_SETTLE)
    if since:
        at, pk = _uncursor(since)
        found = found.filter(Q(updated_at__gt=at) | Q(updated_at=at, id__gt=pk))
    items = list(found.order_by("updated_at", "id")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    cursor = _cursor(items[-1].updated_at, items[-1].pk) if items else (since or "")
    if not cursor:
        cursor = _cursor(datetime(2000, 1, 1, tzinfo=timezone.get_current_timezone()), 0)
    return {"items": [_request_out(i) for i in items], "cursor": cursor, "has_more": more}


@requests_router.get("/{pk}", response={200: RequestDetail, **ERRORS}, summary="One request")
def request_get(request: HttpRequest, pk: int) -> dict[str, Any]:
    """The request with its timeline (every state change and what happened)."""
    principal = _principal(request, *READ)
    return _detail(_get(principal, pk))


def _act(request: HttpRequest, pk: int, action: Any) -> dict[str, Any]:
    principal = _principal(request, REQUESTS_READWRITE)
    item = _get(principal, pk)
    try:
        action(item=item, actor=principal.user, via=principal.client.name)
    except TransitionRefused as error:
        raise ProblemError(409, "Not now", str(error)) from None
    return _detail(_get(principal, pk))


@requests_router.post(
    "/{pk}/cancel", response={200: RequestDetail, **ERRORS}, summary="Cancel a request"
)
def request_cancel(request: HttpRequest, pk: int) -> dict[str, Any]:
    """Only before it was sent upstream (submitted, or waiting for a portal approval)."""
    return _act(request, pk, services.request_cancel)


@requests_router.post(
    "/{pk}/retry", response={200: RequestDetail, **ERRORS}, summary="Retry a failed request"
)
def request_retry(request: HttpRequest, pk: int) -> dict[str, Any]:
    """A failed request sent again, unless the upstream refused what was asked."""
    return _act(request, pk, services.request_retry)


# --- Directory ---------------------------------------------------------------------------------------

directory_router = Router(tags=["Directory"])


def _listed(page: directory.ListPage[Any], items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    if page.error:
        raise ProblemError(502, "The upstream could not list them", page.error)
    return {
        "items": list(items),
        "page": page.number,
        "has_next": page.has_next,
        "total": page.total,
        "read_at": page.read_at,
    }


def _directory_tenant(request: HttpRequest) -> auth.Principal:
    principal = _principal(request, DIRECTORY_READ)
    if not principal.tenant.capabilities.directory:
        raise ProblemError(
            404,
            "No directory",
            f"{principal.tenant.upstream_label} has no call to list groups or sites.",
        )
    return principal


@directory_router.get(
    "/groups", response={200: GroupPage, 502: Problem, **ERRORS}, summary="Groups"
)
def group_list(
    request: HttpRequest,
    search: str = Query("", max_length=100),
    page: int = Query(1, ge=1, le=10_000),
    fresh: bool = Query(False, description="Read the upstream now rather than the list kept."),
) -> dict[str, Any]:
    """Groups from the upstream, as the directory page shows them (kept up to
    DIRECTORY_CACHE_SECONDS; ``read_at`` says when they were read)."""
    principal = _directory_tenant(request)
    found = directory.groups_page(tenant=principal.tenant, page=page, search=search, fresh=fresh)
    return _listed(found, (asdict(g) for g in found.items))


@directory_router.get(
    "/groups/{group_id}/memberships",
    response={200: Memberships, **ERRORS},
    summary="A group's membership snapshot",
)
def group_memberships(request: HttpRequest, group_id: str) -> dict[str, Any]:
    """The latest snapshot of a group's owners and members (taken on the directory page or by
    the directory's schedule); 404 when none was taken yet."""
    principal = _directory_tenant(request)
    run = directory.latest_snapshot(
        tenant=principal.tenant, kind=ReportKind.GROUP_MEMBERSHIPS, subject=group_id
    )
    if run is None:
        raise Http404("No membership snapshot of this group yet.")
    return _memberships(run)


def _memberships(run: ReportRun) -> dict[str, Any]:
    return {
        "group_id": run.subject,
        "group_name": run.subject_label,
        "taken_at": run.finished_at,
        "stale": directory.is_stale(run),
        "rows": [
            MembershipRow(name=r.name, upn=r.upn, kind=r.kind, role=r.role)
            for r in directory.snapshot_rows(run)
        ],
    }


@directory_router.get("/sites", response={200: SitePage, 502: Problem, **ERRORS}, summary="Sites")
def site_list(
    request: HttpRequest,
    search: str = Query("", max_length=100),
    page: int = Query(1, ge=1, le=10_000),
    fresh: bool = Query(False, description="Read the upstream now rather than the list kept."),
) -> dict[str, Any]:
    """SharePoint sites from the upstream, as the directory page shows them (kept up to
    DIRECTORY_CACHE_SECONDS; ``read_at`` says when they were read)."""
    principal = _directory_tenant(request)
    found = directory.sites_page(tenant=principal.tenant, page=page, search=search, fresh=fresh)

    def row(site: Any) -> dict[str, Any]:
        values = asdict(site)
        on = values.get("last_activity_on")
        values["last_activity_on"] = on.isoformat() if on else None
        return values

    return _listed(found, (row(s) for s in found.items))


api.add_router("/templates", templates)
api.add_router("/requests", requests_router)
api.add_router("/", directory_router)

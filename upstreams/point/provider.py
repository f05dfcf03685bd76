"""PointProvider: the Upstream contract on one tenant's Syskit Point API.

Endpoints and the permission each needs follow the documented matrix
(../shared/reference/syskit-point-api.md 2.2, [documented]); the shapes are read and written by
``wire`` and the HTTP is ``transport``'s. The Connection's base URL is the tenant's Point URL
without the version; every path here carries ``/v1.0`` [0, documented].

Webhooks and options (6.1, 6.3) are left out until something calls them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from itertools import islice
from typing import Any
from urllib.parse import quote

from upstreams.contract import (
    Capabilities,
    CatalogueItem,
    Connection,
    Group,
    Page,
    Permission,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    UpstreamError,
    WorkspaceSpec,
)
from upstreams.point import transport, wire

API = "/v1.0"

# The application permissions (app roles) of the "Syskit Point API" [2.2, documented].
SHAREPOINT_READ_ALL = "SharePoint.Read.All"
ASYNC_REQUESTS = "Point.AsyncRequests"
PROVISIONING = "Point.Provisioning"
ADMIN = "Point.Admin"
# Groups and the async status/result endpoints open to either of two roles [2.2, documented].
READ_OR_ASYNC = f"{SHAREPOINT_READ_ALL} or {ASYNC_REQUESTS}"

PERMISSIONS = (
    Permission(
        SHAREPOINT_READ_ALL,
        needed_for="the sites list, the site permissions and user access reports (and the "
        "groups list and membership reports unless Point.AsyncRequests is granted)",
    ),
    Permission(
        ASYNC_REQUESTS,
        needed_for="the groups list and the group membership reports when "
        "SharePoint.Read.All is not granted",
    ),
    Permission(
        PROVISIONING,
        needed_for="the template catalogue and every workspace request (sending, status, lookup)",
    ),
    Permission(
        ADMIN,
        needed_for="webhooks only (instant status updates); without it the portal polls",
        optional=True,
    ),
)

# Rows asked per page of a report's result (the emulator's maximum $top [7, proposed]).
RESULT_PAGE_SIZE = 1000

# Where each report starts, and the permission it needs [2.2, documented; 4.2-4.4].
_REPORTS: dict[ReportKind, tuple[str, str]] = {
    ReportKind.GROUP_MEMBERSHIPS: ("/groups/memberships", READ_OR_ASYNC),
    ReportKind.SITE_PERMISSIONS: ("/sites/permissions/generate", SHAREPOINT_READ_ALL),
    ReportKind.USER_ACCESS: ("/users/access/generate", SHAREPOINT_READ_ALL),
}

# One cheap call per permission for the connection check (endpoints of 2.2, [documented]).
_PROBES: dict[str, tuple[str, dict[str, Any] | None]] = {
    SHAREPOINT_READ_ALL: ("/sites", {"$top": 1}),
    # Groups open to either role; the check reads the token's roles to tell which one passed.
    ASYNC_REQUESTS: ("/groups", {"$top": 1}),
    PROVISIONING: ("/provision/templates", None),
    ADMIN: ("/options", None),
}


def _segment(value: str) -> str:
    """A value as one path segment: "/" and "?" cannot reach another endpoint."""
    return quote(value, safe="")


def _object(answer: transport.Answer) -> Mapping[str, Any]:
    if not isinstance(answer.data, Mapping):
        raise UpstreamError("Point sent an answer in an unexpected shape.")
    return answer.data


class PointProvider:
    """One tenant's Syskit Point, bound to its Connection (see upstreams.contract.Upstream)."""

    kind = "point"
    label = "Point"
    capabilities = Capabilities(
        catalogue=True, approvals=True, request_lookup=True, directory=True, reports=True
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"PointProvider({self.connection.base_url!r})"

    # --- Calls ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        safe_to_repeat: bool | None = None,
        expect_json: bool = True,
    ) -> transport.Answer:
        return transport.call(
            self.connection,
            method,
            API + path,
            permission=permission,
            params=params,
            body=body,
            safe_to_repeat=safe_to_repeat,
            expect_json=expect_json,
        )

    def _pages(
        self, path: str, *, permission: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[Mapping[str, Any]]:
        return transport.iter_pages(
            self.connection, API + path, permission=permission, params=params
        )

    def _one_page(
        self, path: str, *, permission: str, params: Mapping[str, Any], top: int, skip: int
    ) -> tuple[list[Mapping[str, Any]], int | None, bool]:
        """One page through $top/$skip [7, proposed]; a bare (unpaged) array is sliced here."""
        answer = self._call(
            "GET", path, permission=permission, params={**params, "$top": top, "$skip": skip}
        )
        shape = wire.list_shape(answer.data)
        if shape.bare:
            everything = shape.items
            return everything[skip : skip + top], len(everything), len(everything) > skip + top
        more = bool(shape.next_link) or (
            shape.total is not None and skip + len(shape.items) < shape.total
        )
        return shape.items, shape.total, more

    # --- Catalogue and requests [3] ---------------------------------------------------------

    def list_templates(self) -> list[CatalogueItem]:
        """GET /v1.0/provision/templates [3.3; existence documented, shape proposed]."""
        return [
            wire.catalogue_item(t)
            for t in self._pages("/provision/templates", permission=PROVISIONING)
        ]

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        """POST /v1.0/provision/{teams|groups|sites|yammer} [3.1 documented, 3.2 proposed].

        Never repeated once it may have arrived: OutcomeUnknown means "find_requests before
        submitting again". An answer without a body still names the request through its
        Location header when it has one [3.2, proposed].
        """
        answer = self._call(
            "POST",
            f"/provision/{wire.submit_endpoint(spec.workload)}",
            permission=PROVISIONING,
            body=wire.submit_body(spec),
            safe_to_repeat=False,
        )
        created = wire.request_status(answer.data if isinstance(answer.data, Mapping) else {})
        if created.id:
            return created
        return replace(
            created,
            id=wire.request_id_from_location(answer.headers.get("Location")),
            display_name=created.display_name or spec.display_name,
        )

    def get_request(self, request_id: str) -> RequestStatus:
        """GET /v1.0/provision/requests/{id} [3.4; existence documented, shape proposed]."""
        answer = self._call(
            "GET", f"/provision/requests/{_segment(request_id)}", permission=PROVISIONING
        )
        return wire.request_status(_object(answer))

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        """GET /v1.0/provision/requests?desiredUrl=&displayName= [proposed: an emulator
        extension, not in Point's docs]: this app's requests by the name or URL asked for."""
        params = {
            key: value
            for key, value in (("desiredUrl", desired_url), ("displayName", display_name))
            if value
        }
        return [
            wire.request_status(r)
            for r in self._pages("/provision/requests", permission=PROVISIONING, params=params)
        ]

    # --- Directory [5] ----------------------------------------------------------------------

    def groups_page(
        self, *, top: int, skip: int = 0, group_type: str = "", search: str = ""
    ) -> Page[Group]:
        """One page of GET /v1.0/groups[?groupType=] [5.2; documented endpoint, shape and
        paging proposed]; ``search`` is an emulator extension."""
        params = {
            key: value for key, value in (("groupType", group_type), ("search", search)) if value
        }
        items, total, more = self._one_page(
            "/groups", permission=READ_OR_ASYNC, params=params, top=top, skip=skip
        )
        return Page([wire.group(i) for i in items], total, more)

    def get_group(self, name: str) -> Group:
        """GET /v1.0/groups/{groupName} [5.2, documented]; NotFound when no group has it."""
        answer = self._call("GET", f"/groups/{_segment(name)}", permission=READ_OR_ASYNC)
        return wire.group(_object(answer))

    def sites_page(self, *, top: int, skip: int = 0, search: str = "") -> Page[Site]:
        """One page of GET /v1.0/sites [5.1; documented endpoint, shape and paging proposed]."""
        params = {"search": search} if search else {}
        items, total, more = self._one_page(
            "/sites", permission=SHAREPOINT_READ_ALL, params=params, top=top, skip=skip
        )
        return Page([wire.site(i) for i in items], total, more)

    def find_sites(self, search: str, *, limit: int = 10) -> list[Site]:
        """At most ``limit`` sites matching ``search`` (one page asked; never more fetched)."""
        if limit <= 0:
            return []
        params: dict[str, Any] = {"$top": limit}
        if search:
            params["search"] = search
        pages = self._pages("/sites", permission=SHAREPOINT_READ_ALL, params=params)
        return [wire.site(s) for s in islice(pages, limit)]

    # --- Async reports [4] ------------------------------------------------------------------

    def start_report(self, kind: ReportKind, subject: str = "") -> ReportJob:
        """Start a report [4.2-4.4]: 202 + RequestStatus [4.1, documented-draft]. Starting one
        twice only makes a second report, so the POST is safe to repeat."""
        path, permission = _REPORTS[kind]
        answer = self._call(
            "POST",
            path,
            permission=permission,
            body=wire.report_body(kind, subject),
            safe_to_repeat=True,
        )
        return wire.report_job(_object(answer))

    def get_report(self, job_id: str) -> ReportJob:
        """GET /v1.0/requests/{id}/status; a 302 (not followed) means the result is ready
        [4.1, documented-draft]."""
        answer = self._call("GET", f"/requests/{_segment(job_id)}/status", permission=READ_OR_ASYNC)
        data = answer.data if isinstance(answer.data, Mapping) else {}
        job = wire.report_job(data, done=answer.status == 302)
        if not job.id:
            job = wire.report_job({**data, "id": job_id}, done=answer.status == 302)
        return job

    def report_rows(self, kind: ReportKind, job_id: str) -> Iterator[ReportRow]:
        """Every row of a finished report: GET /v1.0/requests/{id}/result, paged [4.1;
        documented-draft]. Conflict when it is not ready or failed [4.1, proposed]."""
        pages = self._pages(
            f"/requests/{_segment(job_id)}/result",
            permission=READ_OR_ASYNC,
            params={"$top": RESULT_PAGE_SIZE},
        )
        for data in pages:
            yield wire.report_row(kind, data)

    # --- The connection check ---------------------------------------------------------------

    def permissions(self) -> tuple[Permission, ...]:
        return PERMISSIONS

    def probe(self, permission: str) -> str:
        """One cheap call that needs ``permission``; returns the endpoint it used. The answer
        is not decoded (the options carry the webhook signing key [6.3], a secret)."""
        if permission not in _PROBES:
            raise ValueError(f"Unknown Point permission {permission!r}.")
        path, params = _PROBES[permission]
        self._call("GET", path, permission=permission, params=params, expect_json=False)
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        return f"GET {API}{path}{query}"

"""PointProvider: the Upstream contract on one tenant's Syskit Point API.

Endpoints and the permission each needs follow seed 000 (docs/point-contract.md §2, every
endpoint documented except the request lookup, §4.1); the shapes are read and written by
``wire`` and the HTTP is ``transport``'s. The Connection's base URL is the tenant's Point URL
without the version; every path here carries ``/v1.0``.

Nothing here relies on a guess to work: where Point may not do what we assume (honour
``search``, ``$top``/``$skip``, list requests by name), the provider finds out from the answer
and does the work itself (§5.3, §7), remembering per Point (base URL) and list for the life of
the process what it learnt. Webhooks (§11): registering, listing and removing an endpoint and
reading the signing key need Point.Admin; verifying and reading a pushed event need no call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from upstreams.contract import (
    Capabilities,
    CatalogueItem,
    Connection,
    Group,
    Invalid,
    NameCheck,
    NotFound,
    NotSupported,
    Page,
    Permission,
    PermissionMissing,
    PushCheck,
    PushedEvent,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    UpstreamError,
    WebhookRegistration,
    Workload,
    Workspace,
    WorkspaceSpec,
    mentions,
)
from upstreams.point import transport, wire

logger = logging.getLogger(__name__)

API = "/v1.0"

# The application permissions (app roles) of the "Syskit Point API" (seed 000, §2).
SHAREPOINT_READ_ALL = "SharePoint.Read.All"
ASYNC_REQUESTS = "Point.AsyncRequests"
PROVISIONING = "Point.Provisioning"
ADMIN = "Point.Admin"
# Groups and the async status/result endpoints open to either of two roles (seed 000, §2).
READ_OR_ASYNC = f"{SHAREPOINT_READ_ALL} or {ASYNC_REQUESTS}"

PERMISSIONS = (
    Permission(
        SHAREPOINT_READ_ALL,
        needed_for="the sites list and site search, the site URL availability check (and "
        "finding a site after a send that got no answer), and the site permissions report; "
        "also the groups list, group lookups and membership reports unless "
        "Point.AsyncRequests is granted. Point's newer docs also ask it for the user access "
        "report (seed 000 says Point.AsyncRequests).",
    ),
    Permission(
        ASYNC_REQUESTS,
        needed_for="the user access report (seed 000's Users endpoint; Point's newer docs ask "
        "SharePoint.Read.All instead); also the groups list, group lookups (the name "
        "availability check, finding a team or group after a send that got no answer) and "
        "membership reports when SharePoint.Read.All is not granted",
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

# Rows asked per page of a report's result and per page of a list we read through ourselves
# (the emulator's maximum $top; a Point with smaller pages just sends more of them).
RESULT_PAGE_SIZE = 1000
SCAN_PAGE_SIZE = 1000
# The most items read from one list when we must filter or find in it ourselves (Point ignores
# ``search`` or ``$skip``, or an exact name or URL is looked for): a bound on the time and
# memory of one page view. When it is reached the answer is what those items hold: a page's
# total is then unknown (None) and has_more is True, and the bound is logged (§5.3). The
# contract's Page has no flag for "partial", so it is said here and in the log only.
MAX_SCAN_ITEMS = 5000

# Where each report starts, and the permission it needs (seed 000, §6.1). The user access
# report follows seed 000's "Users" table, Point.AsyncRequests; Point's docs since 2026-02 name
# SharePoint.Read.All instead, which a 403 says in its guidance (start_report).
_REPORTS: dict[ReportKind, tuple[str, str]] = {
    ReportKind.GROUP_MEMBERSHIPS: ("/groups/memberships", READ_OR_ASYNC),
    ReportKind.SITE_PERMISSIONS: ("/sites/permissions/generate", SHAREPOINT_READ_ALL),
    ReportKind.USER_ACCESS: ("/users/access/generate", ASYNC_REQUESTS),
}

WEBHOOKS = "/webhooks/endpoints"

# One cheap call per permission for the connection check (documented endpoints, §2).
_PROBES: dict[str, tuple[str, dict[str, Any] | None]] = {
    SHAREPOINT_READ_ALL: ("/sites", {"$top": 1}),
    # Groups open to either role; the check reads the token's roles to tell which one passed.
    ASYNC_REQUESTS: ("/groups", {"$top": 1}),
    PROVISIONING: ("/provision/templates", None),
    ADMIN: ("/options", None),
}

# --- What the process learnt about each Point (§5.3, §7) ---------------------------------------

# (base URL, list path) of lists whose Point ignores ``search``: searched on our side at once.
_search_ignored: set[tuple[str, str]] = set()
# (base URL, list path) -> does its Point honour ``$skip``?
_skip_honoured: dict[tuple[str, str], bool] = {}
_learnt = threading.Lock()


def forget_learned() -> None:
    """Forget what was learnt about every Point (tests; a Point upgraded while running)."""
    with _learnt:
        _search_ignored.clear()
        _skip_honoured.clear()


def _next_skip(link: str | None) -> int | None:
    """The ``$skip`` of a next link, if it has one (any case, encoded or not)."""
    if not link:
        return None
    query = parse_qs(urlsplit(link).query)
    values = next((v for k, v in query.items() if k.lower() in ("$skip", "skip")), [])
    return int(values[0]) if values and values[0].isdigit() else None


def _segment(value: str) -> str:
    """A value as one path segment: "/" and "?" cannot reach another endpoint."""
    return quote(value, safe="")


def _object(answer: transport.Answer) -> Mapping[str, Any]:
    if not isinstance(answer.data, Mapping):
        raise UpstreamError("Point sent an answer in an unexpected shape.")
    return answer.data


@dataclass
class _Rows:
    """Raw items of one page of a list: the total when known, and whether more follow.
    ``whole``: the entire list, when Point sent it all at once (nothing more to read)."""

    items: list[Mapping[str, Any]]
    total: int | None
    more: bool
    whole: list[Mapping[str, Any]] | None = None


@dataclass
class _Scan:
    """A bounded read through a whole list: iterate it; ``truncated`` once MAX_SCAN_ITEMS were
    read and more remained."""

    pages: Iterator[Mapping[str, Any]]
    truncated: bool = False
    read: int = 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for item in self.pages:
            if self.read >= MAX_SCAN_ITEMS:
                self.truncated = True
                logger.warning("Point list read up to its bound of %d items", MAX_SCAN_ITEMS)
                return
            self.read += 1
            yield item


class PointProvider:
    """One tenant's Syskit Point, bound to its Connection (see upstreams.contract.Upstream)."""

    kind = "point"
    label = "Point"
    capabilities = Capabilities(
        catalogue=True,
        approvals=True,
        request_lookup=True,
        directory=True,
        reports=True,
        webhooks=True,
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
        self,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any] | None = None,
        lone_object: bool = False,
        stats: transport.ListStats | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        return transport.iter_pages(
            self.connection,
            API + path,
            permission=permission,
            params=params,
            lone_object=lone_object,
            stats=stats,
        )

    def _key(self, path: str) -> tuple[str, str]:
        return (self.connection.base_url.rstrip("/").lower(), path)

    def _search_works(self, path: str) -> bool:
        return self._key(path) not in _search_ignored

    def _learn_search_ignored(self, path: str) -> None:
        with _learnt:
            _search_ignored.add(self._key(path))
        logger.info("Point ignores search on %s; filtering on the portal's side", path)

    # --- Lists: one page whatever the paging, searched whatever the search (§5.3, §7) -------

    def _page(
        self, path: str, *, permission: str, params: Mapping[str, Any], top: int, skip: int
    ) -> _Rows:
        """Items [skip, skip + top) of a list, through ``$top``/``$skip`` when Point honours
        them; a whole list sent at once is sliced here, and a list whose Point ignores ``$skip``
        is read from its start (§7)."""
        answer = self._call(
            "GET", path, permission=permission, params={**params, "$top": top, "$skip": skip}
        )
        shape = transport.list_answer(answer)
        whole = shape.bare or (
            len(shape.items) > top
            and not shape.has_more
            and shape.total in (None, len(shape.items))
        )
        if whole:
            everything = shape.items
            return _Rows(
                everything[skip : skip + top],
                len(everything),
                len(everything) > skip + top,
                whole=everything,
            )
        if len(shape.items) > top or (
            skip and not self._honours_skip(path, permission, params, shape, skip)
        ):
            return self._walk(path, permission=permission, params=params, top=top, skip=skip)
        more = shape.has_more or (shape.total is not None and skip + len(shape.items) < shape.total)
        return _Rows(shape.items, shape.total, more)

    def _honours_skip(
        self,
        path: str,
        permission: str,
        params: Mapping[str, Any],
        at_skip: wire.ListShape,
        skip: int,
    ) -> bool:
        """Does this Point honour ``$skip`` on ``path``? Learnt once per process: a next link
        whose ``$skip`` moved on by the page says yes (a link that merely repeats our query
        says nothing); otherwise the first item of the list is fetched and compared with the
        first one at the skip (the same item: ignored)."""
        key = self._key(path)
        if key in _skip_honoured:
            return _skip_honoured[key]
        if _next_skip(at_skip.next_link) == skip + len(at_skip.items):
            honoured = True  # Point itself moved $skip on by the page it sent
        else:
            answer = self._call("GET", path, permission=permission, params={**params, "$top": 1})
            first = transport.list_answer(answer).items[:1]
            if not first:
                return True  # an empty list: nothing to learn, nothing skipped
            honoured = not at_skip.items or at_skip.items[0] != first[0]
        with _learnt:
            _skip_honoured[key] = honoured
        if not honoured:
            logger.info("Point ignores $skip on %s; paging from the start of the list", path)
        return honoured

    def _walk(
        self, path: str, *, permission: str, params: Mapping[str, Any], top: int, skip: int
    ) -> _Rows:
        """Items [skip, skip + top) read from the start of the list by its own paging."""
        stats = transport.ListStats()
        scan = _Scan(
            self._pages(
                path, permission=permission, params={**params, "$top": SCAN_PAGE_SIZE}, stats=stats
            )
        )
        items = list(islice(scan, skip + top + 1))
        ended = len(items) <= skip + top and not scan.truncated
        total = len(items) if ended else stats.total
        return _Rows(items[skip : skip + top], total, not ended)

    def _filtered(
        self,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any],
        keep: Callable[[Mapping[str, Any]], bool],
        limit: int | None = None,
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """The items of a whole list that ``keep`` keeps (at most ``limit``), read through
        every page up to MAX_SCAN_ITEMS; and whether the bound cut the read short."""
        scan = _Scan(
            self._pages(path, permission=permission, params={**params, "$top": SCAN_PAGE_SIZE})
        )
        kept = (item for item in scan if keep(item))
        found = list(kept if limit is None else islice(kept, limit))
        return found, scan.truncated

    def _searched_page[T](
        self,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any],
        top: int,
        skip: int,
        search: str,
        read: Callable[[Mapping[str, Any]], T],
        texts: Callable[[T], Iterable[str]],
    ) -> Page[T]:
        """One page of a list, searched (§5.3). ``search`` is sent while this Point is not
        known to ignore it; an answer holding an item that does not mention the search text
        (in ``texts``: what a person sees of it) proves it was ignored, is remembered, and the
        list is then searched here: every page read (bounded), matches paged locally."""
        search = search.strip()
        if not search:
            rows = self._page(path, permission=permission, params=params, top=top, skip=skip)
            return Page([read(i) for i in rows.items], rows.total, rows.more)
        asked: _Rows | None = None
        if self._search_works(path):
            asked = rows = self._page(
                path, permission=permission, params={**params, "search": search}, top=top, skip=skip
            )
            found = [read(i) for i in rows.items]
            if all(mentions(texts(f), search) for f in found):
                return Page(found, rows.total, rows.more)
            self._learn_search_ignored(path)

        def keep(item: Mapping[str, Any]) -> bool:
            return mentions(texts(read(item)), search)

        if asked is not None and asked.whole is not None:
            # The ignored search brought the whole list already: filter it, no second read.
            matches, truncated = [i for i in asked.whole if keep(i)], False
        else:
            matches, truncated = self._filtered(
                path, permission=permission, params=params, keep=keep
            )
        return Page(
            [read(i) for i in matches[skip : skip + top]],
            None if truncated else len(matches),
            truncated or len(matches) > skip + top,
        )

    # --- Catalogue and requests (§3) --------------------------------------------------------

    def list_templates(self) -> list[CatalogueItem]:
        """GET /v1.0/provision/templates (§3.3: documented endpoint, assumed fields)."""
        return [
            wire.catalogue_item(t)
            for t in self._pages("/provision/templates", permission=PROVISIONING)
        ]

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        """POST /v1.0/provision/{teams|groups|sites|yammer} (§3.1 documented, §3.2 assumed).

        Never repeated once it may have arrived: OutcomeUnknown means "look it up before
        submitting again". Any 2xx is Point's acceptance: the request id is read from the body
        (an object, a bare string or number) or the Location header, "" when neither names it;
        the status is UNKNOWN when not given. A duplicate name, URL or alias raises
        AlreadyExists (with the request holding it, when Point says, §8).
        """
        try:
            answer = self._call(
                "POST",
                f"/provision/{wire.submit_endpoint(spec.workload)}",
                permission=PROVISIONING,
                body=wire.submit_body(spec),
                safe_to_repeat=False,
            )
        except Invalid as error:
            # Metadata names back in the request's spelling, so errors land on their fields.
            aligned = wire.align_metadata_fields(error.field_errors, spec.metadata)
            raise Invalid(aligned, status=error.status or 400) from error
        body_id = wire.submit_answer(answer.data, text=answer.text).id
        created = wire.submit_answer(
            answer.data, location=answer.headers.get("Location"), text=answer.text
        )
        if body_id:
            return created
        return replace(created, display_name=created.display_name or spec.display_name)

    def get_request(self, request_id: str) -> RequestStatus:
        """GET /v1.0/provision/requests/{id} (§3.4: documented endpoint, assumed fields)."""
        answer = self._call(
            "GET", f"/provision/requests/{_segment(request_id)}", permission=PROVISIONING
        )
        found = wire.request_status(_object(answer))
        return found if found.id else replace(found, id=request_id)

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        """GET /v1.0/provision/requests?desiredUrl=&displayName= (§4.1: the emulator's
        extension, NOT in seed 000). A Point without it answers 404 or 405: NotSupported ("this
        Point cannot list requests"), which says nothing about whether the request exists."""
        params = {
            key: value
            for key, value in (("desiredUrl", desired_url), ("displayName", display_name))
            if value
        }
        try:
            items = list(
                islice(
                    self._pages("/provision/requests", permission=PROVISIONING, params=params),
                    MAX_SCAN_ITEMS,
                )
            )
        except NotFound:
            raise NotSupported(
                "Point does not support looking requests up by name (GET /v1.0/provision/"
                "requests is not part of its documented API); this proves nothing about "
                "whether the request exists.",
                status=404,
            ) from None
        except UpstreamError as error:
            if error.status != 405:
                raise
            raise NotSupported(
                "Point does not support looking requests up by name (it answered 405 to GET "
                "/v1.0/provision/requests); this proves nothing about whether the request "
                "exists.",
                status=405,
            ) from None
        return [wire.request_status(r) for r in items]

    def find_workspace(
        self, *, workload: Workload, name: str, url_slug: str = ""
    ) -> Workspace | None:
        """The workspace a request made, through documented reads only (§4.2): teams, groups
        and communities by exact final name (GET /v1.0/groups/{name}, compared without regard
        to case: 404 is None); sites by the URL's ``/sites/<slug>`` (GET /v1.0/sites, through
        ``search`` while Point honours it, else every page, bounded by MAX_SCAN_ITEMS)."""
        if workload is not Workload.SITE:
            if not name.strip():
                return None  # GET /v1.0/groups/ would be the list, not a group
            try:
                answer = self._call("GET", f"/groups/{_segment(name)}", permission=READ_OR_ASYNC)
            except NotFound:
                return None
            found = wire.named(answer.data, name)
            if found is None:
                return None
            workspace = wire.group_workspace(found)
            if workspace.name and not wire.same_name(workspace.name, name):
                return None  # Point answered with another group (a looser match than ours)
            return replace(workspace, name=workspace.name or name)
        slug = url_slug.strip().casefold()
        wanted = slug or name
        if not wanted.strip():
            return None

        def matches(site: Site) -> bool:
            if slug:
                return wire.site_slug(site.url) == slug
            return wire.same_name(site.title, name)

        search = self._search_works("/sites")
        params: dict[str, Any] = {"$top": SCAN_PAGE_SIZE}
        if search:
            params["search"] = wanted.strip()
        for item in _Scan(self._pages("/sites", permission=SHAREPOINT_READ_ALL, params=params)):
            site = wire.site(item)
            if matches(site):
                return wire.site_workspace(item)
            if search and not mentions((site.title, site.url), wanted):
                search = False  # this answer is everything: keep reading, it is the full list
                self._learn_search_ignored("/sites")
        return None

    def find_workspaces(
        self, *, workload: Workload, containing: str, limit: int = 50
    ) -> Page[Workspace]:
        """Workspaces whose name (groups: or e-mail; sites: title or URL) contains
        ``containing``: GET /v1.0/groups or GET /v1.0/sites (§4.2, §5: documented endpoints),
        searched by Point while it honours ``search``, else read (bounded) and filtered here."""
        if not containing.strip():
            return Page([], 0, False)
        site = workload is Workload.SITE
        return self._searched_page(
            "/sites" if site else "/groups",
            permission=SHAREPOINT_READ_ALL if site else READ_OR_ASYNC,
            params={},
            top=limit,
            skip=0,
            search=containing,
            read=wire.site_workspace if site else wire.group_workspace,
            texts=lambda w: (w.name, w.url if site else w.email),
        )

    # --- Directory (§5) ---------------------------------------------------------------------

    def groups_page(
        self, *, top: int, skip: int = 0, group_type: str = "", search: str = ""
    ) -> Page[Group]:
        """One page of GET /v1.0/groups[?groupType=] (§5.1: documented endpoint, assumed
        fields and paging); ``search`` is our extension, honoured or done here (§5.3)."""
        return self._searched_page(
            "/groups",
            permission=READ_OR_ASYNC,
            params={"groupType": group_type} if group_type else {},
            top=top,
            skip=skip,
            search=search,
            read=wire.group,
            texts=lambda g: (g.name, g.email),
        )

    def get_group(self, name: str) -> Group:
        """GET /v1.0/groups/{groupName} (§5.1, documented); NotFound when no group has it."""
        answer = self._call("GET", f"/groups/{_segment(name)}", permission=READ_OR_ASYNC)
        found = wire.named(answer.data, name)
        if found is None:
            raise NotFound(f"Group {name} not found.", status=404)
        return wire.group(found)

    def sites_page(self, *, top: int, skip: int = 0, search: str = "") -> Page[Site]:
        """One page of GET /v1.0/sites (§5.2: documented endpoint, assumed fields and paging);
        ``search`` is our extension, honoured or done here (§5.3)."""
        return self._searched_page(
            "/sites",
            permission=SHAREPOINT_READ_ALL,
            params={},
            top=top,
            skip=skip,
            search=search,
            read=wire.site,
            texts=lambda s: (s.title, s.url),
        )

    def find_sites(self, search: str, *, limit: int = 10) -> list[Site]:
        """At most ``limit`` sites whose title or URL mentions ``search``: one page asked while
        Point honours ``search``, else every page read (bounded) and filtered here (§5.3)."""
        if limit <= 0:
            return []
        search = search.strip()
        params: dict[str, Any] = {"$top": limit}
        if not search or self._search_works("/sites"):
            if search:
                params["search"] = search
            pages = self._pages("/sites", permission=SHAREPOINT_READ_ALL, params=params)
            found = [wire.site(s) for s in islice(pages, limit)]
            if all(mentions((s.title, s.url), search) for s in found):
                return found
            self._learn_search_ignored("/sites")

        def keep(item: Mapping[str, Any]) -> bool:
            site = wire.site(item)
            return mentions((site.title, site.url), search)

        matches, _ = self._filtered(
            "/sites", permission=SHAREPOINT_READ_ALL, params={}, keep=keep, limit=limit
        )
        return [wire.site(s) for s in matches]

    # --- Async reports (§6) -----------------------------------------------------------------

    def start_report(self, kind: ReportKind, subject: str = "") -> ReportJob:
        """Start a report: 202 + RequestStatus (§6.1, documented in a draft). Starting one
        twice only makes a second report, so the POST is safe to repeat. The job's id comes
        from the body (an object or a bare id) or the Location header."""
        path, permission = _REPORTS[kind]
        try:
            answer = self._call(
                "POST",
                path,
                permission=permission,
                body=wire.report_body(kind, subject),
                safe_to_repeat=True,
            )
        except PermissionMissing as error:
            if kind is not ReportKind.USER_ACCESS:
                raise
            raise PermissionMissing(
                error.message,
                permission=error.permission,
                guidance=f"{error.guidance} Seed 000 names Point.AsyncRequests for this report; "
                "Point's docs since February 2026 name SharePoint.Read.All: if Point.AsyncRequests "
                "is granted and this persists, grant SharePoint.Read.All too.",
            ) from error
        job = wire.job_from_answer(answer.data, location=answer.headers.get("Location"))
        if not job.id:
            raise UpstreamError(
                "Point started the report but did not say which it is (no id in its answer)."
            )
        return job

    def get_report(self, job_id: str) -> ReportJob:
        """GET /v1.0/requests/{id}/status; a 302 (not followed) means the result is ready
        (§6.1, documented in a draft)."""
        answer = self._call("GET", f"/requests/{_segment(job_id)}/status", permission=READ_OR_ASYNC)
        job = wire.job_from_answer(answer.data, done=answer.status == 302)
        return job if job.id else replace(job, id=job_id)

    def report_rows(self, kind: ReportKind, job_id: str) -> Iterator[ReportRow]:
        """Every row of a finished report: GET /v1.0/requests/{id}/result, paged (§6.2). A
        result that is one object (one group's members) is one item; grouped items give one
        row per nested member or permission. Conflict when it is not ready or failed."""
        pages = self._pages(
            f"/requests/{_segment(job_id)}/result",
            permission=READ_OR_ASYNC,
            params={"$top": RESULT_PAGE_SIZE},
            lone_object=True,
        )
        for data in pages:
            yield from wire.report_rows(kind, data)

    # --- The connection check ---------------------------------------------------------------

    def permissions(self) -> tuple[Permission, ...]:
        return PERMISSIONS

    def probe(self, permission: str) -> str:
        """One cheap call that needs ``permission``; returns the endpoint it used. The answer
        is not decoded (the options carry the webhook signing key, a secret)."""
        if permission not in _PROBES:
            raise ValueError(f"Unknown Point permission {permission!r}.")
        path, params = _PROBES[permission]
        self._call("GET", path, permission=permission, params=params, expect_json=False)
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""
        return f"GET {API}{path}{query}"

    def check_name(self, spec: WorkspaceSpec) -> NameCheck:
        """Point publishes no naming-policy check: its templates' rules are applied on the form."""
        raise NotSupported("Point has no naming-policy check.")

    # --- Webhooks (§11) ----------------------------------------------------------------------

    def webhook_signing_key(self) -> str:
        """GET /v1.0/options (§11.3, documented): the key Point signs events with."""
        key = wire.signing_key(self._call("GET", "/options", permission=ADMIN).data)
        if not key:
            raise UpstreamError("Point's options name no webhook signing key.")
        return key

    def list_webhooks(self) -> list[WebhookRegistration]:
        """GET /v1.0/webhooks/endpoints (§11.1, documented; the plural path, §11.1 note)."""
        return [wire.webhook_registration(e) for e in self._pages(WEBHOOKS, permission=ADMIN)]

    def register_webhook(self, url: str) -> WebhookRegistration:
        """POST /v1.0/webhooks/endpoints (§11.1): 200 with an empty body or ``null``. Registering
        a URL again replaces its types (assumed), so a repeat after a lost answer is safe."""
        body = wire.webhook_body(url)
        self._call(
            "POST", WEBHOOKS, permission=ADMIN, body=body, safe_to_repeat=True, expect_json=False
        )
        return WebhookRegistration(url=url, events=tuple(body["types"]))

    def remove_webhook(self, url: str) -> bool:
        """DELETE /v1.0/webhooks/endpoints with the URL in the body (§11.1): 204, or 404 for a
        URL Point does not hold."""
        try:
            self._call(
                "DELETE", WEBHOOKS, permission=ADMIN, body={"endpoint": url}, expect_json=False
            )
        except NotFound:
            return False
        return True

    @staticmethod
    def verify_push(body: bytes, headers: Mapping[str, str], key: str) -> PushCheck:
        return wire.verify_push(body, headers, key)

    @staticmethod
    def read_push(body: bytes) -> PushedEvent:
        return wire.pushed_event(body)

"""GraphProvider: the Upstream contract on Microsoft Graph (docs/graph-contract.md).

Graph has no request objects: what the portal stores as the upstream request id is ours, and
encodes what to poll:

- ``group:{groupId}``: a Microsoft 365 group, complete once created;
- ``team:{groupId}:{operationId}``: a team being made from the group (teamsAsyncOperation);
- ``team:{groupId}``: the group exists, its team is not known to be asked for (the POST /teams
  got no answer, or it was refused for replication): polling makes it a team (again);
- ``site:{operationId}``: a beta POST /sites (getOperationStatus);
- ``siteurl:{slug}``: a site asked for whose operation is not named (polled by its URL);
- ``community:{operationId}``: a Viva Engage community (engagementAsyncOperation).

Exactly once: POST /groups refuses a second group of the same mailNickname (documented), so a
send after a lost answer is refused as AlreadyExists naming what exists (duplicates_refused).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from itertools import islice
from typing import Any
from urllib.parse import quote

from upstreams.contract import (
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    AlreadyExists,
    Capabilities,
    CatalogueItem,
    Conflict,
    Connection,
    Group,
    Invalid,
    JobState,
    MalformedEvent,
    NameCheck,
    NotFound,
    NotSupported,
    Page,
    Permission,
    PermissionMissing,
    Person,
    PushCheck,
    PushedEvent,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    Status,
    SyncJob,
    UpstreamError,
    WebhookRegistration,
    Workload,
    Workspace,
    WorkspaceSpec,
    mentions,
)
from upstreams.graph import transport, wire
from upstreams.graph.transport import EVENTUAL

logger = logging.getLogger(__name__)

# The id of a group's membership list (a "report" Graph answers at once).
MEMBERS = "members:"

# Application permissions (reference §3.7; docs/graph-contract.md lists what each opens).
GROUP_READWRITE = "Group.ReadWrite.All"
GROUP_READ = "Group.Read.All"  # validateProperties' least privilege; ReadWrite covers it
USER_READ = "User.Read.All"
SITES_READ = "Sites.Read.All"
SITES_CREATE = "Sites.Create.All"
COMMUNITY = "Community.ReadWrite.All"
APPLICATION_READ = "Application.Read.All"
SYNCHRONIZATION = "Synchronization.ReadWrite.All"

PERMISSIONS = (
    Permission(
        GROUP_READWRITE,
        needed_for="creating groups and teams, the groups list, and finding a group or team "
        "after a send that got no answer; also the naming-policy check",
    ),
    Permission(USER_READ, needed_for="owners and members by UPN; the people picker"),
    Permission(
        SITES_READ,
        needed_for="the sites list, finding a site by its URL, and the SharePoint host name "
        "that creating a site needs",
        optional=True,
    ),
    Permission(SITES_CREATE, needed_for="creating SharePoint sites (Graph beta)", optional=True),
    Permission(COMMUNITY, needed_for="creating Viva Engage communities", optional=True),
    Permission(
        APPLICATION_READ,
        needed_for="listing enterprise applications for provisioning-job credentials",
        optional=True,
    ),
    Permission(
        SYNCHRONIZATION,
        needed_for="provisioning jobs and handing them credentials",
        optional=True,
    ),
)

# One cheap read per permission; None: no harmless call proves it (the token's roles decide).
_PROBES: dict[str, tuple[str, dict[str, Any]] | None] = {
    GROUP_READWRITE: ("/groups", {"$top": 1, "$select": "id"}),
    USER_READ: ("/users", {"$top": 1, "$select": "id"}),
    SITES_READ: ("/sites/root", {"$select": "id"}),
    APPLICATION_READ: ("/servicePrincipals", {"$top": 1, "$select": "id"}),
    COMMUNITY: ("/employeeExperience/communities", {"$top": 1}),
    SITES_CREATE: None,
    SYNCHRONIZATION: None,
}

# POST /teams on a group younger than ~15 minutes may 404: retry 3 times, 10 s apart (§3.2).
TEAM_RETRIES = 3
TEAM_RETRY_WAIT = 10.0
MAX_PAGE = 999  # Graph's largest $top
MAX_SCAN_ITEMS = 5000  # the most items one page view or search reads through
MAX_PRINCIPALS = 50  # enterprise apps whose jobs sync_jobs reads
ID_MAX = 100  # what the portal stores of an upstream request id
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _segment(value: str) -> str:
    """A value as one path segment: "/", "?" and "#" cannot reach another endpoint."""
    return quote(value, safe="@")


def _group_type_filter(group_type: str) -> Callable[[Mapping[str, Any]], bool] | None:
    if not group_type:
        return None
    return lambda item: wire.group(item).group_type == group_type


class GraphProvider:
    """One tenant's Microsoft Graph, bound to its Connection (upstreams.contract.Upstream,
    PeopleDirectory and ProvisioningJobs)."""

    kind = "graph"
    label = "Microsoft Graph"
    capabilities = Capabilities(
        catalogue=False,
        approvals=False,
        request_lookup=True,
        directory=True,
        reports=True,
        report_kinds=frozenset({ReportKind.GROUP_MEMBERSHIPS}),
        webhooks=False,
        # A second group of the alias is refused (ObjectConflict), a second site of the URL
        # too (409); a community has no unique key, so a second one would be made.
        duplicates_refused=frozenset({Workload.GROUP, Workload.TEAM, Workload.SITE}),
        name_check=True,
        workloads=frozenset(Workload),
    )

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"GraphProvider({self.connection.base_url!r})"

    # --- Calls ------------------------------------------------------------------------------

    @property
    def _root(self) -> str:
        return self.connection.base_url.rstrip("/")

    def _call(self, method: str, path: str, **kwargs: Any) -> transport.Answer:
        return transport.call(self.connection, method, path, **kwargs)

    def _get(self, path: str, *, permission: str, **kwargs: Any) -> Any:
        return self._call("GET", path, permission=permission, **kwargs).data

    def _items(
        self,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        return islice(
            transport.items(
                self.connection, path, permission=permission, params=params, headers=headers
            ),
            MAX_SCAN_ITEMS,
        )

    def _window(
        self,
        path: str,
        *,
        permission: str,
        params: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        top: int,
        skip: int,
        keep: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> tuple[list[Mapping[str, Any]], int | None, bool]:
        """Items [skip, skip + top) of a collection. Graph has no ``$skip``: pages are read by
        their next link and the first ``skip`` items dropped. ``keep`` filters on our side (the
        total is then what was counted, when the whole list was read)."""
        wanted = max(skip, 0) + max(top, 0)
        found: list[Mapping[str, Any]] = []
        total: int | None = None
        more = False
        ended = True
        params = {**params, "$top": min(MAX_PAGE, wanted + 1)}
        for number, page in enumerate(
            transport.pages(
                self.connection, path, permission=permission, params=params, headers=headers
            )
        ):
            if number == 0 and keep is None:
                total = page.count
            found.extend(i for i in page.items if keep is None or keep(i))
            if len(found) >= wanted:
                more = len(found) > wanted or bool(page.next_link)
                ended = not more
                break
            if len(found) >= MAX_SCAN_ITEMS and page.next_link:
                logger.warning("Graph %s read up to its bound of %d items", path, MAX_SCAN_ITEMS)
                more, ended = True, False
                break
        if total is None and ended:
            total = len(found)
        return found[skip:wanted], total, more

    # --- People (PeopleDirectory) -----------------------------------------------------------

    def search_people(self, text: str, *, limit: int = 10) -> list[Person]:
        """GET /users filtered by the start of the name, UPN or mail."""
        text = text.strip()
        if not text or limit <= 0:
            return []
        value = wire.quoted(text)
        clauses = [f"startswith({name},{value})" for name in ("displayName", "userPrincipalName")]
        params = {"$select": wire.USER_SELECT, "$top": min(limit, MAX_PAGE)}
        try:
            data = self._get(
                "/users",
                permission=USER_READ,
                params={**params, "$filter": " or ".join([*clauses, f"startswith(mail,{value})"])},
            )
        except Invalid:
            # A directory that refuses startswith on mail still answers by name and UPN.
            data = self._get(
                "/users", permission=USER_READ, params={**params, "$filter": " or ".join(clauses)}
            )
        return [wire.person(u) for u in wire.page(data).items[:limit]]

    def get_person(self, upn: str) -> Person | None:
        if not upn.strip():
            return None
        try:
            data = self._get(
                f"/users/{_segment(upn.strip())}",
                permission=USER_READ,
                params={"$select": wire.USER_SELECT},
            )
        except NotFound:
            return None
        return wire.person(data if isinstance(data, Mapping) else {})

    def _resolve(self, spec: WorkspaceSpec) -> tuple[list[Person], list[Person]]:
        """Owners and members by UPN, before any write: Invalid names every UPN not found."""
        known: dict[str, Person | None] = {}
        missing: dict[str, list[str]] = {}

        def look(upns: tuple[str, ...], field: str) -> list[Person]:
            found: list[Person] = []
            for upn in dict.fromkeys(u.strip() for u in upns if u.strip()):
                key = upn.casefold()
                if key not in known:
                    known[key] = self.get_person(upn)
                person = known[key]
                if person is None or not person.id:
                    missing.setdefault(field, []).append(f"{upn} was not found in the directory.")
                elif person not in found:
                    found.append(person)
            return found

        owners = look(spec.owners, FIELD_OWNERS)
        members = look(spec.members, FIELD_MEMBERS)
        if missing:
            raise Invalid(missing)
        if not owners:
            raise Invalid(
                {
                    FIELD_OWNERS: [
                        "Microsoft Graph needs at least one owner: what an app creates without "
                        "an owner cannot be managed afterwards."
                    ]
                }
            )
        return owners, members

    # --- Catalogue and requests -------------------------------------------------------------

    def list_templates(self) -> list[CatalogueItem]:
        raise NotSupported(
            "Microsoft Graph has no provisioning templates: define them in the portal."
        )

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        """Create the workspace (see the module docstring for the ids). Writes are never
        repeated once they may have arrived: OutcomeUnknown before the group exists."""
        if spec.workload is Workload.SITE:
            return self._submit_site(spec)
        if spec.workload is Workload.COMMUNITY:
            return self._submit_community(spec)
        owners, members = self._resolve(spec)
        nick = wire.nickname(spec)
        group = self._create_group(spec, nick, owners, members)
        gid = wire.object_id(group)
        fields = wire.Fields(group)
        made = RequestStatus(
            id=f"group:{gid}",
            status=Status.COMPLETED,
            display_name=fields.text("displayName") or spec.display_name,
            desired_url=nick,
            workspace_id=gid,
            email=fields.text("mail"),
            requested_at=wire.when(fields.get("createdDateTime")),
        )
        if not gid:
            # Created, but the answer did not say which: the portal looks it up (never resends).
            logger.warning("Graph POST /groups: created without an id in the answer")
            return replace(made, id="", status=Status.IN_PROGRESS)
        self._add_rest(gid, "owners", owners)
        self._add_rest(gid, "members", members)
        if spec.workload is not Workload.TEAM:
            return made
        try:
            return replace(
                made, id=self._teamify(gid, retries=TEAM_RETRIES), status=Status.IN_PROGRESS
            )
        except UpstreamError as error:
            # The group exists: the request is ours whatever happened to the team; polling
            # asks for the team again (get_request of team:{gid}).
            logger.warning("Graph POST /teams for group %s: %s", gid, error.message)
            return replace(made, id=f"team:{gid}", status=Status.IN_PROGRESS)

    def _create_group(
        self, spec: WorkspaceSpec, nick: str, owners: list[Person], members: list[Person]
    ) -> Mapping[str, Any]:
        body = wire.group_body(
            spec, nick, [p.id for p in owners], [p.id for p in members], self._root
        )
        try:
            answer = self._call(
                "POST", "/groups", permission=GROUP_READWRITE, body=body, safe_to_repeat=False
            )
        except AlreadyExists as error:
            raise AlreadyExists(
                f"Another group already has the e-mail alias {nick} ({error.message}).",
                status=error.status,
                field=FIELD_DESIRED_URL,
                existing=self._existing_group(spec.workload, nick),
            ) from None
        return answer.data if isinstance(answer.data, Mapping) else {}

    def _existing_group(self, workload: Workload, nick: str) -> RequestStatus | None:
        """What holds an alias, as get_request would say it; None when it cannot be read (a
        new group may be missing from filtered reads for a while)."""
        try:
            found = self._groups_where(f"mailNickname eq {wire.quoted(nick)}")
        except UpstreamError as error:
            logger.info("Graph: the group holding %s not read: %s", nick, error.message)
            return None
        if not found:
            return None
        return self._group_request(found[0], team=workload is Workload.TEAM)

    def _group_request(self, group: Mapping[str, Any], *, team: bool) -> RequestStatus:
        fields = wire.Fields(group)
        gid = fields.text("id")
        status = RequestStatus(
            id=f"group:{gid}",
            status=Status.COMPLETED,
            display_name=fields.text("displayName"),
            desired_url=fields.text("mailNickname"),
            workspace_id=gid,
            email=fields.text("mail"),
            requested_at=wire.when(fields.get("createdDateTime")),
        )
        if not team:
            return status
        made = wire.is_team(group)
        return replace(
            status,
            id=f"team:{gid}",
            status=Status.COMPLETED if made else Status.IN_PROGRESS,
        )

    def _add_rest(self, gid: str, relation: str, people: list[Person]) -> None:
        """Owners or members beyond the BIND_LIMIT of the create call, one $ref each. The group
        exists, so a failure here is logged, not raised (the request is ours either way)."""
        for person in people[wire.BIND_LIMIT :]:
            try:
                self._call(
                    "POST",
                    f"/groups/{_segment(gid)}/{relation}/$ref",
                    permission=GROUP_READWRITE,
                    body=wire.reference_body(self._root, person.id),
                    safe_to_repeat=True,  # a second add is refused as already there
                    expect_json=False,
                )
            except Invalid as error:
                if "already exist" not in error.message.casefold():
                    logger.warning("Graph: %s %s not added: %s", relation, person.upn, error)
            except UpstreamError as error:
                logger.warning("Graph: %s %s not added: %s", relation, person.upn, error.message)

    def _teamify(self, gid: str, *, retries: int) -> str:
        """POST /teams from the group; the request id to poll. A group has at most one team,
        so a repeat is harmless (409: already being made). A 404 (the group not replicated
        yet) is retried ``retries`` times, TEAM_RETRY_WAIT apart, then raised."""
        attempt = 0
        while True:
            try:
                answer = self._call(
                    "POST",
                    "/teams",
                    permission=GROUP_READWRITE,
                    body=wire.team_body(self._root, gid),
                    safe_to_repeat=True,
                    expect_json=False,
                )
            except Conflict:
                return f"team:{gid}"
            except NotFound:
                if attempt >= retries:
                    raise
                attempt += 1
                self.connection.sleep(TEAM_RETRY_WAIT)
                continue
            _team, op = wire.team_operation(answer.headers.get("Location"))
            encoded = f"team:{gid}:{op}"
            return encoded if op and len(encoded) <= ID_MAX else f"team:{gid}"

    def _submit_site(self, spec: WorkspaceSpec) -> RequestStatus:
        owners, _members = self._resolve(spec)  # the site's only people are its owner
        host = self._host()
        path = wire.site_slug(spec)
        body = wire.site_body(spec, host, path, owners[0].mail or owners[0].upn)
        try:
            answer = self._call(
                "POST",
                transport.beta_url(self.connection, "/sites"),
                permission=SITES_CREATE,
                body=body,
                safe_to_repeat=False,
            )
        except NotFound:
            raise NotSupported(self._no_site_api(), status=404) from None
        except NotSupported as error:
            raise NotSupported(self._no_site_api(), status=error.status) from None
        except Invalid as error:
            if not wire.says_unsupported(error.message):
                raise
            raise NotSupported(self._no_site_api(), status=error.status) from None
        except Conflict as error:
            raise AlreadyExists(
                f"A site already has the address https://{host}/sites/{path} ({error.message}).",
                status=error.status,
                field=FIELD_DESIRED_URL,
                existing=self._site_by_url(path, host=host),
            ) from None
        op = wire.operation_id(answer.headers.get("Location"))
        encoded = f"site:{op}"
        return RequestStatus(
            id=encoded if op and len(encoded) <= ID_MAX else f"siteurl:{path}",
            status=Status.IN_PROGRESS,
            display_name=spec.display_name,
            desired_url=path,
            workspace_url=f"https://{host}/sites/{path}",
        )

    @staticmethod
    def _no_site_api() -> str:
        return (
            "Creating SharePoint sites through Microsoft Graph is not available for this tenant "
            "(the beta POST /sites API is not offered here)."
        )

    def _host(self) -> str:
        found = wire.host(self._get("/sites/root", permission=SITES_READ))
        if not found:
            raise UpstreamError(
                "Microsoft Graph did not say the SharePoint host (GET /sites/root)."
            )
        return found

    def _site_by_url(self, path: str, *, host: str = "") -> RequestStatus:
        """A site by its URL, as get_request says it: COMPLETED when it reads, else still being
        made (its URL is taken, so something is there or on its way)."""
        try:
            host = host or self._host()
            data = self._get(f"/sites/{host}:/sites/{_segment(path)}", permission=SITES_READ)
        except NotFound:
            return RequestStatus(id=f"siteurl:{path}", status=Status.IN_PROGRESS, desired_url=path)
        workspace = wire.site_workspace(data)
        return RequestStatus(
            id=f"siteurl:{path}",
            status=Status.COMPLETED,
            display_name=workspace.name,
            desired_url=path,
            workspace_id=workspace.id,
            workspace_url=workspace.url,
            requested_at=workspace.created_at,
        )

    def _submit_community(self, spec: WorkspaceSpec) -> RequestStatus:
        owners, _members = self._resolve(spec)  # members join the community's group later
        answer = self._call(
            "POST",
            "/employeeExperience/communities",
            permission=COMMUNITY,
            body=wire.community_body(spec, [p.id for p in owners], self._root),
            safe_to_repeat=False,
        )
        location = answer.headers.get("Operation-Location") or answer.headers.get("Location")
        op = wire.operation_id(location)
        encoded = f"community:{op}"
        # Not named (or too long to store): accepted all the same; the portal looks it up.
        return RequestStatus(
            id=encoded if op and len(encoded) <= ID_MAX else "",
            status=Status.IN_PROGRESS,
            display_name=spec.display_name,
        )

    def get_request(self, request_id: str) -> RequestStatus:
        kind, _, rest = request_id.partition(":")
        if not rest:
            raise NotFound(f"{request_id!r} is not a Microsoft Graph request of this portal.")
        if kind == "group":
            return RequestStatus(id=request_id, status=Status.COMPLETED, workspace_id=rest)
        if kind == "team":
            gid, _, op = rest.partition(":")
            return replace(self._team_status(gid, op), id=request_id)
        if kind == "site":
            return replace(self._site_status(rest), id=request_id)
        if kind == "siteurl":
            return replace(self._site_by_url(rest), id=request_id)
        if kind == "community":
            return replace(self._community_status(rest), id=request_id)
        raise NotFound(f"{request_id!r} is not a Microsoft Graph request of this portal.")

    def _team_url(self, gid: str) -> str:
        try:
            return wire.web_url(self._get(f"/teams/{_segment(gid)}", permission=GROUP_READWRITE))
        except UpstreamError:
            return ""  # the team is there; its URL is an extra

    def _team_status(self, gid: str, op: str) -> RequestStatus:
        done = RequestStatus(id="", status=Status.COMPLETED, workspace_id=gid)
        if op:
            try:
                data = self._get(
                    f"/teams/{_segment(gid)}/operations/{_segment(op)}",
                    permission=GROUP_READWRITE,
                )
            except NotFound:
                pass  # the operation is gone: the team tells
            else:
                found = wire.operation(data)
                if found.status is Status.COMPLETED:
                    return replace(done, status_text=found.word, workspace_url=self._team_url(gid))
                return RequestStatus(
                    id="",
                    status=found.status,
                    status_text=found.word,
                    workspace_id=gid,
                    error=found.error if found.status is Status.FAILED else "",
                )
        try:
            team = self._get(f"/teams/{_segment(gid)}", permission=GROUP_READWRITE)
        except NotFound:
            pass
        else:
            return replace(done, workspace_url=wire.web_url(team))
        try:
            self._teamify(gid, retries=0)  # its id is not stored: the portal keeps its own
        except NotFound:
            pass  # the group is not replicated yet: the next poll asks again
        except Invalid as error:
            return RequestStatus(
                id="",
                status=Status.FAILED,
                workspace_id=gid,
                error=f"Microsoft Graph did not make the group a team: {error.message}",
            )
        return RequestStatus(id="", status=Status.IN_PROGRESS, workspace_id=gid)

    def _site_status(self, op: str) -> RequestStatus:
        escaped = quote(op.replace("'", "''"), safe="")
        data = self._get(
            transport.beta_url(
                self.connection, f"/sites/getOperationStatus(operationId='{escaped}')"
            ),
            permission=SITES_CREATE,
        )
        found = wire.operation(data)
        status = RequestStatus(
            id="",
            status=found.status,
            status_text=found.word,
            workspace_id=found.resource_id,
            error=found.error if found.status is Status.FAILED else "",
        )
        if found.status is Status.COMPLETED and found.resource_id:
            try:
                site = self._get(f"/sites/{_segment(found.resource_id)}", permission=SITES_READ)
                status = replace(status, workspace_url=wire.web_url(site))
            except UpstreamError:
                pass  # the site is made; its URL is an extra
        return status

    def _community_status(self, op: str) -> RequestStatus:
        data = self._get(
            f"/employeeExperience/engagementAsyncOperations/{_segment(op)}", permission=COMMUNITY
        )
        found = wire.operation(data)
        return RequestStatus(
            id="",
            status=found.status,
            status_text=found.word,
            workspace_id=found.resource_id,
            error=found.error if found.status is Status.FAILED else "",
        )

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        """Teams made from a group of this alias (else name): ``team:{gid}`` COMPLETED.

        A plain group is not returned: the workload is not passed, and a group without a team
        may be a team request half-way (adopting it as a complete group would lose the team).
        An empty answer makes the portal send again, which POST /groups refuses as a duplicate
        alias (AlreadyExists naming ``group:`` or ``team:`` by the request's workload); filtered
        reads are eventually consistent, so that refusal is the proof, not this list."""
        if desired_url.strip():
            where = f"mailNickname eq {wire.quoted(wire.slug(desired_url))}"
        elif display_name.strip():
            where = f"displayName eq {wire.quoted(display_name.strip())}"
        else:
            return []
        return [
            self._group_request(g, team=True) for g in self._groups_where(where) if wire.is_team(g)
        ]

    def _groups_where(self, where: str) -> list[Mapping[str, Any]]:
        return list(
            self._items(
                "/groups",
                permission=GROUP_READWRITE,
                params={"$filter": where, "$select": wire.GROUP_SELECT},
            )
        )

    def find_workspace(
        self, *, workload: Workload, name: str, url_slug: str = ""
    ) -> Workspace | None:
        """The workspace itself: a group by alias (else name); a team is its group once
        GET /teams/{id} reads; a site by its URL; a community by its name (else its group)."""
        if workload is Workload.SITE:
            path = wire.slug(url_slug or name, limit=wire.SITE_SLUG_MAX)
            found = self._site_by_url(path)
            if found.status is not Status.COMPLETED:
                return None
            return Workspace(
                id=found.workspace_id,
                name=found.display_name,
                url=found.workspace_url,
                created_at=found.requested_at,
            )
        if not name.strip() and not url_slug.strip():
            return None
        if workload is Workload.COMMUNITY:
            try:
                data = self._get(
                    "/employeeExperience/communities",
                    permission=COMMUNITY,
                    params={"$filter": f"displayName eq {wire.quoted(name.strip())}"},
                )
            except (Invalid, NotFound, NotSupported, PermissionMissing):
                pass  # the community's group carries its name
            else:
                items = wire.page(data).items
                return wire.community_workspace(items[0]) if items else None
        if url_slug.strip() and workload is not Workload.COMMUNITY:
            where = f"mailNickname eq {wire.quoted(wire.slug(url_slug))}"
        else:
            where = f"displayName eq {wire.quoted(name.strip())}"
        groups = self._groups_where(where)
        if not groups:
            return None
        group = groups[0]
        if workload is not Workload.TEAM:
            return wire.group_workspace(group)
        gid = wire.object_id(group)
        try:
            team = self._get(f"/teams/{_segment(gid)}", permission=GROUP_READWRITE)
        except NotFound:
            return None  # the group of a team request that is not a team yet
        return wire.group_workspace(group, url=wire.web_url(team))

    def find_workspaces(
        self, *, workload: Workload, containing: str, limit: int = 50
    ) -> Page[Workspace]:
        """Workspaces whose name (a site: or URL) contains ``containing``: Graph's word search,
        then filtered here (a word search is not "contains")."""
        text = containing.strip()
        if not text or limit <= 0:
            return Page([], 0, False)
        if workload is Workload.SITE:
            sites = [
                wire.site_workspace(s)
                for s in self._items("/sites", permission=SITES_READ, params={"search": text})
            ]
            kept = [w for w in sites if mentions((w.name, w.url), text)]
            return Page(kept[:limit], None, len(kept) > limit)
        groups = [
            wire.group_workspace(g)
            for g in islice(self._search_groups(text), MAX_SCAN_ITEMS)
            if mentions((wire.Fields(g).text("displayName"),), text)
        ]
        return Page(groups[:limit], None, len(groups) > limit)

    def _search_groups(self, text: str) -> Iterator[Mapping[str, Any]]:
        """Groups by a word of their name ($search), or by its start where $search is refused."""
        try:
            yield from self._items(
                "/groups",
                permission=GROUP_READWRITE,
                params={
                    "$search": wire.search_term(text),
                    "$count": "true",
                    "$select": wire.GROUP_SELECT,
                },
                headers=EVENTUAL,
            )
        except Invalid:
            yield from self._items(
                "/groups",
                permission=GROUP_READWRITE,
                params={
                    "$filter": f"startswith(displayName,{wire.quoted(text)})",
                    "$select": wire.GROUP_SELECT,
                },
            )

    # --- Directory --------------------------------------------------------------------------

    def groups_page(
        self, *, top: int, skip: int = 0, group_type: str = "", search: str = ""
    ) -> Page[Group]:
        """GET /groups, paged by next link. Microsoft 365 groups are filtered by Graph; the
        other types here (their filters are advanced queries)."""
        params: dict[str, Any] = {"$select": wire.GROUP_SELECT}
        headers: dict[str, str] | None = None
        keep = None
        if group_type == "UnifiedGroup":
            params["$filter"] = "groupTypes/any(c:c eq 'Unified')"
        else:
            keep = _group_type_filter(group_type)
        if search.strip():
            params.update({"$search": wire.search_term(search), "$count": "true"})
            headers = EVENTUAL
        rows, total, more = self._window(
            "/groups",
            permission=GROUP_READWRITE,
            params=params,
            headers=headers,
            top=top,
            skip=skip,
            keep=keep,
        )
        return Page([wire.group(g) for g in rows], total, more)

    def get_group(self, name: str) -> Group:
        """A group by id or display name, with its member and owner counts when Graph says."""
        name = name.strip()
        found: Any = None
        if _GUID.match(name):
            try:
                found = self._get(
                    f"/groups/{name}",
                    permission=GROUP_READWRITE,
                    params={"$select": wire.GROUP_SELECT},
                )
            except NotFound:
                found = None
        if found is None and name:
            groups = self._groups_where(f"displayName eq {wire.quoted(name)}")
            found = groups[0] if groups else None
        if not isinstance(found, Mapping) or not wire.object_id(found):
            raise NotFound(f"Group {name} not found.", status=404)
        group = wire.group(found)
        return replace(
            group,
            members_count=self._count(group.id, "members"),
            owners_count=self._count(group.id, "owners"),
        )

    def _count(self, gid: str, relation: str) -> int | None:
        try:
            data = self._get(
                f"/groups/{_segment(gid)}/{relation}/$count",
                permission=GROUP_READWRITE,
                headers=EVENTUAL,
            )
        except UpstreamError as error:
            logger.info("Graph: %s of %s not counted: %s", relation, gid, error.message)
            return None
        return wire.count(data)

    def sites_page(self, *, top: int, skip: int = 0, search: str = "") -> Page[Site]:
        """GET /sites?search= (``*`` for every site), paged by next link."""
        rows, total, more = self._window(
            "/sites",
            permission=SITES_READ,
            params={"search": search.strip() or "*"},
            headers=None,
            top=top,
            skip=skip,
        )
        return Page([wire.site(s) for s in rows], total, more)

    def find_sites(self, search: str, *, limit: int = 10) -> list[Site]:
        if limit <= 0:
            return []
        return self.sites_page(top=limit, search=search).items

    # Graph lists a group's members and owners at once: the membership "report" is done when
    # it starts, and its rows are read from /groups/{id}/owners and /members when stored.
    # Site permissions and access reports have no Graph equivalent here.

    def start_report(self, kind: ReportKind, subject: str = "") -> ReportJob:
        if kind != ReportKind.GROUP_MEMBERSHIPS or not subject:
            raise NotSupported("Microsoft Graph lists the members of one group, no other report.")
        return ReportJob(id=f"{MEMBERS}{subject}", state=JobState.SUCCEEDED)

    def get_report(self, job_id: str) -> ReportJob:
        if not job_id.startswith(MEMBERS):
            raise NotFound(f"No report {job_id}.", status=404)
        return ReportJob(id=job_id, state=JobState.SUCCEEDED)

    def report_rows(self, kind: ReportKind, job_id: str) -> Iterator[ReportRow]:
        """The group's owners, then its members (direct ones: Graph's /members)."""
        gid = job_id.removeprefix(MEMBERS)
        for role, relation in (("owner", "owners"), ("member", "members")):
            found = transport.items(
                self.connection,
                f"/groups/{_segment(gid)}/{relation}",
                permission=GROUP_READWRITE,
                params={"$select": wire.MEMBER_SELECT, "$top": 999},
            )
            for item in found:
                yield wire.member_row(item, role=role, group_id=gid)

    # --- The connection check ---------------------------------------------------------------

    def permissions(self) -> tuple[Permission, ...]:
        return PERMISSIONS

    def probe(self, permission: str) -> str:
        if permission not in _PROBES:
            raise ValueError(f"Unknown Microsoft Graph permission {permission!r}.")
        probe = _PROBES[permission]
        if probe is None:
            raise NotSupported(
                f"No harmless Microsoft Graph call proves {permission}; the token's roles decide."
            )
        path, params = probe
        self._call("GET", path, permission=permission, params=params, expect_json=False)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"GET /v1.0{path}?{query}"

    def check_name(self, spec: WorkspaceSpec) -> NameCheck:
        """POST /directoryObjects/validateProperties: the tenant's group naming policy (and
        whether the alias is free). Sites make no group, so it does not apply to them."""
        if spec.workload is Workload.SITE:
            raise NotSupported("The group naming policy does not apply to SharePoint sites.")
        try:
            self._call(
                "POST",
                "/directoryObjects/validateProperties",
                permission=GROUP_READ,
                body=wire.validate_body(spec.display_name, wire.nickname(spec)),
                safe_to_repeat=True,  # a check changes nothing
                expect_json=False,
            )
        except AlreadyExists as error:
            return NameCheck({FIELD_DESIRED_URL: [error.message]})
        except Invalid as error:
            problems: dict[str, list[str]] = {}
            for field, messages in error.field_errors.items():
                key = field if field in (FIELD_DISPLAY_NAME, FIELD_DESIRED_URL) else ""
                problems.setdefault(key or FIELD_DISPLAY_NAME, []).extend(messages)
            return NameCheck(problems)
        return NameCheck()

    # --- Provisioning jobs (ProvisioningJobs) -----------------------------------------------

    def sync_jobs(self, search: str = "") -> list[SyncJob]:
        """Enterprise applications (at most MAX_PRINCIPALS) and their provisioning jobs."""
        params: dict[str, Any] = {"$select": "id,appId,displayName", "$top": 100}
        headers = None
        if search.strip():
            params.update({"$search": wire.search_term(search), "$count": "true"})
            headers = EVENTUAL
        principals = islice(
            self._items(
                "/servicePrincipals", permission=APPLICATION_READ, params=params, headers=headers
            ),
            MAX_PRINCIPALS,
        )
        jobs: list[SyncJob] = []
        for principal in list(principals):
            sp_id = wire.object_id(principal)
            if not sp_id:
                continue
            try:
                data = self._get(
                    f"/servicePrincipals/{_segment(sp_id)}/synchronization/jobs",
                    permission=SYNCHRONIZATION,
                )
            except NotFound:
                continue  # an application without provisioning
            jobs.extend(wire.sync_jobs(principal, data))
        return jobs

    def acquire_sync_token(self, service_principal_id: str, credentials: Mapping[str, str]) -> None:
        """POST .../synchronization/acquireAccessToken: 204. The values are secrets: no message
        or exception of ours holds one, and Graph's words are scrubbed of them."""

        def scrubbed(text: str) -> str:
            for value in credentials.values():
                if value:
                    text = text.replace(value, "[hidden]")
            return text

        try:
            self._call(
                "POST",
                f"/servicePrincipals/{_segment(service_principal_id)}/synchronization/"
                "acquireAccessToken",
                permission=SYNCHRONIZATION,
                body=wire.credentials_body(credentials),
                safe_to_repeat=True,  # the same credentials again change nothing
                expect_json=False,
            )
        except Invalid as error:
            raise Invalid({"": [scrubbed(error.message)]}, status=error.status or 400) from None
        except NotFound:
            raise NotFound(
                f"No enterprise application with id {service_principal_id}.", status=404
            ) from None
        except UpstreamError as error:
            if scrubbed(error.text) == error.text:
                raise
            raise UpstreamError(scrubbed(error.message), status=error.status) from None

    # --- Webhooks: Graph pushes nothing to the portal ---------------------------------------

    def webhook_signing_key(self) -> str:
        raise NotSupported("Microsoft Graph pushes no events to the portal.")

    def list_webhooks(self) -> list[WebhookRegistration]:
        raise NotSupported("Microsoft Graph pushes no events to the portal.")

    def register_webhook(self, url: str) -> WebhookRegistration:
        raise NotSupported("Microsoft Graph pushes no events to the portal.")

    def remove_webhook(self, url: str) -> bool:
        raise NotSupported("Microsoft Graph pushes no events to the portal.")

    @staticmethod
    def verify_push(body: bytes, headers: Mapping[str, str], key: str) -> PushCheck:
        return PushCheck.INVALID  # nothing Graph sends is signed for the portal

    @staticmethod
    def read_push(body: bytes) -> PushedEvent:
        raise MalformedEvent("Microsoft Graph pushes no events to the portal.")

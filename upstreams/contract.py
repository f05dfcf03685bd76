"""The neutral upstream contract: everything the request flow, the catalogue, the directory,
availability and the connection check see of an upstream.

An upstream package (upstreams/point/, later GT365 and Microsoft Graph) reads and writes its
own wire shapes in one module and hands out only these types and errors. Field errors name
the neutral fields below (``FIELD_*``), never the upstream's keys.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

# --- Errors ------------------------------------------------------------------------------------


class UpstreamError(Exception):
    """A failed upstream call. ``retryable``: the same call later may succeed."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def text(self) -> str:
        """What went wrong, plus what to do when known (guidance for an admin)."""
        guidance = getattr(self, "guidance", "")
        return f"{self.message} {guidance}".strip()


class Unavailable(UpstreamError):
    """Could not be reached, timed out, or kept answering 5xx or broken bodies."""

    retryable = True


class Throttled(UpstreamError):
    """429: try again after ``retry_after`` seconds (already capped by the connection)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class OutcomeUnknown(UpstreamError):
    """A write may have been carried out but no answer came: look it up before writing again."""


class AuthenticationFailed(UpstreamError):
    """No token (the identity provider said why: ``guidance``), or the upstream rejected it.

    ``retryable`` when the identity provider is only unavailable for now.
    """

    def __init__(
        self,
        message: str,
        *,
        guidance: str = "",
        retryable: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.guidance = guidance
        self.retryable = retryable


class PermissionMissing(UpstreamError):
    """403: the app registration lacks ``permission`` (or it was not consented)."""

    def __init__(self, message: str, *, permission: str, guidance: str = "") -> None:
        super().__init__(message, status=403)
        self.permission = permission
        self.guidance = guidance


class Invalid(UpstreamError):
    """The upstream refused the input. ``field_errors`` maps a neutral field name (``FIELD_*``,
    ``metadata_field(name)``, or "" for the whole request) to its messages."""

    def __init__(
        self, field_errors: Mapping[str, list[str]], *, status: int = 400, message: str = ""
    ) -> None:
        details = "; ".join(
            f"{name or 'request'}: {' '.join(messages)}" for name, messages in field_errors.items()
        )
        super().__init__(message or f"The request was refused: {details}", status=status)
        self.field_errors = {name: list(messages) for name, messages in field_errors.items()}


class NotFound(UpstreamError):
    """The object does not exist upstream."""


class Conflict(UpstreamError):
    """409: e.g. a report result that is not ready, or an object that already exists."""


class AlreadyExists(Conflict):
    """A submit was refused because a workspace or request with its name (or URL, or alias)
    already exists upstream. ``existing_id``: the upstream request id, when the answer names it.
    ``existing``: what the provider could read of the object that holds the name (its status,
    when it was made), when it looked; ``field``: the neutral field the clash is on.

    After an attempt that may have arrived, this is our own request: the caller adopts it.
    """

    def __init__(
        self,
        message: str,
        *,
        existing_id: str = "",
        status: int | None = 409,
        existing: RequestStatus | None = None,
        field: str = "",
    ) -> None:
        super().__init__(message, status=status)
        self.existing_id = existing_id or (existing.id if existing is not None else "")
        self.existing = existing
        self.field = field


class NotSupported(UpstreamError):
    """The upstream (or this tenant's configuration of it) cannot do this."""


# Neutral field names of a workspace request, for Invalid.field_errors.
FIELD_DISPLAY_NAME = "display_name"
FIELD_DESCRIPTION = "description"
FIELD_DESIRED_URL = "desired_url"
FIELD_PRIVACY = "is_private"
FIELD_OWNERS = "owners"
FIELD_MEMBERS = "members"
FIELD_COMMENT = "comment"
FIELD_TEMPLATE = "template"
METADATA_PREFIX = "metadata."


def metadata_field(name: str) -> str:
    """The neutral field name of a template's custom metadata field."""
    return f"{METADATA_PREFIX}{name}"


def mentions(texts: Iterable[str], search: str) -> bool:
    """Does any of ``texts`` contain ``search`` (case-insensitively)? How a list is searched
    on the portal's side, and how an adapter tells whether its upstream honoured a search."""
    needle = search.strip().casefold()
    return not needle or any(needle in text.casefold() for text in texts if text)


# --- Connection --------------------------------------------------------------------------------


class TokenSource(Protocol):
    """Where a provider gets its bearer token (the portal binds a tenant's app token here)."""

    def token(self, *, fresh: bool = False) -> str:
        """A valid token; ``fresh`` asks the identity provider for a new one. Raises
        AuthenticationFailed."""
        ...

    def rejected(self, token: str) -> None:
        """The upstream answered 401 to ``token``: forget it."""
        ...


@dataclass(frozen=True)
class Connection:
    """How to reach one tenant's upstream. Every call has a timeout; retries are bounded."""

    base_url: str
    tokens: TokenSource
    connect_timeout: float = 3.0
    read_timeout: float = 20.0
    max_retries: int = 3
    backoff: float = 0.5  # first back-off (s), doubling, with jitter
    retry_budget: float = 30.0  # most seconds one call may wait between retries
    retry_after_max: float = 900.0  # a longer Retry-After is capped to this
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


# --- Catalogue ---------------------------------------------------------------------------------


class Workload(enum.StrEnum):
    TEAM = "team"
    GROUP = "group"
    SITE = "site"
    COMMUNITY = "community"

    @property
    def label(self) -> str:
        """What people call it."""
        return WORKLOAD_LABELS[self.value]


WORKLOAD_LABELS = {
    "team": "Team",
    "group": "Microsoft 365 group",
    "site": "SharePoint site",
    "community": "Viva Engage community",
}


class Approval(enum.StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    UNKNOWN = "unknown"


class Privacy(enum.StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"
    REQUESTER = "requester"  # the requester decides
    UNSET = ""


@dataclass(frozen=True)
class Affixes:
    """A prefix and suffix a template adds to what the requester typed."""

    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class AddressRules:
    """How a template makes a URL or an e-mail alias: affixes, editable, a length limit."""

    prefix: str = ""
    suffix: str = ""
    editable: bool = False
    max_length: int | None = None


@dataclass(frozen=True)
class MetadataField:
    """A custom field of a template. ``kind``: text, people, date, dropdown, yesno, number."""

    name: str
    kind: str = "text"
    required: bool = False
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateRules:
    """What a template says about the request form and the final names. Every rule is an
    extra: absent upstream, the default here invents no constraint."""

    naming: Affixes = Affixes()
    # False: the upstream did not publish its naming rule, so the final name is not known here
    # (the upstream may still add affixes); workspaces are then found by the name typed.
    naming_published: bool = True
    url: AddressRules | None = None  # None: no URL the requester shapes (Viva Engage, hidden)
    alias: AddressRules | None = None  # the e-mail alias, likewise
    privacy: Privacy = Privacy.UNSET
    owners_predefined: tuple[str, ...] = ()
    owners_min: int = 0
    owners_max: int | None = None
    guests_as_members: bool = True
    comments: bool = True
    metadata: tuple[MetadataField, ...] = ()
    terms: str = ""  # terms the requester accepts, shown on the form

    def to_json(self) -> dict[str, Any]:
        """The rules as JSON values (lists, not tuples), as a JSON column stores them."""
        stored: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return stored

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> TemplateRules:
        """Rules stored by ``to_json`` (tolerant: unknown or missing keys are ignored)."""
        if not isinstance(data, Mapping):
            return cls()

        def address(value: Any) -> AddressRules | None:
            if not isinstance(value, Mapping):
                return None
            known = {
                k: value[k] for k in ("prefix", "suffix", "editable", "max_length") if k in value
            }
            return AddressRules(**known)

        found = data.get("naming")
        naming: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        metadata = []
        for item in data.get("metadata") or ():
            if isinstance(item, Mapping) and item.get("name"):
                metadata.append(
                    MetadataField(
                        name=str(item["name"]),
                        kind=str(item.get("kind") or "text"),
                        required=bool(item.get("required")),
                        options=tuple(str(o) for o in item.get("options") or ()),
                    )
                )
        try:
            privacy = Privacy(str(data.get("privacy") or ""))
        except ValueError:
            privacy = Privacy.UNSET
        owners_max = data.get("owners_max")
        return cls(
            naming=Affixes(str(naming.get("prefix") or ""), str(naming.get("suffix") or "")),
            naming_published=data.get("naming_published") is not False,
            url=address(data.get("url")),
            alias=address(data.get("alias")),
            privacy=privacy,
            owners_predefined=tuple(str(o) for o in data.get("owners_predefined") or ()),
            owners_min=int(data.get("owners_min") or 0),
            owners_max=int(owners_max) if isinstance(owners_max, int) and owners_max > 0 else None,
            guests_as_members=bool(data.get("guests_as_members", True)),
            comments=bool(data.get("comments", True)),
            metadata=tuple(metadata),
            terms=str(data.get("terms") or ""),
        )


@dataclass(frozen=True)
class CatalogueItem:
    """A provisioning template as the upstream offers it. ``workload`` is None for a kind of
    workspace the portal does not handle (``kind_text`` says what the upstream called it)."""

    id: str
    name: str
    workload: Workload | None
    description: str = ""
    kind_text: str = ""
    approval: Approval = Approval.UNKNOWN
    rules: TemplateRules = TemplateRules()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


# --- Requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceSpec:
    """What to create: the requester's answers plus the template and workload."""

    template_id: str
    workload: Workload
    display_name: str
    description: str = ""
    desired_url: str = ""
    is_private: bool | None = None
    owners: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    comment: str = ""


class Status(enum.StrEnum):
    """Where an upstream request stands, in the portal's words."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # no status given, or one this adapter does not know (see status_text)


@dataclass(frozen=True)
class ApprovalStage:
    """One stage of an approval, as far as the upstream says."""

    status: Status = Status.UNKNOWN
    resolved_by: str = ""
    comment: str = ""
    approvers: tuple[str, ...] = ()
    number: int | None = None  # the stage's place in the process, when the upstream says
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class RequestStatus:
    """An upstream provisioning request: the answer to a submit, a status check or a lookup.

    ``id`` may be "" when the upstream accepted a request without naming it. ``status_text`` is
    the upstream's own word for the status (shown when ``status`` is UNKNOWN).
    """

    id: str
    status: Status = Status.UNKNOWN
    status_text: str = ""
    progress: int | None = None
    display_name: str = ""
    desired_url: str = ""
    workspace_url: str = ""
    workspace_id: str = ""
    email: str = ""
    error: str = ""
    correlation_id: str = ""
    requested_at: datetime | None = None
    stages: tuple[ApprovalStage, ...] = ()
    approval_process: str = ""  # the approval process's name, when the upstream says


@dataclass(frozen=True)
class Workspace:
    """A workspace that exists upstream (a group, team, site or community), found by its name
    or URL. ``created_at`` when the upstream says when it was made."""

    id: str
    name: str = ""
    url: str = ""
    email: str = ""
    created_at: datetime | None = None


# --- Directory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A group (Microsoft 365 group, team, security group, distribution list)."""

    id: str
    name: str = ""
    email: str = ""
    group_type: str = ""
    is_team: bool = False
    privacy: str = ""
    members_count: int | None = None
    owners_count: int | None = None
    guests_count: int | None = None
    sensitivity_label: str = ""
    site_url: str = ""


@dataclass(frozen=True)
class Site:
    """A SharePoint site. The governance fields are None or "" when the upstream does not say:
    ``storage_used_bytes`` (bytes), ``last_activity_on`` (the day of the last activity),
    ``external_sharing`` (who outside the organisation it can be shared with: "Anyone", "New and
    existing guests", "Existing guests only", "Only people in your organization", or the
    upstream's own word), ``sensitivity_label`` (the label's name)."""

    id: str
    url: str = ""
    title: str = ""
    site_type: str = ""
    primary_admin: str = ""
    storage_used_bytes: int | None = None
    last_activity_on: date | None = None
    external_sharing: str = ""
    sensitivity_label: str = ""


@dataclass(frozen=True)
class Page[T]:
    """One page of a list: its items, the total when the upstream says, whether more follow."""

    items: list[T]
    total: int | None = None
    has_more: bool = False


class ReportKind(enum.StrEnum):
    GROUP_MEMBERSHIPS = "group_memberships"
    SITE_PERMISSIONS = "site_permissions"
    USER_ACCESS = "user_access"


class JobState(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a word the adapter does not know: kept in ReportJob.status_text


@dataclass(frozen=True)
class ReportJob:
    """An upstream report being produced. ``processed``/``total`` when the upstream says;
    ``status_text`` the status word as sent (shown raw when ``state`` is UNKNOWN)."""

    id: str
    state: JobState = JobState.RUNNING
    processed: int | None = None
    total: int | None = None
    error: str = ""
    status_text: str = ""


@dataclass(frozen=True)
class ReportRow:
    """One row of a report, whichever kind. ``kind`` is normalised (memberships and
    permissions: user, guest, group; access: site, team, group, onedrive) and ``kind_text``
    is the upstream's own word. ``role``: owner or member (memberships)."""

    name: str = ""
    upn: str = ""
    kind: str = ""
    kind_text: str = ""
    role: str = ""
    group_id: str = ""
    group_name: str = ""
    site_url: str = ""
    permission: str = ""
    access_via: str = ""
    scope: str = ""
    scope_url: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


# --- The connection check ----------------------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    """An application permission the upstream wants, and what the portal loses without it."""

    name: str
    needed_for: str
    optional: bool = False


# --- The provider --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What an upstream can do; pages and the request flow hide or skip what it cannot."""

    catalogue: bool = True  # lists its own templates (else admins define them in the portal)
    approvals: bool = True  # requests may wait for an approver upstream
    request_lookup: bool = True  # can find requests by name after an unknown outcome
    directory: bool = True  # lists groups and sites
    reports: bool = True  # produces reports (report_kinds says which)
    webhooks: bool = True  # pushes signed events about requests to a registered URL
    # The workloads of which a second submit of the same workspace is refused (a unique alias or
    # URL), so that after a lost answer one may be sent again when nothing is found: the refusal
    # proves arrival. Not the others (Graph's communities have no unique key).
    duplicates_refused: frozenset[Workload] = frozenset()
    name_check: bool = False  # checks a name against the tenant's naming policy (check_name)
    workloads: frozenset[Workload] = frozenset(Workload)  # what it can create
    report_kinds: frozenset[ReportKind] = frozenset(ReportKind)  # when reports

    def __post_init__(self) -> None:
        if not self.reports:  # no reports means none of any kind
            object.__setattr__(self, "report_kinds", frozenset())


# --- People and provisioning jobs (Microsoft Graph, whatever the tenant provisions through) ------


@dataclass(frozen=True)
class Person:
    """A person of the tenant's directory. ``enabled``, ``licensed``, ``guest`` are None when the
    directory does not say."""

    upn: str
    name: str = ""
    mail: str = ""
    id: str = ""
    enabled: bool | None = None
    licensed: bool | None = None
    guest: bool | None = None


@dataclass(frozen=True)
class NameCheck:
    """What the tenant's naming policy says of a name: ``problems`` maps a neutral field
    (FIELD_DISPLAY_NAME, FIELD_DESIRED_URL for an alias) to messages; empty when it is fine."""

    problems: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class SyncJob:
    """An enterprise application's provisioning (synchronization) job."""

    service_principal_id: str
    app_name: str = ""
    job_id: str = ""
    template_id: str = ""
    status: str = ""  # the upstream's word: Active, Paused, Quarantine...
    last_run_at: datetime | None = None
    last_error: str = ""


class PeopleDirectory(Protocol):
    """The tenant's people (Graph ``/users``); raises PermissionMissing without User.Read.All."""

    def search_people(self, text: str, *, limit: int = 10) -> list[Person]: ...

    def get_person(self, upn: str) -> Person | None: ...


class ProvisioningJobs(Protocol):
    """Enterprise applications' provisioning jobs and their credentials (seed 003)."""

    def sync_jobs(self, search: str = "") -> list[SyncJob]: ...

    def acquire_sync_token(self, service_principal_id: str, credentials: Mapping[str, str]) -> None:
        """Hand the job ``credentials`` (key -> value; secrets, never logged). Invalid,
        NotFound, PermissionMissing as documented."""
        ...


# --- Pushed events (webhooks) --------------------------------------------------------------------


class EventKind(enum.StrEnum):
    """What a pushed event says happened to an upstream request."""

    STARTED = "started"  # provisioning began (approved, or approval not needed)
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a type this adapter does not know (kind_text says which)


@dataclass(frozen=True)
class PushedEvent:
    """One event an upstream pushed, read from its verified body.

    Events name a workspace, not our request: ``name`` and ``workload`` are what matching uses;
    ``request_id`` only when the upstream happens to send one (an extra, never relied on).
    ``key`` de-duplicates redeliveries; ``occurred_at`` is the upstream's time, when given.
    """

    kind: EventKind
    kind_text: str = ""
    key: str = ""
    name: str = ""
    workload: Workload | None = None
    workload_text: str = ""
    url: str = ""
    workspace_id: str = ""
    error: str = ""
    correlation_id: str = ""
    request_id: str = ""
    occurred_at: datetime | None = None

    def as_status(self, request_id: str = "") -> RequestStatus:
        """The request status the event states, for the same function a poll result goes to."""
        status = {
            EventKind.STARTED: Status.IN_PROGRESS,
            EventKind.COMPLETED: Status.COMPLETED,
            EventKind.FAILED: Status.FAILED,
        }.get(self.kind, Status.UNKNOWN)
        return RequestStatus(
            id=request_id or self.request_id,
            status=status,
            status_text=self.kind_text,  # what the upstream said, as on a polled status
            display_name=self.name,
            workspace_url=self.url,
            workspace_id=self.workspace_id,
            error=self.error,
            correlation_id=self.correlation_id,
        )


class PushCheck(enum.StrEnum):
    """What the signature of a pushed body says."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"


class MalformedEvent(ValueError):
    """A verified body that is not an event this adapter can read (not JSON, no type...)."""


@dataclass(frozen=True)
class WebhookRegistration:
    """A URL the upstream pushes events to, and the event types it sends there."""

    url: str
    events: tuple[str, ...] = ()


class PushReader(Protocol):
    """Reads what an upstream pushes, with no call to it (the receiver answers fast)."""

    def verify_push(self, body: bytes, headers: Mapping[str, str], key: str) -> PushCheck:
        """Is ``body`` signed with ``key``, as the upstream signs? Constant-time. Run before
        anything reads the body."""
        ...

    def read_push(self, body: bytes) -> PushedEvent:
        """The event in a verified body; MalformedEvent when it cannot be read."""
        ...


class Upstream(Protocol):
    """One tenant's upstream, bound to its Connection."""

    kind: str
    label: str  # what people call it in messages ("Point")
    capabilities: Capabilities

    # Catalogue and requests
    def list_templates(self) -> list[CatalogueItem]: ...

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        """Create the workspace request. Never repeated by itself once it may have arrived:
        OutcomeUnknown means "look it up (find_requests) before submitting again"."""
        ...

    def get_request(self, request_id: str) -> RequestStatus: ...

    def find_requests(self, *, display_name: str, desired_url: str = "") -> list[RequestStatus]:
        """Requests by final name (and URL): an optional fast path after an unknown outcome.
        Raises NotSupported when the upstream cannot list requests (that proves nothing)."""
        ...

    def find_workspace(
        self, *, workload: Workload, name: str, url_slug: str = ""
    ) -> Workspace | None:
        """The workspace a request made, if it exists: by exact final name (teams, groups,
        communities) or by site URL slug (sites), through documented reads only."""
        ...

    def find_workspaces(
        self, *, workload: Workload, containing: str, limit: int = 50
    ) -> Page[Workspace]:
        """Workspaces whose name (or a site's URL) contains ``containing``, at most ``limit``;
        ``has_more`` when more may exist (the read was cut short). For a template whose naming
        rule is not published: the final name is unknown, the name typed is not."""
        ...

    # Directory
    def groups_page(
        self, *, top: int, skip: int = 0, group_type: str = "", search: str = ""
    ) -> Page[Group]: ...

    def get_group(self, name: str) -> Group: ...

    def sites_page(self, *, top: int, skip: int = 0, search: str = "") -> Page[Site]: ...

    def find_sites(self, search: str, *, limit: int = 10) -> list[Site]: ...

    def start_report(self, kind: ReportKind, subject: str = "") -> ReportJob: ...

    def get_report(self, job_id: str) -> ReportJob: ...

    def report_rows(self, kind: ReportKind, job_id: str) -> Iterator[ReportRow]: ...

    # The connection check
    def permissions(self) -> tuple[Permission, ...]: ...

    def probe(self, permission: str) -> str:
        """One cheap call that needs ``permission``; returns the endpoint used."""
        ...

    def check_name(self, spec: WorkspaceSpec) -> NameCheck:
        """The tenant's naming policy on the final name and alias (capabilities.name_check);
        NotSupported otherwise."""
        ...

    # Webhooks (capabilities.webhooks)
    def webhook_signing_key(self) -> str:
        """The key the upstream signs pushed events with (a secret: never log it)."""
        ...

    def list_webhooks(self) -> list[WebhookRegistration]: ...

    def register_webhook(self, url: str) -> WebhookRegistration:
        """Ask for the events the portal uses at ``url`` (registering it again replaces it)."""
        ...

    def remove_webhook(self, url: str) -> bool:
        """Stop pushing to ``url``; False when the upstream had no such registration."""
        ...

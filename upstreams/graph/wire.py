"""Every read and write of Microsoft Graph's JSON (docs/graph-contract.md).

Reads are tolerant: keys in any case, missing keys read as empty, extra keys ignored, status
words in lower camel or Pascal case, a Location relative or absolute. Graph's field names become
the contract's neutral ``FIELD_*`` names here and nowhere else.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from upstreams.contract import (
    FIELD_DESCRIPTION,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    Group,
    Person,
    ReportRow,
    Site,
    Status,
    SyncJob,
    Workspace,
    WorkspaceSpec,
)

# Graph caps the owners and members bound in one POST /groups (reference §3.1).
BIND_LIMIT = 20
NICKNAME_MAX = 64
SITE_SLUG_MAX = 128  # well inside SharePoint's URL limits
GROUP_SELECT = (
    "id,displayName,mail,mailNickname,createdDateTime,resourceProvisioningOptions,"
    "groupTypes,mailEnabled,securityEnabled,visibility,description"
)
USER_SELECT = "id,displayName,userPrincipalName,mail,accountEnabled,userType,assignedLicenses"


def _norm(key: object) -> str:
    return str(key).casefold()


class Fields:
    """One JSON object, its keys found in any case (anything that is not an object is empty)."""

    __slots__ = ("_index",)

    def __init__(self, data: Any) -> None:
        self._index: dict[str, Any] = {}
        if isinstance(data, Mapping):
            for key, value in data.items():
                self._index.setdefault(_norm(key), value)

    def get(self, *names: str) -> Any:
        """The first value given (neither None nor "") under ``names``."""
        for name in names:
            value = self._index.get(_norm(name))
            if value is not None and value != "":
                return value
        return None

    def has(self, name: str) -> bool:
        return _norm(name) in self._index

    def text(self, *names: str) -> str:
        value = self.get(*names)
        return str(value) if isinstance(value, str | int | float) else ""

    def flag(self, name: str) -> bool | None:
        value = self.get(name)
        return value if isinstance(value, bool) else None

    def words(self, name: str) -> list[str]:
        value = self.get(name)
        if isinstance(value, str):
            return [value]
        if isinstance(value, Sequence):
            return [str(v) for v in value if isinstance(v, str)]
        return []

    def sub(self, name: str) -> Fields:
        return Fields(self.get(name))


def when(value: Any) -> datetime | None:
    """An ISO-8601 timestamp ("...Z", seven fraction digits) as an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def quoted(text: str) -> str:
    """A string literal of an OData ``$filter``: single quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def search_term(text: str) -> str:
    """A ``$search`` clause on displayName; a double quote or backslash would end it early."""
    return '"displayName:' + re.sub(r'["\\]', " ", text).strip() + '"'


# --- Names ----------------------------------------------------------------------------------


def slug(text: str, *, limit: int = NICKNAME_MAX) -> str:
    """An ASCII slug of letters, digits, '-' and '_' (what mailNickname and a site URL accept),
    lower-case, at most ``limit``. Deterministic, so a repeated send asks for the same alias and
    is refused as a duplicate (capabilities.duplicates_refused)."""
    folded = unicodedata.normalize("NFKD", text.strip().lower()).encode("ascii", "ignore")
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", folded.decode("ascii"))
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-")[:limit].strip("-")
    if cleaned:
        return cleaned
    # A name of no ASCII letters at all (Japanese, say): still one alias per name.
    return "group-" + hashlib.sha256(text.strip().encode()).hexdigest()[:10]


def nickname(spec: WorkspaceSpec) -> str:
    return slug(spec.desired_url or spec.display_name)


def site_slug(spec: WorkspaceSpec) -> str:
    return slug(spec.desired_url or spec.display_name, limit=SITE_SLUG_MAX)


# --- Bodies -------------------------------------------------------------------------------------


def user_ref(root: str, user_id: str) -> str:
    return f"{root.rstrip('/')}/users/{user_id}"


def group_body(
    spec: WorkspaceSpec, nick: str, owners: list[str], members: list[str], root: str
) -> dict[str, Any]:
    """POST /groups: a Microsoft 365 group (reference §3.1), at most BIND_LIMIT owners and
    members bound in the create; the rest are added afterwards."""
    body: dict[str, Any] = {
        "displayName": spec.display_name,
        "mailNickname": nick,
        "groupTypes": ["Unified"],
        "mailEnabled": True,
        "securityEnabled": False,
        "visibility": "Public" if spec.is_private is False else "Private",
        "owners@odata.bind": [user_ref(root, i) for i in owners[:BIND_LIMIT]],
    }
    if spec.description:
        body["description"] = spec.description
    if members:
        body["members@odata.bind"] = [user_ref(root, i) for i in members[:BIND_LIMIT]]
    return body


def reference_body(root: str, object_id: str) -> dict[str, str]:
    """POST /groups/{id}/members/$ref or /owners/$ref."""
    return {"@odata.id": f"{root.rstrip('/')}/directoryObjects/{object_id}"}


def team_body(root: str, group_id: str) -> dict[str, str]:
    root = root.rstrip("/")
    return {
        "template@odata.bind": f"{root}/teamsTemplates('standard')",
        "group@odata.bind": f"{root}/groups('{group_id}')",
    }


def site_body(spec: WorkspaceSpec, host: str, path: str, owner_email: str) -> dict[str, Any]:
    """Beta POST /sites: a communication site (reference §3.3)."""
    return {
        "name": spec.display_name,
        "webUrl": f"https://{host}/sites/{path}",
        "locale": "en-US",
        "shareByEmailEnabled": False,
        "description": spec.description,
        "template": "sitepagepublishing",
        "ownerIdentityToResolve": {"email": owner_email},
    }


def community_body(spec: WorkspaceSpec, owners: list[str], root: str) -> dict[str, Any]:
    """POST /employeeExperience/communities (reference §3.4): owners are required app-only."""
    body: dict[str, Any] = {
        "displayName": spec.display_name,
        "privacy": "public" if spec.is_private is False else "private",
        "owners@odata.bind": [user_ref(root, i) for i in owners],
    }
    if spec.description:
        body["description"] = spec.description
    return body


def validate_body(display_name: str, nick: str) -> dict[str, str]:
    return {"entityType": "Group", "displayName": display_name, "mailNickname": nick}


def credentials_body(credentials: Mapping[str, str]) -> dict[str, Any]:
    return {"credentials": [{"key": k, "value": v} for k, v in credentials.items()]}


# --- Lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListPage:
    items: list[Mapping[str, Any]]
    next_link: str = ""
    count: int | None = None


def page(data: Any) -> ListPage:
    """One page of a Graph collection: ``value``, ``@odata.nextLink``, ``@odata.count``."""
    fields = Fields(data)
    value = fields.get("value")
    items = [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []
    count = fields.get("@odata.count")
    return ListPage(
        items,
        fields.text("@odata.nextLink"),
        count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


def count(data: Any) -> int | None:
    """The answer of a ``/$count`` (a bare number, as JSON or text)."""
    if isinstance(data, int) and not isinstance(data, bool):
        return data
    if isinstance(data, str) and data.strip().isdigit():
        return int(data.strip())
    return None


# --- Objects ------------------------------------------------------------------------------------


def object_id(data: Any) -> str:
    return Fields(data).text("id")


def is_team(data: Mapping[str, Any]) -> bool:
    return any(_norm(w) == "team" for w in Fields(data).words("resourceProvisioningOptions"))


def _group_type(fields: Fields) -> str:
    """The portal's group type codes (directory.selectors.GROUP_TYPES)."""
    if any(_norm(k) == "unified" for k in fields.words("groupTypes")):
        return "UnifiedGroup"
    mail, security = fields.flag("mailEnabled"), fields.flag("securityEnabled")
    if security and mail:
        return "MailEnabledSecurityGroup"
    if security:
        return "SecurityGroup"
    if mail:
        return "DistributionList"
    return ""


def group(data: Mapping[str, Any]) -> Group:
    fields = Fields(data)
    visibility = fields.text("visibility")
    privacy = {"private": "Private", "public": "Public"}.get(_norm(visibility), visibility)
    return Group(
        id=fields.text("id"),
        name=fields.text("displayName"),
        email=fields.text("mail"),
        group_type=_group_type(fields),
        is_team=is_team(data),
        privacy=privacy,
    )


def group_workspace(data: Mapping[str, Any], *, url: str = "") -> Workspace:
    fields = Fields(data)
    return Workspace(
        id=fields.text("id"),
        name=fields.text("displayName"),
        url=url,
        email=fields.text("mail"),
        created_at=when(fields.get("createdDateTime")),
    )


def site(data: Mapping[str, Any]) -> Site:
    fields = Fields(data)
    return Site(
        id=fields.text("id"),
        url=fields.text("webUrl"),
        title=fields.text("displayName", "name"),
    )


def site_workspace(data: Mapping[str, Any]) -> Workspace:
    fields = Fields(data)
    return Workspace(
        id=fields.text("id"),
        name=fields.text("displayName", "name"),
        url=fields.text("webUrl"),
        created_at=when(fields.get("createdDateTime")),
    )


def community_workspace(data: Mapping[str, Any]) -> Workspace:
    fields = Fields(data)
    return Workspace(
        id=fields.text("id"),
        name=fields.text("displayName"),
        url=fields.text("webUrl"),
        created_at=when(fields.get("createdDateTime")),
    )


def web_url(data: Any) -> str:
    return Fields(data).text("webUrl")


def host(data: Any) -> str:
    """The SharePoint host name of GET /sites/root (its webUrl, else siteCollection)."""
    fields = Fields(data)
    found = urlsplit(fields.text("webUrl")).netloc
    return found or fields.sub("siteCollection").text("hostname")


def person(data: Mapping[str, Any]) -> Person:
    """A user; ``licensed`` None when assignedLicenses is not in the answer (unknown, not no)."""
    fields = Fields(data)
    licences = fields.get("assignedLicenses") if fields.has("assignedLicenses") else None
    user_type = fields.text("userType")
    return Person(
        upn=fields.text("userPrincipalName"),
        name=fields.text("displayName"),
        mail=fields.text("mail"),
        id=fields.text("id"),
        enabled=fields.flag("accountEnabled"),
        licensed=bool(licences) if isinstance(licences, list) else None,
        guest=_norm(user_type) == "guest" if user_type else None,
    )


def sync_jobs(principal: Mapping[str, Any], data: Any) -> list[SyncJob]:
    """The synchronization jobs of one service principal (seed 003)."""
    app = Fields(principal)
    jobs = []
    for item in page(data).items:
        fields = Fields(item)
        state = fields.sub("status")
        last = state.sub("lastExecution")
        jobs.append(
            SyncJob(
                service_principal_id=app.text("id"),
                app_name=app.text("displayName"),
                job_id=fields.text("id"),
                template_id=fields.text("templateId"),
                status=state.text("code") or fields.sub("schedule").text("state"),
                last_run_at=when(last.get("timeEnded")),
                last_error=last.sub("error").text("message"),
            )
        )
    return jobs


# --- Long-running operations ----------------------------------------------------------------

_RUNNING = {"notstarted", "inprogress", "running"}


@dataclass(frozen=True)
class Operation:
    status: Status
    word: str = ""
    error: str = ""
    resource_id: str = ""


def operation(data: Any) -> Operation:
    """A teamsAsyncOperation, richLongRunningOperation or engagementAsyncOperation."""
    fields = Fields(data)
    word = fields.text("status")
    key = _norm(word)
    if key == "succeeded":
        status = Status.COMPLETED
    elif key == "failed":
        status = Status.FAILED
    elif key in _RUNNING:
        status = Status.IN_PROGRESS
    else:
        status = Status.UNKNOWN
    failure = fields.get("error")
    error = (
        Fields(failure).text("message") if isinstance(failure, Mapping) else fields.text("error")
    )
    return Operation(
        status,
        word,
        error or fields.text("statusDetail"),
        fields.text("resourceId", "targetResourceId"),
    )


def _key_value(segment: str) -> str:
    """The key of an OData segment: ``x('k')``, ``x(operationId='k')`` or ``x/k``."""
    found = re.search(r"\((?:\s*\w+\s*=)?\s*'?(.*?)'?\s*\)$", segment)
    return found.group(1).replace("''", "'") if found else segment


def _path(location: str) -> str:
    return unquote(urlsplit(location.strip()).path)


def operation_id(location: str | None) -> str:
    """The operation id at the end of a Location or Operation-Location (any form)."""
    if not location or not location.strip():
        return ""
    last = _path(location).rstrip("/").rsplit("/", 1)[-1]
    return _key_value(last).strip()


def team_operation(location: str | None) -> tuple[str, str]:
    """(team id, operation id) of a POST /teams Location: ``/teams('g')/operations('o')`` or
    ``/teams/g/operations/o``, relative or absolute."""
    if not location:
        return "", ""
    found = re.search(
        r"teams(?:\('([^']*)'\)|/([^/]+))/operations(?:\('([^']*)'\)|/([^/]+))",
        _path(location),
        re.IGNORECASE,
    )
    if not found:
        return "", operation_id(location)
    team = found.group(1) or found.group(2) or ""
    op = found.group(3) or found.group(4) or ""
    return team, op


# --- Errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    details: tuple[tuple[str, str, str], ...]  # (target, code, message)


def problem(data: Any) -> Problem:
    """The ``{"error": {code, message, details}}`` envelope, any key case."""
    outer = Fields(data)
    inner = outer.sub("error") if isinstance(outer.get("error"), Mapping) else outer
    details = []
    found = inner.get("details")
    for item in found if isinstance(found, list) else ():
        fields = Fields(item)
        details.append((fields.text("target"), fields.text("code"), fields.text("message")))
    message = inner.text("message") or (outer.text("error") if inner is outer else "")
    return Problem(inner.text("code"), message, tuple(details))


def error_message(data: Any, *, status: int, reason: str = "") -> str:
    found = problem(data)
    return found.message or found.code or f"{status} {reason}".strip()


_TARGETS = {
    "displayname": FIELD_DISPLAY_NAME,
    "name": FIELD_DISPLAY_NAME,
    "mailnickname": FIELD_DESIRED_URL,
    "weburl": FIELD_DESIRED_URL,
    "description": FIELD_DESCRIPTION,
    "owners": FIELD_OWNERS,
    "owners@odata.bind": FIELD_OWNERS,
    "ownerIdentityToResolve".casefold(): FIELD_OWNERS,
    "members": FIELD_MEMBERS,
    "members@odata.bind": FIELD_MEMBERS,
    "visibility": FIELD_PRIVACY,
    "privacy": FIELD_PRIVACY,
}


def neutral_field(target: str) -> str:
    """The contract's field for a Graph property name ("" for the whole request)."""
    return _TARGETS.get(_norm(target).strip(), "")


def field_errors(data: Any, *, status: int, reason: str = "") -> dict[str, list[str]]:
    """A refusal's messages by neutral field: from ``details`` targets; without details (one
    dialect sends none), a property named in the message decides, else the whole request."""
    found = problem(data)
    errors: dict[str, list[str]] = {}
    for target, code, message in found.details:
        text = message or found.message or code
        if text:
            errors.setdefault(neutral_field(target), []).append(text)
    if errors:
        return errors
    message = found.message or found.code or f"{status} {reason}".strip()
    named = re.search(r"property\s+'?(\w+)", message, re.IGNORECASE)
    return {neutral_field(named.group(1)) if named else "": [message]}


_NICKNAME_TAKEN = "another object with the same value for property mailnickname already exists"


def nickname_taken(data: Any) -> bool:
    """A duplicate mailNickname: ObjectConflict on mailNickname in ``details`` (documented), or
    Graph's message when the details are missing."""
    found = problem(data)
    for target, code, _message in found.details:
        if _norm(code) in ("objectconflict", "propertyconflict") and _norm(target) in (
            "mailnickname",
            "",
        ):
            return True
    return _NICKNAME_TAKEN in _norm(found.message)


def name_taken(data: Any) -> bool:
    """A 409 that says the name or URL is taken (beta POST /sites: nameAlreadyExists)."""
    code = _norm(problem(data).code)
    return code in ("namealreadyexists", "objectconflict", "resourcealreadyexists")


def api_unavailable(data: Any) -> bool:
    """A 400 meaning the endpoint is not there at all (Graph's OData router), not a refusal of
    the input: "Resource not found for the segment 'sites'"."""
    return "resource not found for the segment" in _norm(problem(data).message)


def says_unsupported(text: str) -> bool:
    """Words of a refusal that mean "not offered here" (beta POST /sites, reference §3.3)."""
    text = _norm(text)
    return any(words in text for words in ("not supported", "unsupported", "not available"))


# What a membership row needs of a directory object (a user, a group, a contact...).
MEMBER_SELECT = "id,displayName,userPrincipalName,mail,userType"


def member_row(data: Mapping[str, Any], *, role: str, group_id: str) -> ReportRow:
    """One owner or member of a group as a membership row: a user, a guest or a group."""
    fields = Fields(data)
    upn = fields.text("userPrincipalName", "mail")
    user_type = fields.text("userType")
    if _norm(fields.text("@odata.type")).endswith("group"):
        kind, kind_text = "group", "Group"
    elif _norm(user_type) == "guest" or "#ext#" in _norm(upn):
        kind, kind_text = "guest", user_type or "Guest"
    else:
        kind, kind_text = "user", user_type or "Member"
    return ReportRow(
        name=fields.text("displayName") or upn or fields.text("id"),
        upn=upn.lower(),
        kind=kind,
        kind_text=kind_text,
        role=role,
        group_id=group_id,
    )

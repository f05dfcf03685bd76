"""Point's JSON, read and written: the only module that knows Syskit Point's wire shapes.

Everything else in the package (and the portal) sees the neutral types of upstreams.contract.
Most of Point's contract is not public; each shape below cites its section of
../shared/reference/syskit-point-api.md and its label there ([documented], [documented-draft],
[inferred], [proposed]). When a real Swagger is seen, this module is what changes.

Reading is lenient: a missing or mistyped field becomes the neutral default (never an
exception), and a key is found in camelCase or PascalCase ([7, inferred]: ASP.NET Core writes
camelCase, but accepting PascalCase costs nothing). A later issue makes reading fully tolerant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from upstreams.contract import (
    FIELD_COMMENT,
    FIELD_DESCRIPTION,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    FIELD_TEMPLATE,
    AddressRules,
    Affixes,
    Approval,
    ApprovalStage,
    CatalogueItem,
    Group,
    JobState,
    MetadataField,
    Privacy,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    Status,
    TemplateRules,
    UpstreamError,
    Workload,
    WorkspaceSpec,
    metadata_field,
)

# --- Reading helpers ---------------------------------------------------------------------------


def _get(data: Mapping[str, Any], name: str) -> Any:
    """``data[name]``, else its PascalCase spelling, else None."""
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    """A scalar as text; None, objects and arrays as "" (never a repr in a name or a URL)."""
    if value is None or isinstance(value, Mapping | list | tuple):
        return ""
    return str(value)


def _int(value: Any) -> int | None:
    """An integer, or digits in a string; booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()) if len(value.strip()) <= 18 else None
    return None


def _bool(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(text for text in (_text(v) for v in value) if text)


def _word(value: Any) -> str:
    """An enum word for lookups: lower case, without spaces, "_", "-" or "/"."""
    return re.sub(r"[\s_\-/]+", "", _text(value)).lower()


def _id(data: Mapping[str, Any]) -> str:
    """The id, from ``id`` or ``requestId``, as an opaque string [3.2, proposed]."""
    value = _get(data, "id")
    if value is None:
        value = _get(data, "requestId")
    return _text(value)


def _when(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime; no zone means UTC [6.2, inferred]."""
    text = _text(value).strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# --- Lists and paging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListShape:
    """One answer of a list endpoint: its items, the next page's link, the total if given.

    ``bare``: the answer was a plain array (no paging at all) [7, proposed].
    """

    items: list[Mapping[str, Any]]
    next_link: str | None = None
    total: int | None = None
    bare: bool = False


def list_shape(data: Any) -> ListShape:
    """A bare array, or ``{"value": [...], "@odata.count": n, "@odata.nextLink": url}``.

    Paging is not documented [7]; the reference asks a client to accept both shapes
    [7, "Portal client robustness", proposed]. Raises UpstreamError for anything else.
    """
    if isinstance(data, list):
        return ListShape([d for d in data if isinstance(d, Mapping)], bare=True)
    if isinstance(data, Mapping):
        values = _get(data, "value")
        if isinstance(values, list):
            link = data.get("@odata.nextLink", data.get("@nextLink"))
            count = _int(data.get("@odata.count", data.get("@count")))
            return ListShape(
                [d for d in values if isinstance(d, Mapping)],
                next_link=link if isinstance(link, str) and link else None,
                total=count,
            )
    raise UpstreamError("Point sent a list in an unexpected shape.")


# --- Templates [3.3, proposed; workspaceType documented in 6.2] ----------------------------------

_WORKLOADS = {
    "microsoftteams": Workload.TEAM,
    "m365group": Workload.GROUP,
    "sharepointsitecollection": Workload.SITE,
    "yammercommunity": Workload.COMMUNITY,
}

# Custom metadata types [8.2, documented: Text, People, Date, Dropdown, Yes/No, Number]; the
# wire spelling is proposed [3.3] ("YesNo"), so "Yes/No" is accepted too.
_METADATA_KINDS = {
    "text": "text",
    "people": "people",
    "date": "date",
    "dropdown": "dropdown",
    "yesno": "yesno",
    "number": "number",
}

# Template privacy [3.3, proposed: Private | Public | RequesterDecides].
_PRIVACY = {
    "private": Privacy.PRIVATE,
    "public": Privacy.PUBLIC,
    "requesterdecides": Privacy.REQUESTER,
}


def workload(value: Any) -> Workload | None:
    """``workspaceType`` as a Workload, case-insensitively; None for a kind the portal lacks."""
    return _WORKLOADS.get(_word(value))


def _address(value: Any) -> AddressRules | None:
    """urlSettings / emailSettings [3.3, proposed]: None when absent or when the workspace name
    is hidden (Point then makes the address from a random number [8.2 item 12, documented])."""
    if not isinstance(value, Mapping) or _get(value, "hideWorkspaceName") is True:
        return None
    max_length = _int(_get(value, "maxLength"))
    return AddressRules(
        prefix=_text(_get(value, "prefix")),
        suffix=_text(_get(value, "suffix")),
        editable=_bool(_get(value, "allowEdit"), False),
        max_length=max_length if max_length is not None and max_length > 0 else None,
    )


def _metadata(value: Any) -> tuple[MetadataField, ...]:
    """customMetadata [3.3, proposed]: name, type, required, options (Dropdown)."""
    fields = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, Mapping):
            continue
        name = _text(_get(item, "name")).strip()
        if not name:
            continue
        fields.append(
            MetadataField(
                name=name,
                kind=_METADATA_KINDS.get(_word(_get(item, "type")), "text"),
                required=_bool(_get(item, "required"), False),
                options=_strings(_get(item, "options")),
            )
        )
    return tuple(fields)


def template_rules(data: Mapping[str, Any]) -> TemplateRules:
    """What a template says about the form and the final names [3.3, 8.2; shapes proposed].

    ``owners.min``/``owners.max`` and ``guests`` are proposed extensions of the emulator
    (the owner policies and guest rules are documented concepts [8.2 item 15, 8.5]).
    """
    naming = _obj(_get(data, "namingRule"))
    owners = _obj(_get(data, "owners"))
    owners_min = _int(_get(owners, "min"))
    owners_max = _int(_get(owners, "max"))
    return TemplateRules(
        naming=Affixes(_text(_get(naming, "prefix")), _text(_get(naming, "suffix"))),
        url=_address(_get(data, "urlSettings")),
        alias=_address(_get(data, "emailSettings")),
        privacy=_PRIVACY.get(_word(_get(data, "privacy")), Privacy.UNSET),
        owners_predefined=_strings(_get(owners, "predefined")),
        owners_min=max(owners_min or 0, 0),
        owners_max=owners_max if owners_max is not None and owners_max > 0 else None,
        guests_as_members=_bool(_get(_obj(_get(data, "guests")), "allowAsMembers"), True),
        comments=_bool(_get(data, "commentsEnabled"), True),
        metadata=_metadata(_get(data, "customMetadata")),
    )


def catalogue_item(data: Mapping[str, Any]) -> CatalogueItem:
    """A template of GET /v1.0/provision/templates [3.3, proposed]. Only id, name, description,
    workspaceType and approvalProcess are relied on; the rest are best-effort rules."""
    kind_text = _text(_get(data, "workspaceType"))
    automatic = _get(_obj(_get(data, "approvalProcess")), "isAutomatic")
    if isinstance(automatic, bool):
        approval = Approval.AUTOMATIC if automatic else Approval.MANUAL
    else:
        approval = Approval.UNKNOWN
    return CatalogueItem(
        id=_id(data),
        name=_text(_get(data, "name")),
        workload=workload(kind_text),
        description=_text(_get(data, "description")),
        kind_text=kind_text,
        approval=approval,
        rules=template_rules(data),
        raw=dict(data),
    )


# --- Provisioning requests [3.1, 3.2, 3.4] -------------------------------------------------------

# Which POST /v1.0/provision/{endpoint} creates which workload [2.2, documented; the mapping of
# endpoint to workspace type is inferred, 3.2].
_ENDPOINTS = {
    Workload.TEAM: "teams",
    Workload.GROUP: "groups",
    Workload.SITE: "sites",
    Workload.COMMUNITY: "yammer",
}


def submit_endpoint(kind: Workload) -> str:
    """The last path segment of the provisioning POST for ``kind``."""
    return _ENDPOINTS[kind]


def _template_id(value: str) -> int | str:
    """templateId is an integer [3.1, documented]; an id that is not all ASCII digits is sent
    as it is (treated as opaque, in case a Point uses other ids)."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return value


def submit_body(spec: WorkspaceSpec) -> dict[str, Any]:
    """The body of POST /v1.0/provision/{teams|groups|sites|yammer} [3.1].

    The nine fields are documented (one body for all four endpoints is inferred); metadata is
    keyed by the custom metadata name [3.1, proposed]. desiredUrl and isPrivate are sent only
    when set, so the template's own rule applies otherwise.
    """
    body: dict[str, Any] = {
        "templateId": _template_id(spec.template_id),
        "displayName": spec.display_name,
        "description": spec.description,
        "owners": list(spec.owners),
        "members": list(spec.members),
        "comment": spec.comment,
        "metadata": dict(spec.metadata),
    }
    if spec.desired_url:
        body["desiredUrl"] = spec.desired_url
    if spec.is_private is not None:
        body["isPrivate"] = spec.is_private
    return body


# Request status values are not documented; these are the proposed ones [3.4, proposed], plus
# "Canceled"/"Cancelled" for parity with Point's task statuses.
_STATUSES = {
    "pending": Status.PENDING_APPROVAL,
    "approved": Status.APPROVED,
    "rejected": Status.REJECTED,
    "inprogress": Status.IN_PROGRESS,
    "completed": Status.COMPLETED,
    "failed": Status.FAILED,
    "canceled": Status.CANCELLED,
    "cancelled": Status.CANCELLED,
}


def status(value: Any) -> Status:
    """A request (or approval stage) status, case-insensitively and ignoring spaces; UNKNOWN
    for anything else."""
    return _STATUSES.get(_word(value), Status.UNKNOWN)


def _stage(data: Mapping[str, Any]) -> ApprovalStage:
    """approval.stages[] [3.4, proposed]; ``comment`` is an emulator extension."""
    return ApprovalStage(
        status=status(_get(data, "status")),
        resolved_by=_text(_get(data, "resolvedBy")),
        comment=_text(_get(data, "comment")),
        approvers=_strings(_get(data, "approvers")),
    )


def request_status(data: Mapping[str, Any]) -> RequestStatus:
    """A provisioning request [3.4, proposed]: the answer of the POST [3.2, proposed], of
    GET /v1.0/provision/requests/{id} and of the lookup by name. ``progress`` (0-100) is an
    emulator extension."""
    result = _obj(_get(data, "result"))
    stages = _get(_obj(_get(data, "approval")), "stages")
    progress = _int(_get(data, "progress"))
    status_text = _text(_get(data, "status"))
    return RequestStatus(
        id=_id(data),
        status=status(status_text),
        status_text=status_text,
        progress=progress,
        display_name=_text(_get(data, "displayName")),
        desired_url=_text(_get(data, "desiredUrl")),
        workspace_url=_text(_get(result, "url")),
        workspace_id=_text(_get(result, "microsoftId")),
        email=_text(_get(result, "email")),
        error=_text(_get(data, "error")),
        correlation_id=_text(_get(data, "correlationId")),
        requested_at=_when(_get(data, "requestedOn")),
        stages=tuple(
            _stage(s)
            for s in (stages if isinstance(stages, list) else ())
            if isinstance(s, Mapping)
        ),
    )


def request_id_from_location(location: str | None) -> str:
    """The request id in ``Location: /v1.0/provision/requests/{id}`` [3.2, proposed], for a
    POST answered without a body; "" when the header says nothing usable."""
    path = (location or "").split("?", 1)[0].rstrip("/")
    head, _, tail = path.rpartition("/")
    return tail if head.lower().endswith("/provision/requests") else ""


# --- Directory [5, proposed] ---------------------------------------------------------------------


def _label(value: Any) -> str:
    """A sensitivity label: a name, or an object with one (as templates send it [3.3])."""
    if isinstance(value, Mapping):
        return _text(_get(value, "name"))
    return _text(value)


def group(data: Mapping[str, Any]) -> Group:
    """A group of GET /v1.0/groups[/{name}] [5.2, proposed]; siteUrl is an emulator extension."""
    return Group(
        id=_id(data),
        name=_text(_get(data, "name")),
        email=_text(_get(data, "email")),
        group_type=_text(_get(data, "groupType")),
        is_team=_bool(_get(data, "isTeam"), False),
        privacy=_text(_get(data, "privacy")),
        members_count=_int(_get(data, "membersCount")),
        owners_count=_int(_get(data, "ownersCount")),
        guests_count=_int(_get(data, "guestsCount")),
        sensitivity_label=_label(_get(data, "sensitivityLabel")),
        site_url=_text(_get(data, "siteUrl")),
    )


def site(data: Mapping[str, Any]) -> Site:
    """A site of GET /v1.0/sites [5.1, proposed]; the site type falls back to the template."""
    return Site(
        id=_id(data),
        url=_text(_get(data, "url")),
        title=_text(_get(data, "title")),
        site_type=_text(_get(data, "siteType")) or _text(_get(data, "template")),
        primary_admin=_text(_get(data, "primaryAdmin")),
    )


# --- Async reports [4] ---------------------------------------------------------------------------


def report_body(kind: ReportKind, subject: str) -> dict[str, Any]:
    """The body that starts a report; ``subject`` narrows it (one group id, one site URL) or,
    for user access, names the user.

    - memberships: ``{"groupIds": [...]}``, empty for every group [4.4, proposed];
    - site permissions: ``{"siteUrls": [...]}``, none for every site [4.3, proposed];
    - user access: ``{"user": "<UPN>"}`` [4.2, proposed].
    """
    if kind is ReportKind.GROUP_MEMBERSHIPS:
        return {"groupIds": [subject] if subject else []}
    if kind is ReportKind.SITE_PERMISSIONS:
        return {"siteUrls": [subject]} if subject else {}
    if not subject:
        raise ValueError("The user access report needs a user (a user principal name).")
    return {"user": subject}


def report_job(data: Mapping[str, Any], *, done: bool = False) -> ReportJob:
    """A RequestStatus of an async report [4.1]. InProgress and Succeeded are
    [documented-draft]; NotStarted and Failed (with ``error``) are [proposed]. ``done``: the
    status endpoint answered 302 to the result, which means Succeeded [4.1, documented-draft].

    ``progress`` is processedItems/totalItems (the emulator's [proposed] names) or
    processedSites/totalSites (the draft's example [4.1, documented-draft]).
    """
    word = _word(_get(data, "status"))
    if done or word == "succeeded":
        state = JobState.SUCCEEDED
    elif word == "failed":
        state = JobState.FAILED
    else:
        state = JobState.RUNNING
    progress = _obj(_get(data, "progress"))
    processed = _int(_get(progress, "processedItems"))
    total = _int(_get(progress, "totalItems"))
    if processed is None and total is None:
        processed = _int(_get(progress, "processedSites"))
        total = _int(_get(progress, "totalSites"))
    return ReportJob(
        id=_id(data),
        state=state,
        processed=processed,
        total=total,
        error=_text(_get(data, "error")),
    )


# Principal kinds (memberType [4.4], principalType [4.3]; both proposed) -> user, guest, group.
_PRINCIPAL_KINDS = {
    "user": "user",
    "guest": "guest",
    "sharepointgroup": "group",
    "securitygroup": "group",
    "group": "group",
}
# workspaceType of user access [4.2, proposed] -> site, team, group, onedrive.
_WORKSPACE_KINDS = {
    "site": "site",
    "microsoftteam": "team",
    "microsoftteams": "team",
    "m365group": "group",
    "onedrive": "onedrive",
}


def _kind(table: Mapping[str, str], text: str) -> str:
    word = text.lower()
    return table.get(word, word)


def report_row(kind: ReportKind, data: Mapping[str, Any]) -> ReportRow:
    """One row of a finished report (GET /v1.0/requests/{id}/result), flattened one row per
    (group, member), (site, principal) or workspace [4.2-4.4, proposed]."""
    if kind is ReportKind.GROUP_MEMBERSHIPS:
        member_type = _text(_get(data, "memberType"))
        return ReportRow(
            group_id=_text(_get(data, "groupId")),
            group_name=_text(_get(data, "groupName")),
            name=_text(_get(data, "displayName")),
            upn=_text(_get(data, "email")),
            kind=_kind(_PRINCIPAL_KINDS, member_type),
            kind_text=member_type,
            role=_text(_get(data, "role")).lower(),
        )
    if kind is ReportKind.SITE_PERMISSIONS:
        principal_type = _text(_get(data, "principalType"))
        return ReportRow(
            site_url=_text(_get(data, "siteUrl")),
            name=_text(_get(data, "principalName")),
            kind=_kind(_PRINCIPAL_KINDS, principal_type),
            kind_text=principal_type,
            permission=_text(_get(data, "permissionLevel")),
            scope=_text(_get(data, "scope")),
            scope_url=_text(_get(data, "scopeUrl")),
            access_via=_text(_get(data, "accessVia")),
        )
    workspace_type = _text(_get(data, "workspaceType"))
    return ReportRow(
        name=_text(_get(data, "workspaceName")),
        site_url=_text(_get(data, "url")),
        kind=_kind(_WORKSPACE_KINDS, workspace_type),
        kind_text=workspace_type,
        permission=_text(_get(data, "permission")),
        access_via=_text(_get(data, "accessVia")),
    )


# --- Errors [7] ----------------------------------------------------------------------------------

# A request field of POST /v1.0/provision/* [3.1] -> its neutral name, so an upstream
# validation error lands next to what the person typed. Keys are lower case (ASP.NET Core may
# name a field DisplayName or displayName [7, inferred]).
_FIELDS = {
    "displayname": FIELD_DISPLAY_NAME,
    "description": FIELD_DESCRIPTION,
    "desiredurl": FIELD_DESIRED_URL,
    "desiredemail": FIELD_DESIRED_URL,  # [3.1, proposed]: the alias shares the URL's input
    "owners": FIELD_OWNERS,
    "members": FIELD_MEMBERS,
    "isprivate": FIELD_PRIVACY,
    "comment": FIELD_COMMENT,
    "templateid": FIELD_TEMPLATE,
}
_METADATA_KEY = "metadata."


def neutral_field(name: str) -> str:
    """The neutral field of a Point error key: ``displayName`` -> ``display_name``,
    ``metadata.<name>`` -> ``metadata_field(name)``; "$", "" and anything unknown -> "" (the
    whole request). A JSON-path prefix ("$.") and an index ("owners[0]") are ignored."""
    key = name.strip()
    key = key.removeprefix("$.")
    if key[: len(_METADATA_KEY)].lower() == _METADATA_KEY and len(key) > len(_METADATA_KEY):
        return metadata_field(key[len(_METADATA_KEY) :])
    key = re.sub(r"\[[^\]]*\]$", "", key)
    return _FIELDS.get(key.lower(), "")


def error_message(data: Any, *, status: int, reason: str = "") -> str:
    """Point's own words for a failure: exceptionMessage (the documented error body [7]), else
    title (ValidationProblemDetails [7, inferred]), else message, else the status line."""
    body = _obj(data)
    for key in ("exceptionMessage", "title", "message"):
        text = _text(_get(body, key)).strip()
        if text:
            return text
    return f"HTTP {status} {reason}".strip()


def field_errors(data: Any, *, status: int, reason: str = "") -> dict[str, list[str]]:
    """A 400/422 body as neutral field errors: ``errors`` of ValidationProblemDetails
    [7, inferred; the emulator uses it for Point's own validation too, proposed], or the
    message (for the whole request) when there is none."""
    errors = _get(_obj(data), "errors")
    found: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            messages = value if isinstance(value, list) else [value]
            texts = [t for t in (_text(m).strip() for m in messages) if t]
            if texts:
                found.setdefault(neutral_field(str(key)), []).extend(texts)
    return found or {"": [error_message(data, status=status, reason=reason)]}

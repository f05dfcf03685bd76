"""Point's JSON, read and written: the only module that knows Syskit Point's wire shapes.

Everything else in the package (and the portal) sees the neutral types of upstreams.contract.
Seed 000 documents Point's endpoints and permissions, not one body: docs/point-contract.md
marks every field read or written here documented or assumed, and names the dialects of
docs/point-dialects.md that cover each assumption. Comments cite its sections (§).

Reading is tolerant because every shape is a guess (point-contract.md §10):

- a key is found in any spelling: camelCase, PascalCase, snake_case (keys compare lower-cased
  without "_", "-", ".", "@" or spaces);
- each neutral field has several names, tried in order: the proposed one, Microsoft Graph's,
  and plain synonyms; a nested value is named by an "a/b" path;
- enums arrive as words (any case, plain synonyms) or as numbers (assumed orders, §9);
- a missing or mistyped field becomes the neutral default, never an exception: an object with
  nothing but an id reads into every type. Only a list that is neither an array nor a page is an
  error.

When a real Swagger is seen, this module is what changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from upstreams.contract import (
    FIELD_COMMENT,
    FIELD_DESCRIPTION,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    FIELD_TEMPLATE,
    METADATA_PREFIX,
    AddressRules,
    Affixes,
    Approval,
    ApprovalStage,
    CatalogueItem,
    EventKind,
    Group,
    JobState,
    MalformedEvent,
    MetadataField,
    Privacy,
    PushCheck,
    PushedEvent,
    ReportJob,
    ReportKind,
    ReportRow,
    RequestStatus,
    Site,
    Status,
    TemplateRules,
    UpstreamError,
    WebhookRegistration,
    Workload,
    Workspace,
    WorkspaceSpec,
    metadata_field,
)

# --- Reading helpers (§10) ---------------------------------------------------------------------


def _norm(key: object) -> str:
    """A key or enum word for comparison: lower case, letters and digits only ("@odata.count",
    "odata_count" and "OdataCount" are one key)."""
    return "".join(c for c in str(key).casefold() if c.isalnum())


def _text(value: Any) -> str:
    """A scalar as text; None, objects and arrays as "" (never a repr in a name or a URL)."""
    if value is None or isinstance(value, Mapping | list | tuple):
        return ""
    return str(value)


def _number(value: Any) -> float | None:
    """A number, or one in a string ("55", "55.5", "55 %"); booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) < 1e18 else None
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        if re.fullmatch(r"[+-]?\d{1,18}(\.\d+)?", text):
            return float(text)
    return None


def _int(value: Any) -> int | None:
    """A whole number (an integer, an integral float, or digits in a string)."""
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _bool(value: Any) -> bool | None:
    """A boolean, or "true"/"false" in any case (serialisers that quote them); else None."""
    if isinstance(value, bool):
        return value
    word = _norm(value) if isinstance(value, str) else ""
    return {"true": True, "false": False}.get(word)


def _strings(value: Any) -> tuple[str, ...]:
    """An array of scalars (or of people: their e-mail or name) as non-empty texts."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(text for text in (_person(v) for v in value) if text.strip())


def _person(value: Any) -> str:
    """A person or principal: a text, or an object's e-mail, UPN or name (Graph's identity
    objects nest one more level: ``{"user": {...}}``)."""
    if not isinstance(value, Mapping):
        return _text(value)
    fields = _Fields(value)
    found = fields.text(
        "email", "mail", "userPrincipalName", "upn", "displayName", "name", "loginName"
    )
    return found or _person(fields.get("user"))


def _when(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime; no zone means UTC (§3.4, assumed)."""
    text = _text(value).strip()
    if not text or _number(value) is not None:
        return None  # a bare number is no date we can read reliably (seconds? ms?)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class _Fields:
    """One JSON object, its keys found in any spelling (anything else reads as empty)."""

    __slots__ = ("_index",)

    def __init__(self, data: Any) -> None:
        index: dict[str, Any] = {}
        if isinstance(data, Mapping):
            for key, value in data.items():
                index.setdefault(_norm(key), value)
        self._index = index

    def __bool__(self) -> bool:
        return bool(self._index)

    def keys(self) -> set[str]:
        return set(self._index)

    def get(self, *names: str) -> Any:
        """The first value given (neither None nor "") under ``names``; "a/b" is key b of the
        object under key a."""
        for name in names:
            head, _, rest = name.partition("/")
            value = self._index.get(_norm(head))
            if rest:
                value = _Fields(value).get(rest) if isinstance(value, Mapping) else None
            if value is not None and value != "":
                return value
        return None

    def text(self, *names: str) -> str:
        """The first non-empty text under ``names`` (an object or array under one is skipped)."""
        for name in names:
            found = _text(self.get(name))
            if found.strip():
                return found
        return ""

    def whole(self, *names: str) -> int | None:
        for name in names:
            found = _int(self.get(name))
            if found is not None:
                return found
        return None

    def number(self, *names: str) -> float | None:
        for name in names:
            found = _number(self.get(name))
            if found is not None:
                return found
        return None

    def flag(self, *names: str) -> bool | None:
        for name in names:
            found = _bool(self.get(name))
            if found is not None:
                return found
        return None

    def fields(self, *names: str) -> _Fields:
        """The first object under ``names``, as _Fields (empty when there is none)."""
        for name in names:
            found = self.get(name)
            if isinstance(found, Mapping):
                return _Fields(found)
        return _Fields(None)

    def objects(self, *names: str) -> list[Mapping[str, Any]] | None:
        """The objects of the first array under ``names``; None when there is no array."""
        for name in names:
            found = self.get(name)
            if isinstance(found, list):
                return [item for item in found if isinstance(item, Mapping)]
        return None


def _enum_text(value: Any, numbers: Mapping[int, str]) -> str:
    """An enum as a word: a number (or digits) through its assumed order (§9), an object through
    its name, a word as it is. An unknown number stays its digits (shown raw)."""
    if isinstance(value, Mapping):
        return _Fields(value).text("name", "value", "displayName", "code")
    number = _int(value)
    if number is not None:
        return numbers.get(number, str(number))
    return _text(value)


def _message(value: Any) -> str:
    """An error as text: a string, or an object's message (``{"code", "message"}`` and the
    like)."""
    if isinstance(value, Mapping):
        return _Fields(value).text("message", "detail", "exceptionMessage", "title", "code")
    return _text(value).strip()


# Keys that name an object's id, per object (§3.2, §5, §6; "any id key" is assumed).
_REQUEST_ID_KEYS = (
    "id",
    "requestId",
    "provisioningRequestId",
    "provisionRequestId",
    "requestGuid",
    "requestIdentifier",
)
_JOB_ID_KEYS = ("id", "requestId", "jobId", "operationId", "asyncRequestId")
_GROUP_ID_KEYS = ("id", "groupId", "objectId")
_SITE_ID_KEYS = ("id", "siteId")
_TEMPLATE_ID_KEYS = ("id", "templateId")
_CREATED_KEYS = (
    "createdDateTime",
    "createdOn",
    "createdAt",
    "created",
    "createdDate",
    "creationDate",
    "whenCreated",
)


# --- Lists and paging (§7) -----------------------------------------------------------------------


@dataclass(frozen=True)
class ListShape:
    """One answer of a list endpoint: its items, the next page's link, the total if given.

    ``bare``: the answer was the whole list at once (a plain array: no paging at all).
    ``has_more``: the answer said more items follow (a flag, or a next link).
    """

    items: list[Mapping[str, Any]]
    next_link: str | None = None
    total: int | None = None
    bare: bool = False
    has_more: bool = False


# Where a page keeps its items, its next link, its total and a "more follow" flag (§7).
_ITEM_KEYS = ("value", "items", "data", "results", "records", "entries", "rows", "content")
_NEXT_KEYS = (
    "@odata.nextLink",
    "@nextLink",
    "nextLink",
    "nextPageLink",
    "nextPageUrl",
    "nextUrl",
    "next",
    "links/next",
    "_links/next",
    "paging/next",
    "paging/nextLink",
    "pagination/next",
    "pagination/nextLink",
    "meta/next",
    "meta/nextLink",
)
_TOTAL_KEYS = (
    "@odata.count",
    "@count",
    "totalCount",
    "totalItems",
    "totalResults",
    "totalRecords",
    "totalElements",
    "totalSize",
    "total",
    "count",
    "meta/total",
    "meta/totalCount",
    "meta/count",
    "paging/total",
    "paging/totalCount",
    "pagination/total",
    "pagination/totalCount",
)
_MORE_KEYS = (
    "hasMore",
    "hasNextPage",
    "moreAvailable",
    "moreResults",
    "meta/hasMore",
    "paging/hasMore",
    "pagination/hasMore",
)
# Keys a page may carry besides its items (a one-array object with only these is a page).
_PAGE_KEYS = {_norm(key.partition("/")[0]) for key in (*_NEXT_KEYS, *_TOTAL_KEYS, *_MORE_KEYS)} | {
    _norm(key)
    for key in (
        "@odata.context",
        "page",
        "pageSize",
        "pageNumber",
        "top",
        "skip",
        "offset",
        "limit",
        "skipToken",
        "continuationToken",
        "nextToken",
        "cursor",
        "links",
    )
}


def _link(value: Any) -> str | None:
    """A next link: a URL string, or an object's href/url/link."""
    if isinstance(value, Mapping):
        value = _Fields(value).get("href", "url", "link")
    return value if isinstance(value, str) and value.strip() else None


def _page_of(fields: _Fields, items: list[Mapping[str, Any]]) -> ListShape:
    link = next((found for name in _NEXT_KEYS if (found := _link(fields.get(name)))), None)
    total = None
    for name in _TOTAL_KEYS:
        value = fields.get(name)
        total = _int(_Fields(value).get("value") if isinstance(value, Mapping) else value)
        if total is not None:
            break
    more = fields.flag(*_MORE_KEYS) is True or _bool(fields.get("next")) is True
    return ListShape(items, next_link=link, total=total, has_more=more or link is not None)


def list_shape(data: Any, *, lone_object: bool = False) -> ListShape:
    """A list answer in any plausible paging style (§7): a bare array; OData's ``{"value",
    "@odata.nextLink", "@odata.count"}``; ``{"Items", "TotalCount", "NextPageLink"}``; ``items``,
    ``data``, ``results``... with ``next``/``nextLink``/``links.next`` and ``total``/``count``;
    or one array beside paging keys only (``{"groups": [...], "count": 3}``).

    ``lone_object``: an object that is no page is one item (a report result of one group).
    Raises UpstreamError for anything else.
    """
    if isinstance(data, list):
        return ListShape([d for d in data if isinstance(d, Mapping)], bare=True)
    if isinstance(data, Mapping):
        fields = _Fields(data)
        for name in _ITEM_KEYS:
            value = fields.get(name)
            if isinstance(value, list):
                return _page_of(fields, [d for d in value if isinstance(d, Mapping)])
            if isinstance(value, Mapping):
                try:  # an envelope: {"data": {"items": [...], "total": n}}
                    inner = list_shape(value)
                except UpstreamError:
                    continue
                outer = _page_of(fields, inner.items)
                return replace(
                    inner,
                    next_link=inner.next_link or outer.next_link,
                    total=inner.total if inner.total is not None else outer.total,
                    has_more=inner.has_more or outer.has_more,
                )
        arrays = [key for key, value in data.items() if isinstance(value, list)]
        others = {_norm(key) for key in data if key not in arrays}
        if len(arrays) == 1 and others <= _PAGE_KEYS:
            values = data[arrays[0]]
            return _page_of(fields, [d for d in values if isinstance(d, Mapping)])
        if lone_object:
            return ListShape([data], bare=True)
    raise UpstreamError("Point sent a list in an unexpected shape.")


# --- Templates (§3.3) ---------------------------------------------------------------------------

# WorkspaceType as a number: the order of docs/point-dialects.md (pascal-problem-details),
# assumed (§9).
_WORKSPACE_TYPE_NUMBERS = {
    0: "MicrosoftTeams",
    1: "M365Group",
    2: "SharePointSiteCollection",
    3: "YammerCommunity",
}
# workspaceType words (assumed: the names Point's webhook payloads use, §3.3, §9) and plain
# synonyms.
_WORKLOADS = {
    **dict.fromkeys(
        ("microsoftteams", "microsoftteam", "teams", "team", "msteams"),
        Workload.TEAM,
    ),
    **dict.fromkeys(
        (
            "m365group",
            "microsoft365group",
            "office365group",
            "o365group",
            "unifiedgroup",
            "group",
        ),
        Workload.GROUP,
    ),
    **dict.fromkeys(
        (
            "sharepointsitecollection",
            "sharepointsite",
            "sharepoint",
            "sitecollection",
            "site",
        ),
        Workload.SITE,
    ),
    **dict.fromkeys(
        (
            "yammercommunity",
            "yammer",
            "vivaengagecommunity",
            "vivaengage",
            "engagecommunity",
            "community",
        ),
        Workload.COMMUNITY,
    ),
}

# Custom metadata types (documented: Text, People, Date, Dropdown, Yes/No, Number; the wire
# spelling is assumed, §3.3).
_METADATA_KINDS = {
    "text": "text",
    "string": "text",
    "people": "people",
    "person": "people",
    "user": "people",
    "date": "date",
    "datetime": "date",
    "dropdown": "dropdown",
    "choice": "dropdown",
    "yesno": "yesno",
    "boolean": "yesno",
    "bool": "yesno",
    "number": "number",
}

# Template privacy (assumed words, §3.3).
_PRIVACY = {
    "private": Privacy.PRIVATE,
    "public": Privacy.PUBLIC,
    "requesterdecides": Privacy.REQUESTER,
    "requester": Privacy.REQUESTER,
    "userdecides": Privacy.REQUESTER,
    "letrequesterdecide": Privacy.REQUESTER,
}

# Approval process names that mean "no approver" (documented name: "Automatically Approve").
_AUTOMATIC_NAMES = {
    "automaticallyapprove",
    "automaticapproval",
    "automatic",
    "autoapprove",
    "autoapproval",
    "none",
}


def workload(value: Any) -> Workload | None:
    """``workspaceType`` (word or number) as a Workload; None for a kind the portal lacks."""
    return _WORKLOADS.get(_norm(_enum_text(value, _WORKSPACE_TYPE_NUMBERS)))


def _address(value: Any) -> AddressRules | None:
    """urlSettings / emailSettings (assumed, §3.3): None when absent or when the workspace name
    is hidden (Point then makes the address from a random number)."""
    if not isinstance(value, Mapping):
        return None
    fields = _Fields(value)
    if fields.flag("hideWorkspaceName", "hideName") is True:
        return None
    max_length = fields.whole("maxLength", "maxLen", "lengthLimit", "limitLength")
    return AddressRules(
        prefix=fields.text("prefix"),
        suffix=fields.text("suffix"),
        editable=fields.flag("allowEdit", "editable", "allowEditing", "canEdit") is True,
        max_length=max_length if max_length is not None and max_length > 0 else None,
    )


def _metadata(items: list[Mapping[str, Any]] | None) -> tuple[MetadataField, ...]:
    """customMetadata (assumed, §3.3): name, type, required, options (Dropdown)."""
    found = []
    for item in items or ():
        fields = _Fields(item)
        name = fields.text("name", "displayName", "title")
        if not name:
            continue
        found.append(
            MetadataField(
                name=name,
                kind=_METADATA_KINDS.get(_norm(fields.get("type", "kind", "fieldType")), "text"),
                required=fields.flag("required", "isRequired", "mandatory") is True,
                options=_strings(fields.get("options", "choices", "values")),
            )
        )
    return tuple(found)


def _privacy(fields: _Fields) -> Privacy:
    found = _PRIVACY.get(_norm(fields.text("privacy", "visibility")))
    if found is not None:
        return found
    private = fields.flag("isPrivate")
    if private is None:
        return Privacy.UNSET
    return Privacy.PRIVATE if private else Privacy.PUBLIC


_NAMING_KEYS = {
    _norm(k)
    for k in ("namingRule", "nameRule", "workspaceNameRule", "naming", "namePrefix", "nameSuffix")
}


def template_rules(data: Mapping[str, Any]) -> TemplateRules:
    """What a template says about the form and the final names (assumed, §3.3). Every rule is
    an extra: an absent one invents no constraint."""
    fields = _Fields(data)
    naming = fields.fields("namingRule", "nameRule", "workspaceNameRule", "naming")
    owners = fields.fields("owners")
    owners_min = owners.whole("min", "minimum") or fields.whole("minOwners", "minimumOwners")
    owners_max = owners.whole("max", "maximum") or fields.whole("maxOwners", "maximumOwners")
    guests = fields.fields("guests", "guestSettings")
    guest_members = guests.flag("allowAsMembers", "allowMembers")
    comments = fields.flag("commentsEnabled", "allowComments", "comments")
    return TemplateRules(
        naming=Affixes(
            naming.text("prefix") or fields.text("namePrefix"),
            naming.text("suffix") or fields.text("nameSuffix"),
        ),
        # Absent, Point may still add affixes: the portal must not take the typed name as final.
        naming_published=bool(fields.keys() & _NAMING_KEYS),
        url=_address(fields.get("urlSettings", "urlRule", "url")),
        alias=_address(fields.get("emailSettings", "mailSettings", "aliasSettings", "email")),
        privacy=_privacy(fields),
        owners_predefined=_strings(owners.get("predefined", "defaults", "fixed")),
        owners_min=max(owners_min or 0, 0),
        owners_max=owners_max if owners_max is not None and owners_max > 0 else None,
        guests_as_members=True if guest_members is None else guest_members,
        comments=True if comments is None else comments,
        metadata=_metadata(fields.objects("customMetadata", "metadata", "customFields")),
        terms=fields.text("termsAndConditions", "terms", "termsOfUse"),
    )


def _approval(fields: _Fields) -> Approval:
    """approvalProcess (assumed, §3.3): ``isAutomatic``, else the process's name ("Automatically
    Approve" is documented; any other process has approvers)."""
    process = fields.get("approvalProcess", "approval")
    inner = _Fields(process)
    automatic = inner.flag("isAutomatic", "automatic", "autoApprove")
    if automatic is None:
        automatic = fields.flag("isAutomatic", "autoApprove", "automaticApproval")
    if automatic is not None:
        return Approval.AUTOMATIC if automatic else Approval.MANUAL
    name = inner.text("name", "displayName") if isinstance(process, Mapping) else _text(process)
    if not name:
        return Approval.UNKNOWN
    return Approval.AUTOMATIC if _norm(name) in _AUTOMATIC_NAMES else Approval.MANUAL


def catalogue_item(data: Mapping[str, Any]) -> CatalogueItem:
    """A template of GET /v1.0/provision/templates (§3.3: the endpoint is documented, every
    field assumed). Only id, name, description, workspaceType and approvalProcess are relied on;
    the rest are best-effort rules."""
    fields = _Fields(data)
    kind_value = fields.get("workspaceType", "type", "workloadType", "templateType")
    kind_text = _enum_text(kind_value, _WORKSPACE_TYPE_NUMBERS)
    return CatalogueItem(
        id=fields.text(*_TEMPLATE_ID_KEYS),
        name=fields.text("name", "displayName", "title", "templateName"),
        workload=workload(kind_value),
        description=fields.text("description"),
        kind_text=kind_text,
        approval=_approval(fields),
        rules=template_rules(data),
        raw=dict(data),
    )


# --- Provisioning requests (§3) -----------------------------------------------------------------

# Which POST /v1.0/provision/{endpoint} creates which workload (documented endpoints, §2).
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
    """templateId is an integer (documented, §3.1); an id that is not all ASCII digits is sent
    as it is (treated as opaque, in case a Point uses other ids)."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return value


def submit_body(spec: WorkspaceSpec) -> dict[str, Any]:
    """The body of POST /v1.0/provision/{teams|groups|sites|yammer} (§3.1).

    The nine fields are documented (one body for all four endpoints is assumed); metadata is
    keyed by the custom metadata name (assumed). desiredUrl and isPrivate are sent only when
    set, so the template's own rule applies otherwise.
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


# Request status as a number: the order of docs/point-dialects.md, assumed (§9).
_STATUS_NUMBERS = {
    0: "Pending",
    1: "Approved",
    2: "Rejected",
    3: "InProgress",
    4: "Completed",
    5: "Failed",
    6: "Canceled",
}
# Request status words: the proposed ones (§3.4, assumed) and synonyms that plainly mean the
# same. Anything else is UNKNOWN, its word kept (the portal shows and flags it).
_STATUSES = {
    **dict.fromkeys(
        ("pending", "pendingapproval", "awaitingapproval", "waitingforapproval", "inapproval"),
        Status.PENDING_APPROVAL,
    ),
    **dict.fromkeys(("approved", "autoapproved", "automaticallyapproved"), Status.APPROVED),
    **dict.fromkeys(("rejected", "declined", "denied"), Status.REJECTED),
    **dict.fromkeys(
        ("inprogress", "running", "processing", "provisioning", "started", "executing"),
        Status.IN_PROGRESS,
    ),
    **dict.fromkeys(
        (
            "completed",
            "complete",
            "succeeded",
            "success",
            "successful",
            "done",
            "finished",
            "provisioned",
        ),
        Status.COMPLETED,
    ),
    **dict.fromkeys(("failed", "failure", "error", "errored", "faulted"), Status.FAILED),
    **dict.fromkeys(("canceled", "cancelled"), Status.CANCELLED),
}


def status(value: Any) -> Status:
    """A request (or approval stage) status, word or number, any case; UNKNOWN for anything
    else (§9)."""
    return _STATUSES.get(_norm(_enum_text(value, _STATUS_NUMBERS)), Status.UNKNOWN)


_STATUS_KEYS = ("status", "state", "requestStatus", "provisioningStatus")


def _stage(data: Mapping[str, Any]) -> ApprovalStage:
    """approval.stages[] (assumed, §3.4; ``comment`` is an emulator extension)."""
    fields = _Fields(data)
    return ApprovalStage(
        status=status(fields.get(*_STATUS_KEYS)),
        resolved_by=_person(fields.get("resolvedBy", "approvedBy", "decidedBy")),
        comment=fields.text("comment", "reason"),
        approvers=_strings(fields.get("approvers", "approverUpns")),
        number=fields.whole("stage", "number", "stageNumber", "order", "index"),
        resolved_at=_when(
            fields.get("resolvedOn", "resolvedAt", "resolvedDateTime", "decidedOn", "decidedAt")
        ),
    )


def _percent(fields: _Fields) -> int | None:
    """A request's progress as a percent (0-100), from a number or a processed/total pair."""
    found = fields.number(
        "percentComplete", "percentCompleted", "percentage", "percent", "progressPercent"
    )
    if found is None:
        found = _number(fields.get("progress"))
    if found is None:
        processed, total = _pair(fields.fields("progress"))
        if processed is not None and total:
            found = processed * 100 / total
    return None if found is None else max(0, min(100, int(found)))


def request_status(data: Mapping[str, Any]) -> RequestStatus:
    """A provisioning request (§3.4: GET /v1.0/provision/requests/{id} is documented, its body
    assumed): the answer of the POST, of the status check and of the lookup by name."""
    fields = _Fields(data)
    result = fields.fields("result", "workspace", "resource")
    status_text = _enum_text(fields.get(*_STATUS_KEYS), _STATUS_NUMBERS)
    stages = fields.fields("approval").objects("stages") or fields.objects("approvalStages")
    return RequestStatus(
        id=fields.text(*_REQUEST_ID_KEYS),
        status=status(status_text),
        status_text=status_text,
        progress=_percent(fields),
        display_name=fields.text("displayName", "name", "workspaceName", "title"),
        desired_url=fields.text("desiredUrl", "urlSlug", "requestedUrl", "slug"),
        workspace_url=result.text("url", "webUrl", "siteUrl", "workspaceUrl")
        or fields.text("webUrl", "workspaceUrl", "siteUrl", "url"),
        workspace_id=result.text("microsoftId", "id", "groupId", "siteId", "workspaceId")
        or fields.text("microsoftId", "workspaceId", "groupId", "siteId", "resourceId"),
        email=result.text("email", "mail") or fields.text("email", "mail"),
        error=_message(fields.get("error", "errorMessage", "failureReason", "failure"))
        or _message(result.get("error")),
        correlation_id=fields.text("correlationId", "correlation"),
        requested_at=_when(
            fields.get("requestedOn", "requestedAt", "requestedDateTime", *_CREATED_KEYS)
        ),
        stages=tuple(_stage(s) for s in stages or ()),
        approval_process=fields.fields("approval").text("process", "name", "processName")
        or fields.fields("approvalProcess").text("name")
        or fields.text("approvalProcessName"),
    )


# Words that end a Location path but are no request id (a collection or a sub-resource).
_NOT_IDS = {"status", "result", "requests", "provision", "teams", "groups", "sites", "yammer"}


def request_id_from_location(location: str | None) -> str:
    """The request id in a ``Location`` header (§3.2): its last path segment, skipping a trailing
    ``/status`` or ``/result``; "" when the header names no single request."""
    segments = [s for s in urlsplit((location or "").strip()).path.split("/") if s]
    if segments and segments[-1].lower() in ("status", "result"):
        segments.pop()
    if (
        not segments
        or segments[-1].lower() in _NOT_IDS
        or re.fullmatch(r"v\d+(\.\d+)?", segments[-1])
    ):
        return ""
    return unquote(segments[-1])


# A bare id (a JSON string, or text): a GUID, digits or a similar token with a digit in it;
# never a sentence or a word ("Accepted").
_BARE_ID = re.compile(r"(?=[^\d]*\d)[A-Za-z0-9{][A-Za-z0-9._:{}-]{0,199}")


def _bare_id(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    text = value.strip().strip('"') if isinstance(value, str) else ""
    return text if _BARE_ID.fullmatch(text) else ""


def submit_answer(data: Any, *, location: str | None = None, text: str = "") -> RequestStatus:
    """What a 2xx to the provisioning POST says (§3.2): a request object (any id key), a bare
    JSON string or number (the id), or nothing readable; the ``Location`` header names the
    request when the body does not. ``text``: an unreadable body's raw text, taken as the id
    only when it is a bare token. Never raises: a 2xx means Point accepted the request."""
    if isinstance(data, Mapping):
        found = request_status(data)
        if not found.id:
            for name in ("data", "value", "request", "item"):  # an envelope around the object
                inner = _Fields(data).get(name)
                if isinstance(inner, Mapping) and _Fields(inner).text(*_REQUEST_ID_KEYS):
                    return submit_answer(inner, location=location)
    else:
        found = RequestStatus(id=_bare_id(data) or _bare_id(text))
    if found.id:
        return found
    return replace(found, id=request_id_from_location(location))


# --- Workspaces and the directory (§4, §5) ------------------------------------------------------

# groupType (documented values: DistributionList, UnifiedGroup, SecurityGroup,
# MailEnabledSecurityGroup, §5.1) from its spellings and synonyms.
_GROUP_TYPES = {
    **dict.fromkeys(
        (
            "unifiedgroup",
            "unified",
            "m365group",
            "microsoft365group",
            "office365group",
            "o365group",
            "m365",
        ),
        "UnifiedGroup",
    ),
    **dict.fromkeys(("securitygroup", "security"), "SecurityGroup"),
    **dict.fromkeys(
        ("mailenabledsecuritygroup", "mailenabledsecurity", "mailsecuritygroup"),
        "MailEnabledSecurityGroup",
    ),
    **dict.fromkeys(
        ("distributionlist", "distributiongroup", "distribution", "mailenabledgroup"),
        "DistributionList",
    ),
}
_TEAM_TYPES = {"team", "teams", "microsoftteam", "microsoftteams"}


def _group_type(fields: _Fields) -> tuple[str, bool]:
    """(groupType in its documented spelling, is it a team by its type), from ``groupType``, or
    from Graph's ``groupTypes``/``mailEnabled``/``securityEnabled`` (§5.1, graph-names)."""
    text = fields.text("groupType", "type", "kind")
    word = _norm(text)
    if word in _TEAM_TYPES:
        return "UnifiedGroup", True
    if text:
        return _GROUP_TYPES.get(word, text), False
    kinds = {_norm(k) for k in _strings(fields.get("groupTypes"))}
    if "unified" in kinds:
        return "UnifiedGroup", False
    mail, security = fields.flag("mailEnabled"), fields.flag("securityEnabled")
    if security and mail:
        return "MailEnabledSecurityGroup", False
    if security:
        return "SecurityGroup", False
    if mail:
        return "DistributionList", False
    return "", False


def _label(value: Any) -> str:
    """A sensitivity label: a name, an object with one, or Graph's assignedLabels array."""
    if isinstance(value, list):
        return next((found for found in (_label(v) for v in value) if found), "")
    if isinstance(value, Mapping):
        return _Fields(value).text("name", "displayName")
    return _text(value)


def _privacy_text(fields: _Fields) -> str:
    text = fields.text("privacy", "visibility", "accessType")
    if text:
        return {"private": "Private", "public": "Public"}.get(_norm(text), text)
    private = fields.flag("isPrivate")
    return "" if private is None else ("Private" if private else "Public")


def group(data: Mapping[str, Any]) -> Group:
    """A group of GET /v1.0/groups[/{name}] (§5.1: endpoints documented, fields assumed: the
    proposed names and Graph's)."""
    fields = _Fields(data)
    group_type, team_by_type = _group_type(fields)
    options = {_norm(o) for o in _strings(fields.get("resourceProvisioningOptions"))}
    is_team = fields.flag("isTeam", "hasTeam", "teamEnabled", "isTeamsEnabled")
    return Group(
        id=fields.text(*_GROUP_ID_KEYS),
        name=fields.text("name", "displayName", "groupName", "title"),
        email=fields.text("email", "mail", "primarySmtpAddress", "emailAddress"),
        group_type=group_type,
        is_team=bool(is_team) or team_by_type or "team" in options,
        privacy=_privacy_text(fields),
        members_count=fields.whole("membersCount", "memberCount", "numberOfMembers"),
        owners_count=fields.whole("ownersCount", "ownerCount", "numberOfOwners"),
        guests_count=fields.whole("guestsCount", "guestCount", "numberOfGuests"),
        sensitivity_label=_label(
            fields.get("sensitivityLabel", "sensitivityLabelName", "label", "assignedLabels")
        ),
        site_url=fields.text("siteUrl", "sharePointUrl", "sharePointSiteUrl", "webUrl", "url"),
    )


# A site's storage in bytes: the proposed name, Graph's usage reports', SharePoint's site usage
# and a drive's quota (§5.2, assumed). Megabytes under SharePoint admin's names are converted.
# A bare "storageUsed" or "storage" is not read: its unit is anyone's guess, and a number off
# by a factor of a million is worse than "not given".
_STORAGE_BYTES_KEYS = (
    "storageUsedBytes",
    "storageUsedInBytes",
    "storageUsageBytes",
    "usage/storage",
    "quota/used",
    "drive/quota/used",
)
_STORAGE_MEGABYTES_KEYS = ("storageUsedMB", "storageUsedInMB", "storageUsageCurrent")
_LAST_ACTIVITY_KEYS = (
    "lastActivityDate",
    "lastActivityDateTime",
    "lastActivityOn",
    "lastActivityAt",
    "lastActivity",
)
_SHARING_KEYS = (
    "sharingSettings",
    "sharingSetting",
    "externalSharing",
    "sharingCapability",
    "sharingCapabilities",
    "externalSharingCapability",
    "sharing",
)
# Who a site can be shared with outside the organisation, as SharePoint's admin center says it.
SHARING_ANYONE = "Anyone"
SHARING_NEW_AND_EXISTING_GUESTS = "New and existing guests"
SHARING_EXISTING_GUESTS = "Existing guests only"
SHARING_ORGANIZATION_ONLY = "Only people in your organization"
# The proposed words (the emulator's), SharePoint's SharingCapabilities names (Graph's
# sharingCapability), and the admin center's; numbers in SharingCapabilities' order (§9, assumed).
_SHARING_WORDS = {
    "anyone": SHARING_ANYONE,
    "anyonewiththelink": SHARING_ANYONE,
    "externaluserandguestsharing": SHARING_ANYONE,
    "newandexistingguests": SHARING_NEW_AND_EXISTING_GUESTS,
    "externalusersharingonly": SHARING_NEW_AND_EXISTING_GUESTS,
    "existingguestsonly": SHARING_EXISTING_GUESTS,
    "existingguests": SHARING_EXISTING_GUESTS,
    "existingexternalusersharingonly": SHARING_EXISTING_GUESTS,
    "onlyorganization": SHARING_ORGANIZATION_ONLY,
    "onlypeopleinyourorganization": SHARING_ORGANIZATION_ONLY,
    "organizationonly": SHARING_ORGANIZATION_ONLY,
    "disabled": SHARING_ORGANIZATION_ONLY,
}
_SHARING_NUMBERS = {
    0: "Disabled",
    1: "ExternalUserSharingOnly",
    2: "ExternalUserAndGuestSharing",
    3: "ExistingExternalUserSharingOnly",
}


def _storage_bytes(fields: _Fields) -> int | None:
    """Bytes used, from a bytes key or a megabytes one; None when neither gives a count."""
    used = fields.whole(*_STORAGE_BYTES_KEYS)
    if used is None:
        megabytes = fields.number(*_STORAGE_MEGABYTES_KEYS)
        used = None if megabytes is None else round(megabytes * 1024 * 1024)
    return used if used is not None and used >= 0 else None


def _day(value: Any) -> date | None:
    """A date ("2026-08-19") or a timestamp (its day in UTC); anything else is None."""
    when = _when(value)
    return None if when is None else when.astimezone(UTC).date()


def _sharing(value: Any) -> str:
    """External sharing as the admin center's words; an unknown word is kept as sent."""
    word = _enum_text(value, _SHARING_NUMBERS).strip()
    return _SHARING_WORDS.get(_norm(word), word)


def site(data: Mapping[str, Any]) -> Site:
    """A site of GET /v1.0/sites (§5.2: endpoint documented, fields assumed); the site type
    falls back to the template, and a site without either reads as one without a type.
    Storage, last activity, external sharing and label are read where given, else left
    unknown (None or ""), never guessed."""
    fields = _Fields(data)
    return Site(
        id=fields.text(*_SITE_ID_KEYS),
        url=fields.text("url", "webUrl", "siteUrl", "absoluteUrl"),
        title=fields.text("title", "displayName", "name", "siteName"),
        site_type=fields.text("siteType", "template", "webTemplate", "siteTemplate", "type"),
        primary_admin=_person(
            fields.get("primaryAdmin", "primarySiteCollectionAdmin", "siteOwner", "owner")
        ),
        storage_used_bytes=_storage_bytes(fields),
        last_activity_on=_day(fields.get(*_LAST_ACTIVITY_KEYS)),
        external_sharing=_sharing(fields.get(*_SHARING_KEYS)),
        sensitivity_label=_label(
            fields.get("sensitivityLabel", "sensitivityLabelName", "label", "assignedLabels")
        ),
    )


def group_workspace(data: Mapping[str, Any]) -> Workspace:
    """A group (team, community) found by name, as the Workspace it is (§4.2)."""
    found = group(data)
    created = _when(_Fields(data).get(*_CREATED_KEYS))
    return Workspace(
        id=found.id, name=found.name, url=found.site_url, email=found.email, created_at=created
    )


def site_workspace(data: Mapping[str, Any]) -> Workspace:
    """A site found by its URL, as the Workspace it is (§4.2)."""
    found = site(data)
    created = _when(_Fields(data).get(*_CREATED_KEYS))
    return Workspace(id=found.id, name=found.title, url=found.url, created_at=created)


def site_slug(url: str) -> str:
    """The ``<slug>`` of a site URL ending in ``/sites/<slug>``, lower case; "" for any other."""
    segments = [s for s in urlsplit(url.strip()).path.split("/") if s]
    if len(segments) >= 2 and segments[-2].lower() == "sites":
        return unquote(segments[-1]).casefold()
    return ""


def same_name(found: str, wanted: str) -> bool:
    """Two workspace names are the same name: case-insensitively, outer spaces ignored."""
    return found.strip().casefold() == wanted.strip().casefold()


def named(data: Any, name: str) -> Mapping[str, Any] | None:
    """The group GET /v1.0/groups/{name} answered (§4.2): the object, or (from a list or page
    answer) the first item with that exact name, else the first item; None when empty."""
    if isinstance(data, Mapping):
        try:
            items = list_shape(data).items
        except UpstreamError:
            return data
    elif isinstance(data, list):
        items = [d for d in data if isinstance(d, Mapping)]
    else:
        return None
    exact = [i for i in items if same_name(group(i).name, name)]
    candidates = exact or items
    return candidates[0] if candidates else None


# --- Async reports (§6) -------------------------------------------------------------------------


def report_body(kind: ReportKind, subject: str) -> dict[str, Any]:
    """The body that starts a report (assumed, §6.1); ``subject`` narrows it (one group id,
    one site URL) or, for user access, names the user.

    - memberships: ``{"groupIds": [...]}``, empty for every group;
    - site permissions: ``{"siteUrls": [...]}``, none for every site;
    - user access: ``{"user": "<UPN>"}``.
    """
    if kind is ReportKind.GROUP_MEMBERSHIPS:
        return {"groupIds": [subject] if subject else []}
    if kind is ReportKind.SITE_PERMISSIONS:
        return {"siteUrls": [subject]} if subject else {}
    if not subject:
        raise ValueError("The user access report needs a user (a user principal name).")
    return {"user": subject}


# Report job status as a number: the order of docs/point-dialects.md, assumed (§9).
_JOB_NUMBERS = {0: "Running", 1: "Succeeded", 2: "Failed"}
# InProgress and Succeeded are documented in a draft (§6.1); the rest are synonyms. Any other
# word is JobState.UNKNOWN: the portal keeps polling, shows the word and flags it to IT staff.
_JOB_STATES = {
    **dict.fromkeys(
        ("succeeded", "success", "successful", "completed", "complete", "done", "finished"),
        JobState.SUCCEEDED,
    ),
    **dict.fromkeys(
        ("failed", "failure", "error", "errored", "faulted", "canceled", "cancelled"),
        JobState.FAILED,
    ),
}
# Words of a job still at work (§6.1); any other unknown word is shown raw, not taken as one.
_JOB_RUNNING = {
    "running",
    "inprogress",
    "notstarted",
    "queued",
    "pending",
    "started",
    "processing",
    "accepted",
    "waiting",
    "new",
}
# Processed/total pairs of a job's progress, in the order tried (§6.1).
_PROGRESS_PAIRS = (
    ("processedItems", "totalItems"),
    ("processedSites", "totalSites"),
    ("processedCount", "totalCount"),
    ("processed", "total"),
    ("itemsProcessed", "itemsTotal"),
    ("completedItems", "totalItems"),
    ("completed", "total"),
    ("done", "total"),
    ("current", "total"),
)


def _pair(fields: _Fields) -> tuple[int | None, int | None]:
    """A processed/total pair: a known one, else any ``processed*`` with any ``total*`` key."""
    for processed_key, total_key in _PROGRESS_PAIRS:
        processed, total = fields.whole(processed_key), fields.whole(total_key)
        if processed is not None or total is not None:
            return processed, total
    keys = fields.keys()
    processed_keys = sorted(k for k in keys if k.startswith(("processed", "completed")))
    total_keys = sorted(k for k in keys if k.startswith("total"))
    return fields.whole(*processed_keys), fields.whole(*total_keys)


def report_job(data: Mapping[str, Any], *, done: bool = False) -> ReportJob:
    """A RequestStatus of an async report (§6.1). ``done``: the status endpoint answered 302 to
    the result, which means Succeeded (documented in a draft). Progress from any processed/total
    pair (in ``progress`` or beside the status) or a percent (as n of 100)."""
    fields = _Fields(data)
    said = _enum_text(fields.get(*_STATUS_KEYS), _JOB_NUMBERS)
    word = _norm(said)
    if done:
        state = JobState.SUCCEEDED
    elif not word or word in _JOB_RUNNING:
        state = JobState.RUNNING
    else:
        state = _JOB_STATES.get(word, JobState.UNKNOWN)
    processed, total = _pair(fields.fields("progress"))
    if processed is None and total is None:
        processed, total = _pair(fields)
    if processed is None and total is None:
        percent = _percent(fields)
        if percent is not None:
            processed, total = percent, 100
    return ReportJob(
        id=fields.text(*_JOB_ID_KEYS),
        state=state,
        processed=processed,
        total=total,
        error=_message(fields.get("error", "errorMessage", "failureReason")),
        status_text=said,
    )


def job_from_answer(data: Any, *, location: str | None = None, done: bool = False) -> ReportJob:
    """A report job from any answer: an object, a bare id (a start) or a bare status word (a
    poll); the id from ``Location`` when the body has none (§6.1)."""
    if isinstance(data, Mapping):
        job = report_job(data, done=done)
    elif isinstance(data, str) and _norm(data) in {*_JOB_STATES, *_JOB_RUNNING}:
        job = report_job({"status": data}, done=done)
    else:
        job = ReportJob(id=_bare_id(data), state=JobState.SUCCEEDED if done else JobState.RUNNING)
    if job.id:
        return job
    return replace(job, id=request_id_from_location(location))


# Principal kinds (memberType, userType, principalType, Graph's @odata.type) -> user, guest,
# group (§6.2).
_PRINCIPAL_KINDS = {
    **dict.fromkeys(
        ("user", "member", "internal", "internaluser", "person", "microsoftgraphuser"), "user"
    ),
    **dict.fromkeys(("guest", "external", "externaluser", "guestuser"), "guest"),
    **dict.fromkeys(
        (
            "group",
            "sharepointgroup",
            "securitygroup",
            "mailenabledsecuritygroup",
            "m365group",
            "microsoft365group",
            "unifiedgroup",
            "distributionlist",
            "microsoftgraphgroup",
        ),
        "group",
    ),
}
# Workspace kinds of user access (workspaceType, word or number) -> site, team, group, onedrive.
_WORKSPACE_KINDS = {
    **dict.fromkeys(
        ("site", "sharepointsite", "sharepointsitecollection", "sitecollection", "sharepoint"),
        "site",
    ),
    **dict.fromkeys(("team", "teams", "microsoftteam", "microsoftteams"), "team"),
    **dict.fromkeys(
        ("group", "m365group", "microsoft365group", "unifiedgroup", "office365group"), "group"
    ),
    **dict.fromkeys(("onedrive", "onedriveforbusiness", "personalsite", "mysite"), "onedrive"),
}
# Where a row nests its parts: {"member": {...}, "group": {...}} and the like (§6.2).
_PRINCIPALS = ("member", "user", "principal", "person", "identity")
_NAME_KEYS = (
    "displayName",
    "name",
    "memberName",
    "memberDisplayName",
    "principalName",
    "principalDisplayName",
    "userDisplayName",
)
_UPN_KEYS = (
    "userPrincipalName",
    "upn",
    "email",
    "mail",
    "memberEmail",
    "principalEmail",
    "emailAddress",
    "loginName",
)
_KIND_KEYS = ("memberType", "userType", "principalType", "type", "objectType", "@odata.type")


def _kind(table: Mapping[str, str], text: str) -> str:
    word = _norm(text)
    return table.get(word, text.lower())


def _nested(fields: _Fields, names: tuple[str, ...], parts: tuple[str, ...]) -> str:
    """A text from the row itself, else from one of its nested ``parts``."""
    return fields.text(*names) or next(
        (found for part in parts if (found := fields.fields(part).text(*names))), ""
    )


def _joined(value: Any) -> str:
    """A permission: a text, or an array of them ("Full Control, Edit")."""
    if isinstance(value, list | tuple):
        return ", ".join(_strings(value))
    return _label(value) if isinstance(value, Mapping) else _text(value)


def _role(value: Any) -> str:
    """owner or member (memberships), from a word, a plural, or an array of roles."""
    if isinstance(value, list | tuple):
        value = next(iter(_strings(value)), "")
    word = _norm(value)
    return {"owners": "owner", "members": "member"}.get(word, _text(value).lower())


def report_row(kind: ReportKind, data: Mapping[str, Any]) -> ReportRow:
    """One row of a finished report (GET /v1.0/requests/{id}/result; rows assumed, §6.2),
    flat or nested (``{"member": {...}, "group": {...}}``), one per (group, member),
    (site, principal) or workspace."""
    fields = _Fields(data)
    if kind is ReportKind.GROUP_MEMBERSHIPS:
        member_type = _nested(fields, _KIND_KEYS, _PRINCIPALS)
        owner = fields.flag("isOwner")
        role = _role(fields.get("role", "memberRole", "roles"))
        role = role or _role(fields.fields(*_PRINCIPALS).get("role", "roles"))
        return ReportRow(
            group_id=fields.text("groupId") or fields.fields("group").text(*_GROUP_ID_KEYS),
            group_name=fields.text("groupName", "groupDisplayName")
            or fields.fields("group").text("displayName", "name"),
            name=_nested(fields, _NAME_KEYS, _PRINCIPALS),
            upn=_nested(fields, _UPN_KEYS, _PRINCIPALS),
            kind=_kind(_PRINCIPAL_KINDS, member_type),
            kind_text=member_type,
            role=role or ("" if owner is None else ("owner" if owner else "member")),
        )
    if kind is ReportKind.SITE_PERMISSIONS:
        principal_type = _nested(fields, _KIND_KEYS, _PRINCIPALS)
        site_fields = fields.fields("site")
        return ReportRow(
            site_url=fields.text("siteUrl", "siteWebUrl", "webUrl", "url")
            or site_fields.text("url", "webUrl"),
            name=_nested(fields, _NAME_KEYS, _PRINCIPALS),
            upn=_nested(fields, _UPN_KEYS, _PRINCIPALS),
            kind=_kind(_PRINCIPAL_KINDS, principal_type),
            kind_text=principal_type,
            permission=_joined(
                fields.get(
                    "permissionLevel",
                    "permission",
                    "permissionLevels",
                    "roles",
                    "role",
                    "level",
                    "accessLevel",
                )
            ),
            scope=fields.text("scope", "scopeType"),
            scope_url=fields.text("scopeUrl", "scopeWebUrl", "itemUrl"),
            access_via=fields.text("accessVia", "grantedThrough", "via", "source", "channel"),
        )
    workspace = fields.fields("workspace", "site", "resource")
    type_value = fields.get("workspaceType", "type", "kind")
    if type_value is None:
        type_value = workspace.get("workspaceType", "type")
    workspace_type = _enum_text(type_value, _WORKSPACE_TYPE_NUMBERS)
    return ReportRow(
        name=fields.text("workspaceName", "displayName", "name", "title")
        or workspace.text("displayName", "name", "title"),
        site_url=fields.text("url", "webUrl", "workspaceUrl", "siteUrl")
        or workspace.text("url", "webUrl"),
        kind=_kind(_WORKSPACE_KINDS, workspace_type),
        kind_text=workspace_type,
        permission=_joined(
            fields.get("permission", "permissionLevel", "roles", "role", "accessLevel")
        ),
        access_via=fields.text("accessVia", "grantedThrough", "via", "source", "channel"),
    )


# Arrays a grouped result nests its rows in (the reference's proposed result shapes: one object
# per group with its members, one per site with its permissions), with a default role (§6.2).
_CHILD_ROWS: dict[ReportKind, tuple[tuple[str, str], ...]] = {
    ReportKind.GROUP_MEMBERSHIPS: (("members", ""), ("owners", "owner"), ("memberships", "")),
    ReportKind.SITE_PERMISSIONS: (("permissions", ""), ("principals", ""), ("roleAssignments", "")),
    ReportKind.USER_ACCESS: (("workspaces", ""), ("access", "")),
}


def report_rows(kind: ReportKind, data: Mapping[str, Any]) -> list[ReportRow]:
    """The rows of one result item: itself, or (grouped) one per nested member or permission,
    with the group's id and name or the site's URL from the item (§6.2)."""
    fields = _Fields(data)
    children = [
        (child, default)
        for name, default in _CHILD_ROWS[kind]
        for child in fields.objects(name) or ()
    ]
    if not children:
        return [report_row(kind, data)]
    rows = []
    for child, default_role in children:
        row = report_row(kind, child)
        if kind is ReportKind.GROUP_MEMBERSHIPS:
            row = replace(
                row,
                group_id=row.group_id or fields.text("groupId", *_GROUP_ID_KEYS),
                group_name=row.group_name
                or fields.text("groupName", "groupDisplayName", "displayName", "name"),
                role=row.role or default_role,
            )
        elif kind is ReportKind.SITE_PERMISSIONS:
            row = replace(
                row, site_url=row.site_url or fields.text("siteUrl", "url", "webUrl", "siteWebUrl")
            )
        rows.append(row)
    return rows


# --- Errors (§8) ---------------------------------------------------------------------------------

# A request field of POST /v1.0/provision/* (§3.1) -> its neutral name, so a validation error
# lands next to what the person typed. Keys compare normalised (any case, "_" ignored).
_FIELDS = {
    **dict.fromkeys(("displayname", "name", "workspacename", "title"), FIELD_DISPLAY_NAME),
    "description": FIELD_DESCRIPTION,
    # The alias shares the URL's input (desiredEmail is assumed, §3.1).
    **dict.fromkeys(
        (
            "desiredurl",
            "url",
            "urlslug",
            "slug",
            "desiredemail",
            "email",
            "alias",
            "mailnickname",
        ),
        FIELD_DESIRED_URL,
    ),
    **dict.fromkeys(("owners", "owner"), FIELD_OWNERS),
    **dict.fromkeys(("members", "member"), FIELD_MEMBERS),
    **dict.fromkeys(("isprivate", "privacy", "visibility"), FIELD_PRIVACY),
    **dict.fromkeys(("comment", "comments", "justification"), FIELD_COMMENT),
    **dict.fromkeys(("templateid", "template"), FIELD_TEMPLATE),
}
# Prefixes a validator puts before a field's name: a JSON path, the bound parameter (§8).
_FIELD_PREFIXES = ("$.", "$", "/", "body.", "request.")
_METADATA_KEY = re.compile(r"metadata(?:\.|/|\[\s*['\"]?)(?P<name>.+?)(?:['\"]?\s*\])?", re.I)


def neutral_field(name: str) -> str:
    """The neutral field of an error key (§8): ``displayName``/``DisplayName``/``$.displayName``
    -> ``display_name``; ``metadata.X``, ``Metadata.X``, ``metadata[X]``, ``body.Metadata.X`` ->
    ``metadata_field(X)``; an index (``owners[0]``) or sub-field (``owners[0].email``) is
    ignored; "$", "" and anything unknown -> "" (the whole request)."""
    key = name.strip()
    stripped = True
    while stripped and key:
        stripped = False
        for prefix in _FIELD_PREFIXES:
            if key[: len(prefix)].lower() == prefix:
                key, stripped = key[len(prefix) :].strip(), True
                break
    quoted = re.fullmatch(r"\[\s*['\"]?(?P<name>[^'\"\]]+)['\"]?\s*\](?P<rest>.*)", key)
    if quoted:  # $['displayName'] (a JSON path in brackets)
        key = quoted["name"] + quoted["rest"]
    metadata = _METADATA_KEY.fullmatch(key)
    if metadata:
        return metadata_field(metadata["name"].strip())
    head = re.split(r"[.\[/]", key, maxsplit=1)[0]
    return _FIELDS.get(_norm(head), "")


def align_metadata_fields(
    errors: Mapping[str, list[str]], names: Iterable[str]
) -> dict[str, list[str]]:
    """Field errors whose metadata names are spelled as the request spelled them: Point may
    answer ``metadata.cost center`` (or ``costCenter``) for our ``Cost Center`` (§8)."""
    known = {_norm(n): n for n in names}
    aligned: dict[str, list[str]] = {}
    for field, messages in errors.items():
        if field.startswith(METADATA_PREFIX):
            original = known.get(_norm(field[len(METADATA_PREFIX) :]))
            if original is not None:
                field = metadata_field(original)
        aligned.setdefault(field, []).extend(messages)
    return aligned


# Keys of an error body's words, in the order tried: the domain error's exceptionMessage (the
# one documented error body), problem details' detail, OData's error.message, then the generic
# ones (§8).
_MESSAGE_KEYS = (
    "exceptionMessage",
    "detail",
    "error/message",
    "errorMessage",
    "error_description",
    "message",
    "title",
    "error",
)


def error_message(data: Any, *, status: int, reason: str = "") -> str:
    """Point's own words for a failure, from a domain error or problem details (§8); the
    status line when the body says nothing."""
    fields = _Fields(data)
    for name in _MESSAGE_KEYS:
        text = _message(fields.get(name))
        if text:
            return text
    if isinstance(data, str) and data.strip() and len(data) <= 500:
        return data.strip()
    return f"HTTP {status} {reason}".strip()


def _messages(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return [text for text in (_message(v) for v in values) if text]


def field_errors(data: Any, *, status: int, reason: str = "") -> dict[str, list[str]]:
    """A 400/422 body as neutral field errors (§8): ``errors`` of problem details (an object of
    key -> messages), or an array of ``{"field"|"propertyName"|"target", "message"}`` (also
    OData's ``error.details``); the message for the whole request when there are none."""
    fields = _Fields(data)
    errors = fields.get("errors", "validationErrors", "fieldErrors", "error/details", "details")
    found: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            texts = _messages(value)
            if texts:
                found.setdefault(neutral_field(str(key)), []).extend(texts)
    elif isinstance(errors, list):
        for item in errors:
            if not isinstance(item, Mapping):
                texts = _messages(item)
                if texts:
                    found.setdefault("", []).extend(texts)
                continue
            entry = _Fields(item)
            key = entry.text(
                "field",
                "propertyName",
                "property",
                "target",
                "name",
                "key",
                "path",
                "member",
                "source/pointer",
            ) or next(iter(_strings(entry.get("memberNames"))), "")
            texts = _messages(entry.get("message", "errorMessage", "detail", "title", "error"))
            if texts:
                found.setdefault(neutral_field(key), []).extend(texts)
    return found or {"": [error_message(data, status=status, reason=reason)]}


# A 409 that refuses a duplicate (documented-minimal, pascal-problem-details: "A workspace named
# 'X' already exists." / "... is already requested (request <id>)."; the words are assumed, §8).
_DUPLICATE = re.compile(
    r"already\s+(exists?|requested|in\s+use|taken|used|registered|pending|provisioned)"
    r"|duplicate|\bis\s+taken\b|not\s+unique|alreadyexists",
    re.I,
)
_REQUEST_IN_MESSAGE = re.compile(r"\(\s*request(?:\s+id)?\s*[:#]?\s*([^)\s]+?)\s*\)", re.I)
_EXISTING_ID_KEYS = (
    "existingRequestId",
    "requestId",
    "existingId",
    "conflictingRequestId",
    "duplicateRequestId",
    "error/requestId",
    "extensions/requestId",
    "data/requestId",
)


def duplicate(data: Any, message: str) -> tuple[bool, str]:
    """Does a 409 say the name, URL or alias already exists or is already requested? And which
    request holds it (an id key of the body, else "(request <id>)" in the message)?"""
    fields = _Fields(data)
    kind = fields.text("exceptionType", "type", "code", "errorCode", "error/code")
    if not (_DUPLICATE.search(message) or _DUPLICATE.search(kind)):
        return False, ""
    existing = fields.text(*_EXISTING_ID_KEYS)
    if not existing:
        found = _REQUEST_IN_MESSAGE.search(message)
        existing = found.group(1).rstrip(".,;") if found else ""
    return True, existing


# --- Webhooks (§11) -------------------------------------------------------------------------------

# The event types the portal registers for (§11.1, documented names). "*" would add types we do
# not know; naming ours keeps a Point that gains new types from pushing what we cannot use.
EVENT_TYPES = ("ProvisioningStarted", "ProvisioningCompleted", "ProvisioningFailed")
_EVENT_KINDS = {
    "provisioningstarted": EventKind.STARTED,
    "provisioningcompleted": EventKind.COMPLETED,
    "provisioningfailed": EventKind.FAILED,
}
# Documented (§11.3): the header carrying the signature. The Algorithm header's value is not
# documented, and the MAC itself proves which algorithm signed: it is not relied on.
SIGNATURE_HEADER = "Signature"


def push_signature(body: bytes, key: str) -> str:
    """§11.3, documented: Base64(HMAC-SHA256(key = UTF-8 bytes of the key, message = body))."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def verify_push(body: bytes, headers: Mapping[str, str], key: str) -> PushCheck:
    """Constant-time check of the ``Signature`` header (any header case) over the exact bytes."""
    given = next((v for k, v in headers.items() if _norm(k) == "signature"), "")
    if not given.strip():
        return PushCheck.MISSING
    expected = push_signature(body, key).encode("ascii")
    if key and hmac.compare_digest(expected, given.strip().encode("utf-8", "replace")):
        return PushCheck.VALID
    return PushCheck.INVALID


def pushed_event(body: bytes) -> PushedEvent:
    """An event envelope (§11.2: ``{type, content, meta{timeStamp, idempotencyKey}}``, content
    fields per type documented; ``content.requestId`` is the emulator's extension, optional).
    Without an idempotency key the body's hash de-duplicates identical redeliveries."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedEvent(f"The body is not JSON ({type(error).__name__}).") from None
    fields = _Fields(data)
    kind_text = fields.text("type", "eventType", "event")
    if not isinstance(data, Mapping) or not kind_text.strip():
        raise MalformedEvent("The body is not an event: it names no type.")
    content = fields.fields("content", "data", "payload")
    meta = fields.fields("meta", "metadata")
    workload_value = content.get("type", "workspaceType", "resourceType")
    key = meta.text("idempotencyKey", "id") or fields.text("idempotencyKey", "eventId", "id")
    return PushedEvent(
        kind=_EVENT_KINDS.get(_norm(kind_text), EventKind.UNKNOWN),
        kind_text=kind_text.strip()[:100],
        key=(key.strip() or "sha256:" + hashlib.sha256(body).hexdigest())[:200],
        name=content.text("name", "displayName", "title", "workspaceName").strip(),
        workload=workload(workload_value),
        workload_text=_enum_text(workload_value, _WORKSPACE_TYPE_NUMBERS),
        url=content.text("url", "webUrl", "siteUrl", "workspaceUrl"),
        workspace_id=content.text("microsoftId", "id", "groupId", "siteId", "workspaceId"),
        error=_message(content.get("error", "errorMessage", "message", "failureReason")),
        correlation_id=content.text("correlationId", "correlation"),
        request_id=content.text("requestId", "provisioningRequestId"),
        occurred_at=_when(meta.get("timeStamp", "timestamp", "createdDateTime"))
        or _when(fields.get("timeStamp", "timestamp")),
    )


def webhook_body(url: str) -> dict[str, Any]:
    """POST /v1.0/webhooks/endpoints (§11.1, documented)."""
    return {"endpoint": url, "types": list(EVENT_TYPES)}


def webhook_registration(data: Mapping[str, Any]) -> WebhookRegistration:
    """One registration of GET /v1.0/webhooks/endpoints (§11.1: documented ``endpoint``,
    ``types``)."""
    fields = _Fields(data)
    return WebhookRegistration(
        url=fields.text("endpoint", "url", "endpointUrl", "notificationUrl"),
        events=_strings(fields.get("types", "eventTypes", "events")),
    )


def signing_key(data: Any) -> str:
    """``webhooksSignatureAuthenticationKey`` of GET /v1.0/options (§11.3, documented)."""
    return (
        _Fields(data)
        .text(
            "webhooksSignatureAuthenticationKey", "webhookSignatureAuthenticationKey", "signingKey"
        )
        .strip()
    )

"""Every Point wire shape the emulator produces or accepts, in one module.

Most of the Syskit Point API contract is not public: the real one is the Swagger served by each
Point instance. Each shape below is tagged with how much is known of it (the number in brackets
is the section of the research notes the shapes were first drawn from; the repo's own account,
field by field, is docs/point-contract.md, and the dialects are docs/point-dialects.md):

- documented: read in Syskit's public docs;
- documented-draft: read on an unmerged docs branch;
- inferred: concluded from documented facts (ASP.NET Core conventions, mostly);
- proposed: not public at all; our guess, built from documented names.

When a real Swagger is seen, change the proposed shapes here and nowhere else. The rest of the
emulator works on internal records (plain dicts in ``state.data`` or generated on demand) and
turns them into wire dicts only through these functions. These are the ``today`` dialect's
shapes; ``dialects`` derives the other dialects' from them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

# --- Enums -----------------------------------------------------------------------------------

# documented [6.2]: content.type of the webhook payloads; reused for templates [3.3, proposed].
WORKSPACE_TYPES = ("MicrosoftTeams", "M365Group", "SharePointSiteCollection", "YammerCommunity")

# documented [2.2]: which POST /v1.0/provision/{x} endpoint provisions which workspace type.
# The endpoint-to-type mapping is inferred [3.2].
PROVISION_ENDPOINTS = {
    "teams": "MicrosoftTeams",
    "groups": "M365Group",
    "sites": "SharePointSiteCollection",
    "yammer": "YammerCommunity",
}

# proposed [3.3]: template privacy.
PRIVACY_VALUES = ("Private", "Public", "RequesterDecides")

# proposed [3.3]: names of the four documented sharing options.
SHARING_SETTINGS = ("Anyone", "NewAndExistingGuests", "ExistingGuestsOnly", "OnlyOrganization")

# documented [8.2]: custom metadata field types. The wire spelling is proposed ("YesNo").
METADATA_TYPES = ("Text", "People", "Date", "Dropdown", "YesNo", "Number")

# proposed [3.4]: provisioning request status enum.
REQUEST_PENDING = "Pending"
REQUEST_APPROVED = "Approved"
REQUEST_REJECTED = "Rejected"
REQUEST_IN_PROGRESS = "InProgress"
REQUEST_COMPLETED = "Completed"
REQUEST_FAILED = "Failed"
REQUEST_STATUSES = (
    REQUEST_PENDING,
    REQUEST_APPROVED,
    REQUEST_REJECTED,
    REQUEST_IN_PROGRESS,
    REQUEST_COMPLETED,
    REQUEST_FAILED,
)
REQUEST_TERMINAL = (REQUEST_REJECTED, REQUEST_COMPLETED, REQUEST_FAILED)

# Approval stage status: proposed [3.4].
STAGE_PENDING = "Pending"
STAGE_APPROVED = "Approved"
STAGE_REJECTED = "Rejected"

# Async RequestStatus: InProgress and Succeeded are documented-draft [4.1];
# NotStarted and Failed are proposed.
JOB_NOT_STARTED = "NotStarted"
JOB_IN_PROGRESS = "InProgress"
JOB_SUCCEEDED = "Succeeded"
JOB_FAILED = "Failed"

# Async request types: proposed [4.1] ("type": "UserAccess" is the documented-draft example's
# spirit; the names are ours).
JOB_TYPE_GROUP_MEMBERSHIPS = "GroupMemberships"
JOB_TYPE_SITE_PERMISSIONS = "SitePermissions"
JOB_TYPE_USER_ACCESS = "UserAccess"

# documented [5.2]: groupType filter values.
GROUP_TYPES = ("DistributionList", "UnifiedGroup", "SecurityGroup", "MailEnabledSecurityGroup")

# documented [6.2]: webhook event types; "*" means all [6.1].
EVENT_STARTED = "ProvisioningStarted"
EVENT_COMPLETED = "ProvisioningCompleted"
EVENT_FAILED = "ProvisioningFailed"
EVENT_TYPES = (EVENT_STARTED, EVENT_COMPLETED, EVENT_FAILED)
EVENT_ALL = "*"

# documented [6.3]: header names. The Algorithm value is proposed.
SIGNATURE_HEADER = "Signature"
ALGORITHM_HEADER = "Algorithm"
ALGORITHM_VALUE = "HMACSHA256"

# documented [6.3]: the options field holding the webhook signing key.
OPTIONS_KEY_FIELD = "webhooksSignatureAuthenticationKey"

# documented [7]: the .NET exception type names seen in Point's error bodies.
RESOURCE_MISSING = "SysKit.Point.Application.SeedWork.Exceptions.ResourceMissingException"
# proposed [7]: types for the other domain errors.
DOMAIN_ERROR = "SysKit.Point.Application.SeedWork.Exceptions.DomainException"
INVALID_OPERATION = "System.InvalidOperationException"

# proposed [3.1]: request fields of POST /v1.0/provision/*. The first nine are documented.
PROVISION_FIELDS = (
    "templateId",
    "displayName",
    "desiredUrl",
    "owners",
    "members",
    "description",
    "comment",
    "metadata",
    "isPrivate",
    "desiredEmail",  # proposed [3.1]
)

# Paging [7]: not documented. proposed: OData style, the portal client accepts a bare array or
# {"value": [...], "@odata.nextLink": ...} [7, "Portal client robustness"].
PAGE_TOP_PARAM = "$top"
PAGE_SKIP_PARAM = "$skip"
PAGE_DEFAULT = 100
PAGE_MAX = 1000

# Real provisioning failure strings, documented verbatim in the release notes [3.4].
FAILURE_MESSAGES = (
    "System.Exception: Team with group id {group_id} was not created. 3 attempts made.",
    "SysKit.Point.SPO.Graph.Exceptions.MicrosoftGraphClientException: Error happened while resolving teamAsyncOperation",
    "User does not have permissions to execute this action.",
    "An error occurred while applying content and structure. Microsoft.SharePoint.Client.ServerException: Value does not fall within the expected range.",
    "Exceeded changed links limit(20)",
)


# --- Time ------------------------------------------------------------------------------------


def iso(ts: float | None) -> str | None:
    """UTC ISO-8601 with a Z, to the second (proposed for all REST timestamps)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def iso_zoneless(ts: float) -> str:
    """documented [6.2]: webhook meta.timeStamp and requestedOn carry no zone designator."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


# --- Errors [7] ------------------------------------------------------------------------------


def trace_id() -> str:
    """A W3C traceparent-looking id, as ASP.NET Core puts in ProblemDetails (inferred [7])."""
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


def validation_problem(errors: dict[str, list[str]]) -> dict[str, Any]:
    """inferred [7]: ASP.NET Core ValidationProblemDetails, status 400.

    Keys of ``errors`` are the request's camelCase field names (``owners``, ``desiredUrl``);
    a metadata field is ``metadata.<field name>``. proposed: Point's own validation (unknown
    template, taken name) uses the same shape so a client needs one parser for 400s.
    """
    return {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": trace_id(),
    }


def domain_error(message: str, exception_type: str = DOMAIN_ERROR) -> dict[str, Any]:
    """documented [6.1, 7] for 404 (ResourceMissingException); proposed for 409/500."""
    return {
        "message": "An error has occurred.",
        "exceptionMessage": message,
        "exceptionType": exception_type,
    }


def not_found(kind: str, key: str) -> dict[str, Any]:
    """documented [6.1]: the 404 body, e.g. 'WebhookEndpoint with id ... not found.'"""
    return domain_error(f"{kind} with id {key} not found.", RESOURCE_MISSING)


# --- Paging [7, proposed] ---------------------------------------------------------------------


def page(items: list[dict[str, Any]], total: int, next_link: str | None) -> dict[str, Any]:
    """proposed: {"value": [...], "@odata.count": n, "@odata.nextLink": url (only if more)}."""
    body: dict[str, Any] = {"value": items, "@odata.count": total}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


# --- Templates [3.3, proposed] ----------------------------------------------------------------


def template(t: dict[str, Any]) -> dict[str, Any]:
    """proposed [3.3]. Only id, name, description and workspaceType are safe to rely on."""
    approval = t["approval"]
    return {
        "id": t["id"],
        "name": t["name"],
        "description": t["description"],
        "workspaceType": t["workspace_type"],
        "privacy": t["privacy"],
        "approvalProcess": {
            "id": approval["id"],
            "name": approval["name"],
            "isAutomatic": approval["automatic"],
            "stages": len(approval["stages"]),
            # proposed extension: who approves each stage (documented concept [8.3]).
            "stageApprovers": [list(s) for s in approval["stages"]],
        },
        "sensitivityLabel": t.get("sensitivity_label"),
        "namingRule": {"prefix": t["name_prefix"], "suffix": t["name_suffix"]},
        "urlSettings": {
            "prefix": t["url"]["prefix"],
            "suffix": t["url"]["suffix"],
            "hideWorkspaceName": t["url"]["hide_name"],
            "allowEdit": t["url"]["allow_edit"],
            "maxLength": t["url"]["max_length"],
        }
        if t["url"] is not None
        else None,
        "emailSettings": {
            "prefix": t["email"]["prefix"],
            "suffix": t["email"]["suffix"],
            "hideWorkspaceName": t["email"]["hide_name"],
        }
        if t["email"] is not None
        else None,
        "owners": {
            "predefined": list(t["owners"]["predefined"]),
            "allowRequesterToAdd": True,
            # proposed extension: the min/max owners policy [8.2 item 15, 8.4].
            "min": t["owners"]["min"],
            "max": t["owners"]["max"],
        },
        "members": {"predefined": [], "allowRequesterToAdd": True},
        # proposed extension: guest rules. Guests are never owners (documented 2025-06 [8.5]).
        "guests": {"allowAsOwners": False, "allowAsMembers": t["guest_members"]},
        "sharingSettings": t["sharing"],
        "customMetadata": [metadata_field(f) for f in t["metadata"]],
        "commentsEnabled": True,
        "termsAndConditions": t.get("terms"),
        "availability": "Everyone",
    }


def metadata_field(f: dict[str, Any]) -> dict[str, Any]:
    """proposed [3.3]: {"name", "type", "required", "options" (Dropdown only)}."""
    out: dict[str, Any] = {"name": f["name"], "type": f["type"], "required": f["required"]}
    if f["type"] == "Dropdown":
        out["options"] = list(f["options"])
    return out


# --- Provisioning requests [3.4, proposed] ----------------------------------------------------


def provisioning_request(r: dict[str, Any], now: float) -> dict[str, Any]:
    """proposed [3.4]: the request object, from POST /provision/* and GET /provision/requests/{id}.

    ``progress`` (0-100) is a proposed extension present while InProgress.
    """
    body: dict[str, Any] = {
        "id": r["id"],
        "templateId": r["template_id"],
        "templateName": r["template_name"],
        "workspaceType": r["workspace_type"],
        "displayName": r["display_name"],
        "desiredUrl": r["url_slug"],
        "status": r["status"],
        "requestedOn": iso(r["created"]),
        "requestedBy": {"id": r["requester_id"], "displayName": r["requester_name"]},
        "owners": list(r["owners"]),
        "members": list(r["members"]),
        "isPrivate": r["is_private"],
        "approval": {
            "process": r["approval_name"],
            "stages": [
                {
                    "stage": s["stage"],
                    "approvers": list(s["approvers"]),
                    "status": s["status"],
                    "resolvedBy": s.get("resolved_by"),
                    "resolvedOn": iso(s.get("resolved_on")),
                    "comment": s.get("comment"),
                }
                for s in r["stages"]
            ],
        },
        "result": dict(r["result"]) if r.get("result") else None,
        "error": r.get("error"),
        "correlationId": r.get("correlation_id"),
        "warnings": [],
    }
    if r["status"] == REQUEST_IN_PROGRESS:
        started = r["started_at"] or now
        duration = max(r["in_progress_for"], 1e-6)
        body["progress"] = max(0, min(99, int((now - started) / duration * 100)))
    return body


# --- Inventory [5, proposed] ------------------------------------------------------------------


def group(g: dict[str, Any]) -> dict[str, Any]:
    """proposed [5.2]."""
    return {
        "id": g["id"],
        "name": g["name"],
        "email": g["email"],
        "groupType": g["group_type"],
        "isTeam": g["is_team"],
        "privacy": g["privacy"],
        "isOnPremises": g["on_premises"],
        "createdOn": g["created_on"],
        "ownersCount": g["owners_count"],
        "membersCount": g["members_count"],
        "guestsCount": g["guests_count"],
        "sensitivityLabel": g["label"],
        "siteUrl": g.get("site_url"),  # proposed extension: the connected site, if any
    }


def site(s: dict[str, Any]) -> dict[str, Any]:
    """proposed [5.1]."""
    return {
        "id": s["id"],
        "url": s["url"],
        "title": s["title"],
        "template": s["template"],
        "siteType": s["site_type"],
        "primaryAdmin": s["primary_admin"],
        "createdOn": s["created_on"],
        "lastModified": s["last_modified"],
        "lastActivityDate": s["last_modified"][:10],
        "storageUsedBytes": s["storage"],
        "sharingSettings": s["sharing"],
        "sensitivityLabel": s["label"],
        "m365GroupId": s["group_id"],
        "isHubSite": s["hub"],
        "archiveStatus": "Active",
        "primaryContact": s["primary_admin"],
        "secondaryContact": None,
        "department": s["department"],
        "customMetadata": {},
    }


# --- Async jobs [4, documented-draft + proposed] ----------------------------------------------


def request_status(j: dict[str, Any], now: float) -> dict[str, Any]:
    """documented-draft [4.1] (status, progress), proposed for the rest.

    ``progress`` is omitted when not available, never null (documented-draft).
    """
    body: dict[str, Any] = {
        "id": j["id"],
        "type": j["type"],
        "status": j["status"],
        "createdOn": iso(j["created"]),
        "lastUpdatedOn": iso(min(now, j["done_at"]) if j["status"] != JOB_IN_PROGRESS else now),
    }
    if j["status"] == JOB_IN_PROGRESS:
        total = max(int(j["total"]), 1)
        span = max(j["done_at"] - j["created"], 1e-6)
        done = max(0, min(total - 1, int((now - j["created"]) / span * total)))
        body["progress"] = {"processedItems": done, "totalItems": total}
    if j["status"] == JOB_FAILED:
        body["error"] = j["error"]
    return body


def membership_row(grp: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    """proposed [4.4], flattened to one row per (group, member) so it can be paged."""
    return {
        "groupId": grp["id"],
        "groupName": grp["name"],
        "id": m["id"],
        "displayName": m["name"],
        "email": m["upn"],  # a user's UPN, or a nested group's e-mail
        "memberType": m["kind"],  # User | Guest | Group
        "role": m["role"],  # Owner | Member
    }


def site_permission_row(site_url: str, p: dict[str, Any]) -> dict[str, Any]:
    """proposed [4.3], flattened to one row per (site, principal)."""
    return {
        "siteUrl": site_url,
        "principalName": p["principal"],
        "principalType": p["principal_type"],  # User | Guest | SharePointGroup | SecurityGroup
        "permissionLevel": p["level"],
        "scope": "Site",
        "scopeUrl": site_url,
        "accessVia": p["via"],
    }


def user_access_row(a: dict[str, Any]) -> dict[str, Any]:
    """proposed [4.2]."""
    return {
        "workspaceName": a["name"],
        "url": a["url"],
        "workspaceType": a["type"],  # Site | MicrosoftTeam | M365Group | OneDrive
        "permission": a["permission"],
        "accessVia": a["via"],
    }


# --- Webhooks [6, documented] -----------------------------------------------------------------


def webhook_endpoint(e: dict[str, Any]) -> dict[str, Any]:
    """documented [6.1]."""
    return {"endpoint": e["endpoint"], "types": list(e["types"])}


def webhook_envelope(
    event_type: str, content: dict[str, Any], ts: float, key: str
) -> dict[str, Any]:
    """documented [6.2]: {type, content, meta{timeStamp, idempotencyKey}}."""
    return {
        "type": event_type,
        "content": content,
        "meta": {"timeStamp": iso_zoneless(ts), "idempotencyKey": key},
    }


def event_content(event_type: str, r: dict[str, Any]) -> dict[str, Any]:
    """documented [6.2] fields per event; ``requestId`` is a proposed extension (optional)."""
    content: dict[str, Any] = {"name": r["display_name"], "type": r["workspace_type"]}
    if event_type == EVENT_STARTED:
        content["requestedOn"] = iso_zoneless(r["created"])
        content["requesterId"] = r["requester_id"]
    elif event_type == EVENT_COMPLETED:
        content["url"] = r["result"]["url"]
        content["microsoftId"] = r["result"]["microsoftId"]
    elif event_type == EVENT_FAILED:
        content["error"] = r["error"]
        content["correlationId"] = r["correlation_id"]
    content["requestId"] = r["id"]
    return content


def options(key: str) -> dict[str, Any]:
    """documented [6.3]: GET /v1.0/options."""
    return {OPTIONS_KEY_FIELD: key}

"""Provisioning requests: validation, the lifecycle state machine and the creation ledger.

Lifecycle (proposed [3.4, 10.2]):

    auto-approve template:   Approved --(approval + approved s)--> InProgress --(in_progress s)--> Completed | Failed
    manual template:         Pending --(control approve)--> Approved --(approved s)--> InProgress --> ...
                                     \\-(control reject)--> Rejected

Transition times are computed from the previous transition's time, not from when somebody
looked, so lazy advancing on read and the background ticker always agree. Callers hold
``state.lock``.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from emulator.point import catalogue, directory, shapes
from emulator.state import EmulatorState

DEFAULT_TIMING = {"approval": 2.0, "approved": 2.0, "in_progress": 8.0, "job": 3.0}
DEFAULT_FAILURE = shapes.FAILURE_MESSAGES[0]
URL_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_NAME = 256
MAX_EMAIL = 64  # Exchange alias limit (inferred [3.2])
IN_FLIGHT = (shapes.REQUEST_PENDING, shapes.REQUEST_APPROVED, shapes.REQUEST_IN_PROGRESS)

Event = tuple[str, str, dict[str, Any]]  # (tenant slug, event type, webhook content)


# --- Small state helpers -----------------------------------------------------------------------


def config(state: EmulatorState) -> dict[str, Any]:
    """Point's emulator settings; rebuilt lazily after a reset clears ``state.data``."""
    cfg: dict[str, Any] = state.data.setdefault(
        "point_config",
        {
            "timing": dict(DEFAULT_TIMING),
            # At-least-once delivery shows in the demo (which runs with a state file), never in
            # tests unless a test asks for it.
            "duplicate_rate": 0.05 if getattr(state, "state_file", None) else 0.0,
            "retry_delays": [0.5, 1.0, 2.0],
            "fail_next": {},
            "job_fail_next": {},
        },
    )
    return cfg


def timing(state: EmulatorState, key: str) -> float:
    return float(config(state)["timing"].get(key, DEFAULT_TIMING[key]))


def tenant_data(state: EmulatorState, slug: str) -> dict[str, Any]:
    point: dict[str, Any] = state.data.setdefault("point", {})
    data: dict[str, Any] = point.setdefault(slug.lower(), {})
    data.setdefault("requests", {})
    data.setdefault("webhooks", [])
    data.setdefault("jobs", {})
    data.setdefault("options_key", None)
    return data


def ledger(state: EmulatorState) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = state.data.setdefault("ledger", [])
    return entries


def find_request(state: EmulatorState, request_id: str) -> tuple[str, dict[str, Any]] | None:
    """A request by id in any tenant (for the control API)."""
    for slug, data in state.data.get("point", {}).items():
        r = data.get("requests", {}).get(request_id.lower()) if isinstance(data, dict) else None
        if r is not None:
            return slug, r
    return None


# --- Validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """A final name, URL or e-mail alias already held by a workspace or an in-flight request.

    Today it is one more 400 field error (``field``, ``message``); dialects that answer 409
    name the holder instead (``duplicate_message``), so both come from the same check.
    """

    field: str  # the 400 key: displayName | desiredUrl | desiredEmail
    message: str  # today's field error
    holder: str  # the name of the workspace or in-flight request that holds it
    request_id: str | None  # the in-flight request holding it; None for a workspace

    @property
    def duplicate_message(self) -> str:
        if self.request_id:
            return (
                f"A workspace named '{self.holder}' is already requested "
                f"(request {self.request_id})."
            )
        return f"A workspace named '{self.holder}' already exists."


class Invalid(Exception):
    """``errors``: every field error, duplicates included (today's 400); ``conflicts``: the
    duplicates among them, for dialects that refuse those with a 409 instead."""

    def __init__(self, errors: dict[str, list[str]], conflicts: tuple[Conflict, ...] = ()) -> None:
        super().__init__(errors)
        self.errors = errors
        self.conflicts = conflicts

    @property
    def validation_errors(self) -> dict[str, list[str]]:
        """The field errors that are not duplicates (a duplicate is only checked on a field
        that has no other error, so the keys never overlap)."""
        taken = {c.field for c in self.conflicts}
        return {k: v for k, v in self.errors.items() if k not in taken}


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _string_list(value: Any, key: str, errors: dict[str, list[str]]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _add(
            errors,
            key,
            f"The {key} field must be an array of user principal names or e-mail addresses.",
        )
        return []
    return [v.strip() for v in value if v.strip()]


def _check_metadata(
    tenant: dict[str, Any], template: dict[str, Any], value: Any, errors: dict[str, list[str]]
) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        _add(errors, "metadata", "The metadata field must be an object keyed by metadata name.")
        return {}
    fields = {f["name"].lower(): f for f in template["metadata"]}
    clean: dict[str, Any] = {}
    for name in value:
        if name.lower() not in fields:
            # The documented-draft bulk-metadata message [4.5].
            _add(errors, f"metadata.{name}", f"Metadata definition '{name}' not found")
    for key, f in fields.items():
        given = next((v for k, v in value.items() if k.lower() == key), None)
        name = f["name"]
        field_key = f"metadata.{name}"
        if given is None or (isinstance(given, str) and not given.strip()) or given == []:
            if f["required"]:
                _add(errors, field_key, f"{name} is required.")
            continue
        problem = _metadata_problem(tenant, f, given)
        if problem:
            _add(errors, field_key, problem)
        else:
            clean[name] = given
    return clean


def _metadata_problem(tenant: dict[str, Any], f: dict[str, Any], value: Any) -> str | None:
    name, kind = f["name"], f["type"]
    if kind == "Text":
        return None if isinstance(value, str) else f"{name} must be text."
    if kind == "Number":
        if isinstance(value, bool):
            return f"{name} must be a number."
        if isinstance(value, int | float):
            return None if math.isfinite(value) else f"{name} must be a number."
        if isinstance(value, str):
            try:
                return None if math.isfinite(float(value)) else f"{name} must be a number."
            except ValueError:
                return f"{name} must be a number."
        return f"{name} must be a number."
    if kind == "Date":
        if not isinstance(value, str):
            return f"{name} must be an ISO 8601 date (YYYY-MM-DD)."
        try:
            if len(value) == 10:
                date.fromisoformat(value)
            else:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"{name} must be an ISO 8601 date (YYYY-MM-DD)."
        return None
    if kind == "Dropdown":
        if isinstance(value, str) and value in f["options"]:
            return None
        return f"{name} must be one of: {', '.join(f['options'])}."
    if kind == "YesNo":
        return None if isinstance(value, bool) else f"{name} must be true or false."
    if kind == "People":
        people = value if isinstance(value, list) else [value]
        if not people or not all(isinstance(p, str) for p in people):
            return f"{name} must be a user principal name."
        unknown = [p for p in people if directory.find_person(tenant, p) is None]
        return f"{name}: user {unknown[0]} was not found." if unknown else None
    return None


def _taken(
    state: EmulatorState, tenant: dict[str, Any], slug: str
) -> tuple[set[str], dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """Names, URLs and e-mail aliases already used by workspaces, and those of in-flight requests.

    URLs and aliases map to the name of the workspace holding them; in-flight keys map to
    (request id, request name): a 409 names the holder.
    """
    entries = ledger(state)
    names = {g["name"].lower() for g in directory.groups(tenant, entries)}
    names |= {s["title"].lower() for s in directory.sites(tenant, entries)}
    urls = {
        s["url"].rstrip("/").rsplit("/", 1)[-1].lower(): s["title"]
        for s in directory.sites(tenant, entries)
    }
    emails = {
        g["email"].split("@")[0].lower(): g["name"]
        for g in directory.groups(tenant, entries)
        if g["email"]
    }
    pending: dict[str, tuple[str, str]] = {}
    for r in tenant_data(state, slug)["requests"].values():
        if r["status"] in IN_FLIGHT:
            held = (r["id"], r["display_name"])
            pending["name:" + r["display_name"].lower()] = held
            if r["url_slug"]:
                pending["url:" + r["url_slug"].lower()] = held
            if r["email_alias"]:
                pending["email:" + r["email_alias"].lower()] = held
    return names, urls, emails, pending


def _digits(seed: str) -> str:
    """documented [8.2]: a hidden name becomes a 6-10 digit number; ours is 8, from the id."""
    return str(int(uuid.UUID(seed).hex[:12], 16) % 10**8).zfill(8)


def create(
    state: EmulatorState,
    tenant: dict[str, Any],
    endpoint: str,
    body: Any,
    claims: dict[str, Any],
    *,
    check_duplicates: bool = True,
) -> dict[str, Any]:
    """Validate a POST /v1.0/provision/{endpoint} body and record the request; raises Invalid.

    ``check_duplicates=False`` skips the name, URL and alias clash check (a scan of every
    workspace and in-flight request): only the control API's bulk creation, whose names are
    unique by construction, uses it."""
    slug = str(tenant["slug"]).lower()
    workspace_type = shapes.PROVISION_ENDPOINTS[endpoint]
    errors: dict[str, list[str]] = {}
    if not isinstance(body, dict):
        raise Invalid({"$": ["The request body must be a JSON object."]})

    template_id = body.get("templateId")
    template = None
    if template_id is None:
        _add(errors, "templateId", "The templateId field is required.")
    elif isinstance(template_id, bool) or not isinstance(template_id, int):
        _add(errors, "templateId", "The templateId field must be an integer.")
    else:
        template = catalogue.find(tenant, template_id)
        if template is None:
            _add(errors, "templateId", f"Provisioning template {template_id} does not exist.")
        elif template["workspace_type"] != workspace_type:
            right = next(
                k for k, v in shapes.PROVISION_ENDPOINTS.items() if v == template["workspace_type"]
            )
            _add(
                errors,
                "templateId",
                f"Template {template_id} ({template['name']}) provisions {template['workspace_type']}, "
                f"not {workspace_type}; use POST /v1.0/provision/{right}.",
            )
            template = None

    display = body.get("displayName")
    if not isinstance(display, str) or not display.strip():
        _add(errors, "displayName", "The displayName field is required.")
        display = ""
    display = display.strip()
    for key in ("description", "comment", "desiredUrl", "desiredEmail"):
        if body.get(key) is not None and not isinstance(body.get(key), str):
            _add(errors, key, f"The {key} field must be a string.")
    is_private_in = body.get("isPrivate")
    if is_private_in is not None and not isinstance(is_private_in, bool):
        _add(errors, "isPrivate", "The isPrivate field must be true or false.")

    owners_in = _string_list(body.get("owners"), "owners", errors)
    members_in = _string_list(body.get("members"), "members", errors)
    if template is None:
        raise Invalid(errors or {"templateId": ["A valid template is required."]})

    request_id = str(uuid.uuid4())
    final_name = f"{template['name_prefix']}{display}{template['name_suffix']}"
    if display and len(final_name) > MAX_NAME:
        _add(
            errors,
            "displayName",
            f"The workspace name may be at most {MAX_NAME} characters with the template's prefix and suffix.",
        )

    # Owners: the requester's plus the template's predefined ones [8.2 item 4].
    owners: list[str] = []
    if not owners_in and "owners" not in errors:
        _add(errors, "owners", "At least one owner is required.")
    for upn in [*template["owners"]["predefined"], *owners_in]:
        person = directory.find_person(tenant, upn)
        if person is None:
            _add(errors, "owners", f"User {upn} was not found.")
            continue
        if person["guest"]:
            # documented 2025-06-05 [8.5]: guests cannot be owners.
            _add(errors, "owners", f"Guest users cannot be owners: {upn}.")
            continue
        if person["upn"] not in owners:
            owners.append(person["upn"])
    if owners_in and "owners" not in errors:
        lo, hi = template["owners"]["min"], template["owners"]["max"]
        if len(owners) < lo:
            _add(
                errors,
                "owners",
                f"Template '{template['name']}' needs at least {lo} owners (got {len(owners)}).",
            )
        if len(owners) > hi:
            _add(
                errors,
                "owners",
                f"Template '{template['name']}' allows at most {hi} owners (got {len(owners)}).",
            )
    members: list[str] = []
    for upn in members_in:
        person = directory.find_person(tenant, upn)
        if person is None:
            _add(errors, "members", f"User {upn} was not found.")
        elif person["guest"] and not template["guest_members"]:
            _add(
                errors,
                "members",
                f"Template '{template['name']}' does not allow guests as members: {upn}.",
            )
        elif person["upn"] not in owners and person["upn"] not in members:
            members.append(person["upn"])

    url_slug = None
    if template["url"] is not None:
        settings = template["url"]
        desired = body.get("desiredUrl") if isinstance(body.get("desiredUrl"), str) else None
        if settings["hide_name"]:
            core = _digits(request_id)
        elif desired is not None and desired.strip():
            core = desired.strip()
            if not URL_PATTERN.match(core):
                _add(errors, "desiredUrl", "The URL may contain only letters, digits, '-' and '_'.")
        else:
            core = directory.slugify(display)
        url_slug = f"{settings['prefix']}{core}{settings['suffix']}".lower()
        if "desiredUrl" not in errors and display and len(url_slug) > settings["max_length"]:
            _add(
                errors,
                "desiredUrl",
                f"The URL '{url_slug}' is longer than the template's limit of {settings['max_length']} characters.",
            )
        if "desiredUrl" not in errors and display and not core:
            _add(errors, "desiredUrl", "The URL is empty; give a desiredUrl.")

    email_alias = None
    if template["email"] is not None:
        settings = template["email"]
        desired_email = (
            body.get("desiredEmail") if isinstance(body.get("desiredEmail"), str) else None
        )
        if settings["hide_name"]:
            core = _digits(request_id)
        elif desired_email and desired_email.strip():
            core = desired_email.strip().split("@")[0]
            if not EMAIL_PATTERN.match(core):
                _add(
                    errors,
                    "desiredEmail",
                    "The e-mail alias may contain only letters, digits, '.', '-' and '_'.",
                )
        else:
            core = (url_slug or directory.slugify(display)).removeprefix(
                template["url"]["prefix"] if template["url"] else ""
            )
        email_alias = f"{settings['prefix']}{core}{settings['suffix']}".lower()
        if len(email_alias) > MAX_EMAIL:
            _add(errors, "desiredEmail", f"The e-mail alias may be at most {MAX_EMAIL} characters.")

    metadata = _check_metadata(tenant, template, body.get("metadata"), errors)

    conflicts: list[Conflict] = []

    def conflict(field: str, message: str, holder: str, request_id: str | None = None) -> None:
        _add(errors, field, message)
        conflicts.append(Conflict(field, message, holder, request_id))

    if check_duplicates and display and "displayName" not in errors:
        names, urls, emails, pending = _taken(state, tenant, slug)
        if final_name.lower() in names:
            conflict("displayName", f"A workspace named '{final_name}' already exists.", final_name)
        elif "name:" + final_name.lower() in pending:
            held_by, _ = pending["name:" + final_name.lower()]
            conflict(
                "displayName",
                f"A workspace named '{final_name}' is already requested (request {held_by}).",
                final_name,
                held_by,
            )
        if url_slug and "desiredUrl" not in errors:
            if url_slug in urls:
                conflict(
                    "desiredUrl",
                    f"The URL '{url_slug}' is already taken by an existing site.",
                    urls[url_slug],
                )
            elif "url:" + url_slug in pending:
                held_by, holder = pending["url:" + url_slug]
                conflict(
                    "desiredUrl",
                    f"The URL '{url_slug}' is already requested (request {held_by}).",
                    holder,
                    held_by,
                )
        if email_alias and "desiredEmail" not in errors:
            if email_alias in emails:
                conflict(
                    "desiredEmail",
                    f"The e-mail alias '{email_alias}' is already taken.",
                    emails[email_alias],
                )
            elif "email:" + email_alias in pending:
                held_by, holder = pending["email:" + email_alias]
                conflict(
                    "desiredEmail",
                    f"The e-mail alias '{email_alias}' is already requested (request {held_by}).",
                    holder,
                    held_by,
                )

    if errors:
        raise Invalid(errors, tuple(conflicts))

    privacy = template["privacy"]
    is_private = (
        (is_private_in if is_private_in is not None else True)
        if privacy == "RequesterDecides"
        else privacy == "Private"
    )
    now = state.now()
    app_id = str(claims.get("appid") or claims.get("azp") or "")
    app = next((a for a in tenant.get("apps", []) if a.get("client_id") == app_id), None)
    approval = template["approval"]
    cfg = config(state)
    fail_queue = cfg["fail_next"].get(slug) or []
    fail_with = fail_queue.pop(0) if fail_queue else None
    record: dict[str, Any] = {
        "id": request_id,
        "tenant": slug,
        "template_id": template["id"],
        "template_name": template["name"],
        "workspace_type": workspace_type,
        "display_name": final_name,
        "display_name_input": display,
        "desired_url_input": body.get("desiredUrl")
        if isinstance(body.get("desiredUrl"), str)
        else None,
        "url_slug": url_slug,
        "email_alias": email_alias,
        "owners": owners,
        "members": members,
        "description": body.get("description") or "",
        "comment": body.get("comment") or "",
        "metadata": metadata,
        "is_private": is_private,
        "created": now,
        "app_id": app_id,
        "requester_id": str(claims.get("oid") or (app or {}).get("service_principal_id") or app_id),
        "requester_name": f"{(app or {}).get('name', 'API client')} (API)",
        "approval_name": approval["name"],
        "stages": [
            {"stage": i + 1, "approvers": list(approvers), "status": shapes.STAGE_PENDING}
            for i, approvers in enumerate(approval["stages"])
        ],
        "status": shapes.REQUEST_APPROVED if approval["automatic"] else shapes.REQUEST_PENDING,
        "next_at": now + timing(state, "approval") + timing(state, "approved")
        if approval["automatic"]
        else None,
        "started_at": None,
        "in_progress_for": timing(state, "in_progress"),
        "fail_with": fail_with,
        "result": None,
        "error": None,
        "correlation_id": None,
    }
    tenant_data(state, slug)["requests"][request_id] = record
    return record


# --- Lifecycle ---------------------------------------------------------------------------------


def advance(
    state: EmulatorState, tenant: dict[str, Any], r: dict[str, Any], now: float
) -> list[Event]:
    """Move a request along as far as ``now`` allows; the webhook events that happened."""
    events: list[Event] = []
    slug = r["tenant"]
    while r["next_at"] is not None and now >= r["next_at"]:
        at = r["next_at"]
        if r["status"] == shapes.REQUEST_APPROVED:
            r["status"] = shapes.REQUEST_IN_PROGRESS
            r["started_at"] = at
            r["in_progress_for"] = timing(state, "in_progress")
            r["next_at"] = at + r["in_progress_for"]
            events.append(
                (slug, shapes.EVENT_STARTED, shapes.event_content(shapes.EVENT_STARTED, r))
            )
        elif r["status"] == shapes.REQUEST_IN_PROGRESS:
            r["next_at"] = None
            r["finished_at"] = at
            if r["fail_with"]:
                microsoft_id = directory.stable_id(slug, "request", r["id"])
                r["status"] = shapes.REQUEST_FAILED
                r["error"] = str(r["fail_with"]).replace("{group_id}", microsoft_id)
                r["correlation_id"] = str(uuid.uuid4())
                events.append(
                    (slug, shapes.EVENT_FAILED, shapes.event_content(shapes.EVENT_FAILED, r))
                )
            else:
                r["status"] = shapes.REQUEST_COMPLETED
                r["result"] = _result(tenant, r)
                _record(state, r, at)
                events.append(
                    (slug, shapes.EVENT_COMPLETED, shapes.event_content(shapes.EVENT_COMPLETED, r))
                )
        else:
            r["next_at"] = None
    return events


def _result(tenant: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    microsoft_id = directory.stable_id(r["tenant"], "request", r["id"])
    if r["workspace_type"] == "YammerCommunity":
        url = f"https://engage.cloud.microsoft/main/org/{tenant['domain']}/groups/{microsoft_id}"
    else:
        url = directory.sharepoint_url(tenant, r["url_slug"])
    email = f"{r['email_alias']}@{tenant['domain']}" if r["email_alias"] else None
    return {"url": url, "microsoftId": microsoft_id, "email": email}


def _record(state: EmulatorState, r: dict[str, Any], at: float) -> None:
    """Append the workspace to the ledger, once per request whatever happens."""
    entries = ledger(state)
    if any(e.get("requestId") == r["id"] for e in entries):
        return
    entries.append(
        {
            "tenant": r["tenant"],
            "requestId": r["id"],
            "workspaceType": r["workspace_type"],
            "displayName": r["display_name"],
            "url": r["result"]["url"],
            "microsoftId": r["result"]["microsoftId"],
            "email": r["result"]["email"],
            "owners": list(r["owners"]),
            "members": list(r["members"]),
            "isPrivate": r["is_private"],
            "templateId": r["template_id"],
            "created": shapes.iso(at),
        }
    )


def advance_all(state: EmulatorState, now: float) -> list[Event]:
    events: list[Event] = []
    for slug, data in list(state.data.get("point", {}).items()):
        if not isinstance(data, dict):
            continue
        tenant = state.tenant(slug)
        if tenant is None:
            continue
        for r in list(data.get("requests", {}).values()):
            if r["next_at"] is not None and now >= r["next_at"]:
                events += advance(state, tenant, r, now)
    return events


def approve(state: EmulatorState, r: dict[str, Any], by: str | None, comment: str | None) -> None:
    """Resolve every remaining approval stage (the control API stands in for Point's approvers)."""
    now = state.now()
    for stage in r["stages"]:
        if stage["status"] == shapes.STAGE_PENDING:
            stage.update(
                status=shapes.STAGE_APPROVED,
                resolved_by=by or _admin(state, r),
                resolved_on=now,
                comment=comment,
            )
    r["status"] = shapes.REQUEST_APPROVED
    r["next_at"] = now + timing(state, "approved")


def reject(state: EmulatorState, r: dict[str, Any], by: str | None, comment: str | None) -> None:
    now = state.now()
    stage = next((s for s in r["stages"] if s["status"] == shapes.STAGE_PENDING), None)
    if stage is not None:
        stage.update(
            status=shapes.STAGE_REJECTED,
            resolved_by=by or _admin(state, r),
            resolved_on=now,
            comment=comment,
        )
    r["status"] = shapes.REQUEST_REJECTED
    r["next_at"] = None
    r["error"] = comment or None


def _admin(state: EmulatorState, r: dict[str, Any]) -> str:
    tenant = state.tenant(r["tenant"]) or {}
    admins = [u["upn"] for u in tenant.get("users", []) if "Portal.Admin" in u.get("roles", [])]
    return admins[0] if admins else "point.admin@" + str(tenant.get("domain", "example.com"))


def find_mine(
    state: EmulatorState, slug: str, app_id: str, desired_url: str | None, display_name: str | None
) -> list[dict[str, Any]]:
    """proposed: the requests this app made, filtered by the URL or name it asked for."""
    out = []
    for r in tenant_data(state, slug)["requests"].values():
        if r["app_id"] != app_id:
            continue
        if desired_url and desired_url.lower() not in {
            (r["desired_url_input"] or "").lower(),
            (r["url_slug"] or "").lower(),
        }:
            continue
        if display_name and display_name.lower() not in {
            r["display_name_input"].lower(),
            r["display_name"].lower(),
        }:
            continue
        out.append(r)
    return sorted(out, key=lambda r: r["created"])

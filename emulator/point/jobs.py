"""The async "generate" requests [4]: 202 + RequestStatus, poll status, 302 to the result.

A job record is small (parameters and times); the report itself is recomputed from the
deterministic directory whenever a page of it is read, so a 10,000-member report costs no
stored state. Callers hold ``state.lock``.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from emulator.point import directory, provisioning, shapes
from emulator.state import EmulatorState

# Reports are snapshots: the first read of a result computes it, later pages reuse it, so paging
# is consistent and cheap. Keyed by (id of the state, job id); only the newest few are kept.
_SNAPSHOTS: OrderedDict[tuple[int, str], list[dict[str, Any]]] = OrderedDict()
_SNAPSHOT_LIMIT = 8

DEFAULT_JOB_ERROR = (
    "An error occurred while generating the report. Correlation id: {correlation_id}"
)


class Invalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _strings(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid({key: [f"The {key} field must be an array of strings."]})
    return value


def create(state: EmulatorState, tenant: dict[str, Any], kind: str, body: Any) -> dict[str, Any]:
    """Validate the body of a generate request and record the job; raises Invalid."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise Invalid({"$": ["The request body must be a JSON object."]})
    entries = provisioning.ledger(state)
    params: dict[str, Any] = {}
    if kind == shapes.JOB_TYPE_GROUP_MEMBERSHIPS:
        ids = _strings(body, "groupIds")
        known = {g["id"].lower(): g for g in directory.groups(tenant, entries)}
        if ids:
            unknown = [i for i in ids if i.lower() not in known]
            if unknown:
                raise Invalid({"groupIds": [f"Group {i} was not found." for i in unknown]})
            params["groupIds"] = [known[i.lower()]["id"] for i in ids]
        else:
            params["groupIds"] = None  # every group
        total = len(params["groupIds"] or known)
    elif kind == shapes.JOB_TYPE_SITE_PERMISSIONS:
        urls = _strings(body, "siteUrls")
        known = {s["url"].lower().rstrip("/"): s for s in directory.sites(tenant, entries)}
        if urls:
            unknown = [u for u in urls if u.lower().rstrip("/") not in known]
            if unknown:
                raise Invalid(
                    {"siteUrls": [f"Site not found in SysKit Point: {u}" for u in unknown]}
                )
            params["siteUrls"] = [known[u.lower().rstrip("/")]["url"] for u in urls]
        else:
            params["siteUrls"] = None
        total = len(params["siteUrls"] or known)
    else:
        user = body.get("user") or body.get("userPrincipalName") or body.get("userId")
        if not isinstance(user, str) or not user.strip():
            raise Invalid({"user": ["The user field is required (a user principal name)."]})
        person = directory.find_person(tenant, user)
        if person is None:
            person = next(
                (
                    p
                    for p in directory.inventory(tenant).people
                    if p["id"].lower() == user.strip().lower()
                ),
                None,
            )
        if person is None:
            raise Invalid({"user": [f"User {user} was not found."]})
        params["user"] = person["upn"]
        total = len(directory.sites(tenant, entries)) + len(directory.groups(tenant, entries))

    slug = str(tenant["slug"]).lower()
    cfg = provisioning.config(state)
    queue = cfg["job_fail_next"].get(slug) or []
    fail_with = queue.pop(0) if queue else None
    now = state.now()
    job = {
        "id": str(uuid.uuid4()),
        "type": kind,
        "status": shapes.JOB_IN_PROGRESS,
        "created": now,
        "done_at": now + provisioning.timing(state, "job"),
        "total": total,
        "params": params,
        "fail_with": fail_with,
        "error": None,
    }
    provisioning.tenant_data(state, slug)["jobs"][job["id"]] = job
    return job


def advance(job: dict[str, Any], now: float) -> None:
    if job["status"] == shapes.JOB_IN_PROGRESS and now >= job["done_at"]:
        if job["fail_with"]:
            job["status"] = shapes.JOB_FAILED
            job["error"] = str(job["fail_with"]).replace("{correlation_id}", str(uuid.uuid4()))
        else:
            job["status"] = shapes.JOB_SUCCEEDED


def rows(state: EmulatorState, tenant: dict[str, Any], job: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole report as wire rows (paged by the caller), computed once per job."""
    key = (id(state), job["id"])
    if key in _SNAPSHOTS:
        _SNAPSHOTS.move_to_end(key)
        return _SNAPSHOTS[key]
    report = _compute(state, tenant, job)
    _SNAPSHOTS[key] = report
    while len(_SNAPSHOTS) > _SNAPSHOT_LIMIT:
        _SNAPSHOTS.popitem(last=False)
    return report


def _compute(
    state: EmulatorState, tenant: dict[str, Any], job: dict[str, Any]
) -> list[dict[str, Any]]:
    entries = provisioning.ledger(state)
    params = job["params"]
    if job["type"] == shapes.JOB_TYPE_GROUP_MEMBERSHIPS:
        all_groups = directory.groups(tenant, entries)
        wanted = params["groupIds"]
        chosen = [g for g in all_groups if g["id"] in wanted] if wanted else all_groups
        if wanted:
            order = {gid: i for i, gid in enumerate(wanted)}
            chosen.sort(key=lambda g: order[g["id"]])
        return [shapes.membership_row(g, m) for g in chosen for m in directory.members(tenant, g)]
    if job["type"] == shapes.JOB_TYPE_SITE_PERMISSIONS:
        urls = params["siteUrls"] or [s["url"] for s in directory.sites(tenant, entries)]
        out = []
        for url in urls:
            for p in directory.site_permissions(tenant, url, entries) or []:
                out.append(shapes.site_permission_row(url, p))
        return out
    return [
        shapes.user_access_row(a) for a in directory.user_access(tenant, params["user"], entries)
    ]

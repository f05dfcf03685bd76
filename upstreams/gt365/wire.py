"""GT365's JSON, read and written: the only module that knows its wire shapes.

Seed 001 (atwork's "Use the API" article) documents one call, ``POST /api/ProvisionGroup``:
its body keys, a 201 answer holding a serialized .NET ``HttpResponseMessage`` (the ``Location``
of the new group is in its ``headers`` array), and five error samples (Graph-style ``error``
objects and one plain-text line). docs/gt365-contract.md marks every field documented or
assumed and names the emulator dialect covering it.

Reading is tolerant, because one sample per shape is little to go on:

- keys are found in any case and spelling (``statusCode``, ``StatusCode``, ``status_code``);
- a success is the wrapped message OR a bare group object (``id``/``Id``), or nothing;
- a wrapped message saying ``isSuccessStatusCode: false`` (or a status >= 400), or a 2xx
  holding an ``error`` or an error sentence, is an error, never a success;
- an error is a Graph ``{"error": {...}}``, an ASP.NET ``{"Message": ...}``, a JSON string or
  plain text; its field is read from ``details[].target`` or else from its words.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from upstreams.contract import (
    FIELD_DESCRIPTION,
    FIELD_DESIRED_URL,
    FIELD_DISPLAY_NAME,
    FIELD_MEMBERS,
    FIELD_OWNERS,
    FIELD_PRIVACY,
    Workload,
    WorkspaceSpec,
    metadata_field,
)

MAX_ALIAS = 64  # Graph's limit on mailNickname
CLASSIFICATION = "classification"

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# documented: Location ".../directoryObjects/{group id}/Microsoft.DirectoryServices.Group";
# a Graph-style ".../groups/{id}" is read too (assumed).
_LOCATION_ID = re.compile(r"/(?:directoryObjects|groups)/([^/?#]+)", re.IGNORECASE)
# Graph's wording: "Property classification has an invalid value.",
# "Another object with the same value for property mailNickname already exists."
_PROPERTY = re.compile(r"\bproperty\s+'?([A-Za-z]+)'?", re.IGNORECASE)
# A 2xx whose body is only a sentence: these words make it an error (assumed, §4).
_ERROR_WORDS = (
    "no visibility",
    "was provided",
    "wrong label",
    "not found",
    "invalid",
    "error",
    "already exists",
    "failed",
)

# GT365's body keys (and Graph's words for them) -> the neutral fields.
_FIELDS = {
    "displayname": FIELD_DISPLAY_NAME,
    "mailnickname": FIELD_DESIRED_URL,
    "description": FIELD_DESCRIPTION,
    "visibility": FIELD_PRIVACY,
    "ownerupns": FIELD_OWNERS,
    "owners": FIELD_OWNERS,
    "owner": FIELD_OWNERS,
    "memberupns": FIELD_MEMBERS,
    "members": FIELD_MEMBERS,
    "member": FIELD_MEMBERS,
    CLASSIFICATION: metadata_field(CLASSIFICATION),
}
# When no target is named, the words of the message decide (first match wins: "Team owner
# not found" is about owners, "No visibility ... was provided" about privacy).
_WORDS = (
    ("visibility", "visibility"),
    ("classification", CLASSIFICATION),
    ("mailnickname", "mailnickname"),
    ("alias", "mailnickname"),
    ("owner", "owner"),
    ("member", "member"),
    ("displayname", "displayname"),
    ("description", "description"),
)
# What to do, added to GT365's words, per neutral field.
_ADVICE = {
    metadata_field(CLASSIFICATION): "The classification is not in the tenant's classification "
    "policy: choose another one, or set the value in the classification policy first.",
    FIELD_OWNERS: "Check that every owner is a user of the tenant (by user name, UPN).",
    FIELD_MEMBERS: "Check that every member is a user of the tenant (by user name, UPN).",
    FIELD_PRIVACY: "GT365 takes Private or Public.",
    FIELD_DESIRED_URL: f"The e-mail alias may hold only ASCII letters, digits and hyphens, "
    f"at most {MAX_ALIAS}.",
}


def _norm(key: object) -> str:
    return re.sub(r"[\s_\-.@]", "", str(key)).lower()


def _get(data: Any, *names: str) -> Any:
    """The value of the first of ``names`` present in ``data``, in any key spelling."""
    if not isinstance(data, Mapping):
        return None
    keys = {_norm(k): v for k, v in data.items()}
    for name in names:
        if _norm(name) in keys:
            return keys[_norm(name)]
    return None


def _text(value: Any) -> str:
    if value is None or isinstance(value, Mapping | list):
        return ""
    return str(value).strip()


# --- The request (documented: seed 001's sample payload and key table) --------------------------


def alias_slug(name: str) -> str:
    """An ASCII alias from a name: letters, digits and hyphens, at most 64. A name with no
    ASCII letter or digit gets a stable one ("group-" + a digest), so that sending the same
    request again meets the same alias (and GT365's duplicate refusal)."""
    ascii_only = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_only).strip("-").lower()
    if not slug:
        slug = "group-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    return slug[:MAX_ALIAS].strip("-")


def classification(metadata: Mapping[str, Any]) -> str:
    """The ``classification`` metadata value (key in any case), "" when absent."""
    for key, value in metadata.items():
        if str(key).strip().lower() == CLASSIFICATION and value not in (None, ""):
            return str(value).strip()
    return ""


def submit_body(spec: WorkspaceSpec) -> dict[str, Any]:
    """The ProvisionGroup body. Mandatory (documented): displayName, mailNickname, ownerUPNs,
    visibility; classification only when the request has one."""
    body: dict[str, Any] = {
        "displayName": spec.display_name,
        "mailNickname": spec.desired_url.strip() or alias_slug(spec.display_name),
        "description": spec.description,
        "ownerUPNs": list(spec.owners),
        "memberUPNs": list(spec.members),
        "createTeam": spec.workload == Workload.TEAM,
        "visibility": "Public" if spec.is_private is False else "Private",
    }
    chosen = classification(spec.metadata)
    if chosen:
        body["classification"] = chosen
    return body


# --- Errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """An error GT365 sent, in any shape. ``details``: (target, code) pairs."""

    status: int
    code: str = ""
    message: str = ""
    details: tuple[tuple[str, str], ...] = ()


def _details(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (_text(_get(d, "target")), _text(_get(d, "code"))) for d in value if isinstance(d, Mapping)
    )


def problem(data: Any, *, status: int, reason: str = "", text: str = "") -> Problem:
    """The error in an answer: ``data`` its JSON (None when it was not JSON), ``text`` its
    raw body (the plain-text errors)."""
    if isinstance(data, str):
        return Problem(status, message=data.strip() or reason)
    if not isinstance(data, Mapping):
        return Problem(status, message=text.strip()[:500] or reason)
    error = _get(data, "error")
    if isinstance(error, Mapping):
        # documented: {"error": {"code", "message", "innerError", "details": [target, code]}}
        return Problem(
            status,
            code=_text(_get(error, "code")),
            message=_text(_get(error, "message")) or reason,
            details=_details(_get(error, "details")),
        )
    wrapped = _get(data, "statusCode")
    if isinstance(wrapped, int) and not isinstance(wrapped, bool) and wrapped >= 400:
        status = wrapped  # the wrapped message's own failure is the one that matters
    message = _text(error) or _text(
        _get(data, "message", "exceptionMessage", "detail", "title", "reasonPhrase")
    )
    return Problem(
        status,
        code=_text(_get(data, "code", "errorCode")),
        message=message or reason,
        details=_details(_get(data, "details")),
    )


def error_message(data: Any, *, status: int, reason: str = "", text: str = "") -> str:
    return problem(data, status=status, reason=reason, text=text).message or f"HTTP {status}"


def _field(name: str) -> str:
    return _FIELDS.get(_norm(name), "")


def _fields_named(found: Problem) -> list[str]:
    """The neutral fields an error is about: its details' targets, else its words."""
    named = [_field(target) for target, _ in found.details if _field(target)]
    if named:
        return named
    match = _PROPERTY.search(found.message)
    if match and _field(match[1]):
        return [_field(match[1])]
    words = _norm(found.message)
    for word, key in _WORDS:
        if word in words:
            return [_field(key)]
    return []


def duplicate(found: Problem) -> str | None:
    """The neutral field of a duplicate (documented: mailNickname ObjectConflict), else None."""
    conflict = any(code.lower() == "objectconflict" for _, code in found.details)
    if not conflict and "already exist" not in found.message.lower():
        return None
    return next(iter(_fields_named(found)), FIELD_DESIRED_URL)


def field_errors(found: Problem) -> dict[str, list[str]]:
    """The error's messages on the neutral fields it names ("" for the whole request)."""
    message = found.message or f"GT365 refused the request ({found.status})."
    fields = _fields_named(found) or [""]
    return {name: [f"{message} {_ADVICE.get(name, '')}".strip()] for name in dict.fromkeys(fields)}


# --- The answer to a successful call ------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    """What a 2xx says of the new group; every field may be "" (a 2xx means it was made)."""

    id: str = ""
    display_name: str = ""
    mail: str = ""


def _wrapped_headers(data: Mapping[str, Any]) -> dict[str, str]:
    """documented: ``headers: [{"key": "Location", "value": ["..."]}]`` -> {name: first value}."""
    found: dict[str, str] = {}
    headers = _get(data, "headers")
    if isinstance(headers, Mapping):  # a plain {name: value} object (assumed)
        headers = [{"key": k, "value": v} for k, v in headers.items()]
    for item in headers if isinstance(headers, list) else ():
        key, value = _text(_get(item, "key")), _get(item, "value")
        first = value[0] if isinstance(value, list) and value else value
        if key and _text(first):
            found.setdefault(key.lower(), _text(first))
    return found


def location_id(location: str) -> str:
    """The group id in a Location (documented: ``.../directoryObjects/{id}/...``)."""
    match = _LOCATION_ID.search(location or "")
    if match:
        return match[1]
    guids = _GUID.findall(location or "")
    return guids[-1] if guids else ""


def _is_wrapped(data: Mapping[str, Any]) -> bool:
    return _get(data, "isSuccessStatusCode", "statusCode", "reasonPhrase") is not None


def _looks_like_error(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _ERROR_WORDS)


def failure(data: Any, *, status: int, text: str = "") -> Problem | None:
    """The error a 2xx carries, if any: a wrapped message that did not succeed, an ``error``
    object, or a sentence instead of a group (§4)."""
    if isinstance(data, Mapping):
        if _get(data, "error") is not None:
            return problem(data, status=400)
        if _is_wrapped(data):
            code = _get(data, "statusCode")
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            success = _get(data, "isSuccessStatusCode")
            if success is False or str(success).lower() == "false" or (code or 0) >= 400:
                return problem(data, status=code if code and code >= 400 else 400)
            return None
        # {"Message": "No visibility ..."} with a 2xx: a sentence in an object, no group.
        said = _text(_get(data, "message"))
        if said and not _get(data, "id") and _looks_like_error(said):
            return problem(data, status=400)
        return None
    sentence = data if isinstance(data, str) else text
    if sentence and not _GUID.fullmatch(sentence.strip()) and _looks_like_error(sentence):
        return problem(sentence, status=400)
    return None


def created(data: Any, *, location: str | None = None, text: str = "") -> Created:
    """The group a 2xx names (call ``failure`` first): the wrapped message's Location, a bare
    group's id, the HTTP Location header, or a bare id as the whole body."""
    if isinstance(data, Mapping):
        inner = _get(data, "value", "group", "content") if not _get(data, "id") else None
        group = inner if isinstance(inner, Mapping) and _get(inner, "id") else data
        group_id = _text(_get(group, "id", "groupId", "objectId"))
        if not group_id and _is_wrapped(data):
            group_id = location_id(_wrapped_headers(data).get("location", ""))
        return Created(
            id=group_id or location_id(location or ""),
            display_name=_text(_get(group, "displayName")),
            mail=_text(_get(group, "mail")),
        )
    bare = (data if isinstance(data, str) else text).strip().strip('"')
    return Created(id=bare if _GUID.fullmatch(bare) else location_id(location or ""))

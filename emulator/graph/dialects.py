"""The two ways the emulated Graph may answer: ``documented`` and ``variant``.

``documented`` is Graph as its docs show it. ``variant`` holds every faithful variation a
client must tolerate (see docs/emulator-graph.md): absolute team Location, a Location next to
Operation-Location, PascalCase status words, unknown extra keys, pages of 2, no
assignedLicenses on users, no createdDateTime on groups, lower-camel error codes without
details. A tenant's dialect lives in its Graph config (``store.config``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.server import Request, Response, json_response

DOCUMENTED = "documented"
VARIANT = "variant"
DIALECTS = (DOCUMENTED, VARIANT)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def variant(self) -> bool:
        return self.name == VARIANT

    # -- bodies -------------------------------------------------------------------------

    def status_word(self, status: str) -> str:
        """Operation statuses: lower camel as documented, PascalCase in the variant."""
        return status[:1].upper() + status[1:] if self.variant else status

    def page_size(self, top: int | None) -> int:
        size = top if top is not None else DEFAULT_PAGE_SIZE
        # Graph may return fewer items than $top; the variant always does, so paging is exercised.
        return min(size, 2) if self.variant else size

    def user(self, user: dict[str, Any]) -> dict[str, Any]:
        if self.variant:
            # Licence unknown (the property was not returned), which is not "unlicensed".
            user = {k: v for k, v in user.items() if k != "assignedLicenses"}
        return self.extras(user, "user")

    def group(self, group: dict[str, Any]) -> dict[str, Any]:
        if self.variant:
            group = {k: v for k, v in group.items() if k != "createdDateTime"}
        return self.extras(group, "group")

    def extras(self, obj: dict[str, Any], kind: str) -> dict[str, Any]:
        """Unknown keys a tolerant reader must ignore (variant only)."""
        if not self.variant:
            return obj
        return {"@odata.type": f"#microsoft.graph.{kind}", **obj, "deletedDateTime": None}

    def collection(
        self, context: str, items: list[dict[str, Any]], extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"@odata.context": context, **(extra or {}), "value": items}
        if self.variant:
            body["@microsoft.graph.tips"] = "This request only returns a subset of properties."
        return body

    # -- errors -------------------------------------------------------------------------

    def error(
        self,
        req: Request,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        error: dict[str, Any] = {
            "code": code[:1].lower() + code[1:] if self.variant else code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": req.headers.get("client-request-id") or str(uuid.uuid4()),
            },
        }
        if details and not self.variant:
            error["details"] = details
        return json_response({"error": error}, status=status, headers=headers)


def get(name: str) -> Dialect:
    return Dialect(name if name in DIALECTS else DOCUMENTED)


# What the server's own errors (injected faults, throttles, crashes) become on a Graph path.
_FAULT_CODES = {
    429: ("TooManyRequests", "Too many requests. Please try again later."),
    500: ("generalException", "An unspecified error has occurred."),
    502: ("BadGateway", "The service is temporarily unavailable (bad gateway)."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Try again later."),
}


def reshape_fault(dialect: Dialect, req: Request, response: Response) -> Response:
    if response.status < 400:
        return response
    code, message = _FAULT_CODES.get(response.status, ("generalException", "An error occurred."))
    if response.status == 429:
        try:
            detail = json.loads(response.body).get("exceptionMessage")
        except (ValueError, AttributeError):
            detail = None
        message = detail or message
    keep = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
    return dialect.error(req, response.status, code, message, headers=keep)

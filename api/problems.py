"""Errors in one shape: RFC 9457 problem details (``application/problem+json``).

``{"type", "title", "status", "detail", "errors": {field: [messages]}}``: ``errors`` only for a
request the API refused field by field (the same messages the form shows next to each field).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from ninja import Schema

MEDIA_TYPE = "application/problem+json"
# The problem types are plain HTTP statuses (RFC 9457 §4.2.1): no page to document them.
ABOUT_BLANK = "about:blank"


class Problem(Schema):
    """What went wrong: ``title`` in a few words, ``detail`` what to do."""

    type: str = ABOUT_BLANK
    title: str
    status: int
    detail: str = ""
    errors: dict[str, list[str]] | None = None


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {"type": ABOUT_BLANK, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = {name: list(messages) for name, messages in errors.items()}
    response = HttpResponse(json.dumps(body), status=status, content_type=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ProblemError(Exception):
    """Raised by an endpoint to answer with a problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors

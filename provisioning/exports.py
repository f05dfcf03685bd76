"""CSV export of a request list, streamed row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from provisioning.models import ProvisioningRequest

HEADER = [
    "id", "created", "tenant", "workload", "template", "name", "final name", "state", "requester",
    "requester e-mail", "upstream id", "finished", "workspace url", "error", "correlation id",
]
CHUNK = 500


def cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    """A file-like object whose write() hands the line back (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def _when(value: object) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""  # type: ignore[arg-type]


def rows(requests: QuerySet[ProvisioningRequest]) -> Iterator[list[str]]:
    yield HEADER
    for r in requests.iterator(chunk_size=CHUNK):
        person = r.requested_by
        yield [cell(v) for v in (
            r.pk, _when(r.created_at), r.tenant.name, r.get_workload_display(), r.template.name,
            r.display_name, r.final_name, r.get_state_display(), person.get_full_name() or person.username,
            person.email, r.upstream_id, _when(r.finished_at), r.workspace_url, r.error_message,
            r.correlation_id,
        )]


def request_csv_response(requests: QuerySet[ProvisioningRequest], filename: str = "requests.csv") -> StreamingHttpResponse:
    """Stream ``requests`` (with tenant, template and requester selected) as CSV."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows(requests)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

"""CSV export of a request list, streamed row by row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from core.csv_export import cell, csv_response
from provisioning.models import ProvisioningRequest

HEADER = [
    "id",
    "created",
    "tenant",
    "workload",
    "template",
    "name",
    "final name",
    "state",
    "requester",
    "requester e-mail",
    "upstream id",
    "finished",
    "workspace url",
    "error",
    "correlation id",
]
CHUNK = 500


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def rows(requests: QuerySet[ProvisioningRequest]) -> Iterator[list[str]]:
    yield HEADER
    for r in requests.iterator(chunk_size=CHUNK):
        person = r.requested_by
        yield [
            cell(v)
            for v in (
                r.pk,
                _when(r.created_at),
                r.tenant.name,
                r.get_workload_display(),
                r.template.name,
                r.display_name,
                r.final_name,
                r.get_state_display(),
                person.get_full_name() or person.username,
                person.email,
                r.upstream_id,
                _when(r.finished_at),
                r.workspace_url,
                r.error_message,
                r.correlation_id,
            )
        ]


def request_csv_response(
    requests: QuerySet[ProvisioningRequest], filename: str = "requests.csv"
) -> StreamingHttpResponse:
    """Stream ``requests`` (with tenant, template and requester selected) as CSV."""
    return csv_response(rows(requests), filename)

"""Bulk requests: store an upload's checked rows, then submit the accepted ones once each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from provisioning import bulk
from provisioning.forms import RequestForm
from provisioning.models import BulkUpload, ProvisioningRequest, Template
from provisioning.services.requests import request_submit_once
from provisioning.states import TransitionRefused

if TYPE_CHECKING:
    from portal.models import User


def bulk_upload(
    *, template: Template, user: User, raw: bytes, filename: str
) -> tuple[BulkUpload, list[str]]:
    """Check every row like the form and keep the result; nothing is sent. Also the columns
    that are not the template's (ignored). Raises bulk.BulkFileError for a file that cannot be
    read as a whole."""
    rows, ignored = bulk.read_rows(raw, template)
    upload = BulkUpload.objects.create(
        tenant=template.tenant,
        template=template,
        uploaded_by=user,
        filename=filename[:200],
        rows=rows,
    )
    return upload, ignored


@dataclass(frozen=True)
class RowResult:
    row: int
    name: str
    errors: dict[str, list[str]]
    request: ProvisioningRequest | None


def bulk_results(upload: BulkUpload) -> list[RowResult]:
    """Each row with its errors, or the request it became (found by its submission key)."""
    made = {
        item.submission_key: item
        for item in ProvisioningRequest.objects.filter(
            requested_by_id=upload.uploaded_by_id,
            submission_key__startswith=f"bulk-{upload.pk}-",
        )
    }
    return [
        RowResult(
            row=row["row"],
            name=str(row["data"].get("display_name", "")),
            errors=row.get("errors") or {},
            request=made.get(upload.submission_key(row["row"])),
        )
        for row in upload.rows
    ]


def bulk_submit(*, upload: BulkUpload) -> int:
    """Submit every accepted row once, as requests of the person who uploaded the file (a
    second click, or two at once, submits nothing more): each row's submission key is the
    upload and row number. The rows are checked again by the
    form (a template changed since the upload refuses them). The number of new requests."""
    template = upload.template
    created = 0
    for row in upload.valid_rows:
        key = upload.submission_key(row["row"])
        form = RequestForm({**row["data"], "submission_key": ""}, template=template)
        if not form.is_valid():
            continue
        try:
            _item, new = request_submit_once(
                submission_key=key,
                tenant=upload.tenant,
                template=template,
                requested_by=upload.uploaded_by,
                data=form.to_request_data(),
            )
        except TransitionRefused:
            break  # the template is no longer offered: nothing more can be sent
        created += int(new)
    with transaction.atomic():
        BulkUpload.objects.filter(pk=upload.pk, submitted_at__isnull=True).update(
            submitted_at=timezone.now()
        )
    return created

"""Provisioning-job credentials (seed 003): the enterprise applications' synchronization jobs
of a tenant, read live from Microsoft Graph, and handing one of them credentials through
``POST /servicePrincipals/{id}/synchronization/acquireAccessToken``.

The values an admin types are secrets: they are stored encrypted (like every secret) only until
the background task has sent them, then erased whatever the outcome. Only the keys, who, when
and the outcome stay, and the audit log says that credentials were handed over, never what.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from audit.models import AuditAction
from audit.services import audit_record
from tenants import crypto, upstream
from tenants.models import JobCredentials, Tenant
from upstreams.contract import (
    Invalid,
    NotFound,
    PermissionMissing,
    SyncJob,
    UpstreamError,
)

if TYPE_CHECKING:
    from portal.models import User

logger = logging.getLogger(__name__)

SEND_TASK = "tenants.tasks.send_job_credentials"


def jobs_list(*, tenant: Tenant, search: str = "") -> list[SyncJob]:
    """The tenant's provisioning jobs, live. Raises upstreams.contract.UpstreamError."""
    return upstream.graph_for(tenant).sync_jobs(search)


@transaction.atomic
def credentials_start(
    *,
    tenant: Tenant,
    user: User | None,
    service_principal_id: str,
    app_name: str,
    credentials: dict[str, str],
) -> JobCredentials:
    """Keep the credentials encrypted and send them in the background once committed."""
    handover = JobCredentials.objects.create(
        tenant=tenant,
        service_principal_id=service_principal_id,
        app_name=app_name[:256],
        keys=sorted(credentials),
        values_encrypted=crypto.encrypt(json.dumps(credentials)),
        started_by=user,
    )
    transaction.on_commit(
        lambda: async_task(SEND_TASK, handover.pk, task_name="provisioning-job credentials")
    )
    return handover


def _failure(error: UpstreamError) -> str:
    if isinstance(error, PermissionMissing):
        return f"{error.message} {error.guidance}".strip()
    if isinstance(error, NotFound):
        return (
            "Microsoft Graph has no such enterprise application (it may have been deleted): "
            "reload the list."
        )
    if isinstance(error, Invalid):
        return "Microsoft Graph refused the credentials: " + "; ".join(
            " ".join(messages) for messages in error.field_errors.values()
        )
    return f"{error.text} Nothing was changed; try again."


def credentials_send(*, handover_id: int) -> JobCredentials | None:
    """Send a pending handover once (a second delivery of the task finds it finished), then
    erase the values whatever happened."""
    with transaction.atomic():
        handover = (
            # Only this row is locked (PostgreSQL refuses FOR UPDATE on an outer join).
            JobCredentials.objects.select_for_update(of=("self",))
            .select_related("tenant", "started_by")
            .filter(pk=handover_id, status=JobCredentials.Status.PENDING)
            .first()
        )
        if handover is None:
            return None
        try:
            credentials = json.loads(crypto.decrypt(handover.values_encrypted))
        except (crypto.SecretUnavailable, ValueError):
            credentials = None
        if not isinstance(credentials, dict):
            handover.status = JobCredentials.Status.FAILED
            handover.error = (
                "The credentials could not be read back (the encryption key changed): enter "
                "them again."
            )
        else:
            try:
                upstream.graph_for(handover.tenant).acquire_sync_token(
                    handover.service_principal_id, credentials
                )
            except UpstreamError as error:
                handover.status = JobCredentials.Status.FAILED
                handover.error = _failure(error)
            else:
                handover.status = JobCredentials.Status.SENT
        handover.values_encrypted = ""
        handover.finished_at = timezone.now()
        handover.save(update_fields=["status", "error", "values_encrypted", "finished_at"])
    audit_record(
        action=AuditAction.JOB_CREDENTIALS_SENT,
        user=handover.started_by,
        tenant=handover.tenant,
        detail=f"Credentials ({', '.join(handover.keys)}) for the provisioning job of "
        f"{handover.app_name or handover.service_principal_id}: "
        f"{handover.get_status_display().lower()}."
        + (f" {handover.error}" if handover.error else ""),
    )
    logger.info(
        "tenant %s: job credentials %s %s", handover.tenant.slug, handover.pk, handover.status
    )
    return handover

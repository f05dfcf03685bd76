"""Background tasks of the provisioning app (django-q2). Arguments are ids only; each task
loads its rows and calls a service (provisioning/services.py), which is safe to run twice."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

from django_q.tasks import async_task

from provisioning import notifications, services
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SYNC_CATALOGUE_TASK = "provisioning.tasks.sync_catalogue"


def send_request(request_id: int) -> str:
    """Send a submitted request to its upstream (exactly once; see services.request_send)."""
    result = services.request_send(request_id=request_id)
    logger.info("Request %s: send %s", request_id, result.outcome)
    if result.outcome in ("sent", "adopted"):
        services.resume_waiting(request_id=request_id)
    return result.outcome


def refresh_request(request_id: int, claim: str | None = None) -> bool:
    """Check one request's upstream status now (unless ``claim``, the watched page's, was taken
    over meanwhile: then someone else checks it)."""
    return services.request_refresh(
        request_id=request_id, claim=uuid.UUID(claim) if claim else None
    )


def poll_requests() -> dict[str, int]:
    """Scheduled every minute: follow due in-flight requests, resume due sends and webhook
    events that wait."""
    report = asdict(services.poll_due())
    report["deliveries_resumed"] = services.deliveries_resume()
    return report


def process_delivery(delivery_id: int) -> str:
    """Match a verified webhook event to its request and apply it (queued by the receiver)."""
    return services.delivery_process(delivery_id=delivery_id)


def remind_approvers() -> int:
    """Scheduled hourly: remind the approvers of portal stages that waited too long."""
    return services.approvals_remind()


def prune_deliveries() -> int:
    """Scheduled daily: forget webhook deliveries older than WEBHOOK_KEEP_DAYS."""
    return services.deliveries_prune()


def sync_catalogue(tenant_id: int) -> dict[str, int] | None:
    """Sync one tenant's template catalogue from its upstream."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    return asdict(services.catalogue_sync(tenant=tenant))


def sync_all_catalogues() -> int:
    """Scheduled hourly: one sync task per active tenant (each with its own timeout)."""
    ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in ids:
        async_task(SYNC_CATALOGUE_TASK, tenant_id)
    return len(ids)


def notify_requester(request_id: int, state: str) -> Any:
    """E-mail the requester that their request reached `state` (queued by record_transition)."""
    return notifications.send_outcome(request_id=request_id, state=state)


def resync_after_move(sender: Any, tenant: Tenant, **kwargs: Any) -> None:
    """A tenant now reaches another upstream: read its catalogue from there (a task)."""
    async_task(SYNC_CATALOGUE_TASK, tenant.pk)

"""Writes on tenants: secrets and connection checks."""

from __future__ import annotations

import logging
from datetime import date

from django.db import transaction
from django_q.tasks import async_task

from portal.audit import audit_record
from portal.models import AuditAction, User
from tenants import tokens
from tenants.models import ConnectionCheck, Tenant, TenantToken

logger = logging.getLogger(__name__)


def _audit(action: AuditAction, *, user: User | None, tenant: Tenant, detail: str = "") -> None:
    """One audit entry (never a secret or a token in `detail`)."""
    audit_record(action=action, user=user, tenant=tenant, detail=detail)


@transaction.atomic
def tenant_set_secret(
    *, tenant: Tenant, secret: str, expires_on: date | None = None, user: User | None = None
) -> Tenant:
    """Store a new client secret (encrypted) and drop every token and app made with the old one."""
    tenant.set_client_secret(secret)
    if expires_on is not None:
        tenant.secret_expires_on = expires_on
    tenant.save()
    TenantToken.objects.filter(tenant=tenant).delete()
    tokens.forget(tenant)
    expiry = tenant.secret_expires_on.isoformat() if tenant.secret_expires_on else "unknown"
    _audit(AuditAction.TENANT_SECRET_CHANGED, user=user, tenant=tenant,
           detail=f"New client secret stored; expires on {expiry}.")
    return tenant


def credentials_changed(*, tenant: Tenant, user: User | None = None) -> None:
    """Ids or URL changed in the admin: cached tokens and apps must not be reused."""
    TenantToken.objects.filter(tenant=tenant).delete()
    tokens.forget(tenant)


@transaction.atomic
def connection_check_start(*, tenant: Tenant, user: User | None = None) -> ConnectionCheck:
    """Save a pending check and run it in the background once committed."""
    check = ConnectionCheck.objects.create(tenant=tenant, started_by=user)
    transaction.on_commit(
        lambda: async_task("tenants.tasks.run_connection_check", check.pk, task_name="connection check")
    )
    return check


def connection_check_run(*, check_id: int) -> ConnectionCheck | None:
    """Run a pending check (a second delivery of the task finds it done and does nothing)."""
    from tenants import checks

    check = ConnectionCheck.objects.filter(pk=check_id, status=ConnectionCheck.Status.PENDING).first()
    if check is None:
        return None
    check = checks.run(check)
    _audit(AuditAction.CONNECTION_TESTED, user=check.started_by, tenant=check.tenant,
           detail=check.summary)
    return check

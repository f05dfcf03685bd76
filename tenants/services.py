"""Writes on tenants: secrets and connection checks."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from audit.models import AuditAction
from audit.services import audit_record
from tenants import signals, tokens
from tenants.models import ConnectionCheck, Tenant, TenantToken, UpstreamNotice

if TYPE_CHECKING:
    from portal.models import User

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
    _audit(
        AuditAction.TENANT_SECRET_CHANGED,
        user=user,
        tenant=tenant,
        detail=f"New client secret stored; expires on {expiry}.",
    )
    return tenant


def credentials_changed(*, tenant: Tenant, user: User | None = None) -> None:
    """Ids or URL changed in the admin: cached tokens and apps must not be reused."""
    TenantToken.objects.filter(tenant=tenant).delete()
    tokens.forget(tenant)


# Where a tenant connects: a change is audited with the old and new value (none is a secret).
CONNECTION_FIELDS = {
    "entra_tenant_id": "Entra tenant ID",
    "client_id": "client ID",
    "api_url": "upstream API URL",
    "point_app_id": "Point API app ID",
    "provider": "upstream",
    "slug": "slug",
    "is_active": "active",
}
TOKEN_FIELDS = {"entra_tenant_id", "client_id", "point_app_id", "api_url"}


def tenant_settings_changed(
    *, tenant: Tenant, before: Tenant | None, changed: list[str], user: User | None = None
) -> None:
    """After a tenant was saved (Django admin): audit where it now connects, drop old tokens."""
    if before is None:
        _audit(
            AuditAction.TENANT_CREATED,
            user=user,
            tenant=tenant,
            detail=f"Tenant {tenant.name} ({tenant.slug}) created; {tenant.upstream_label} API URL "
            f"{tenant.api_url}.",
        )
        return
    moved = [
        f"{label}: {getattr(before, field)} -> {getattr(tenant, field)}"
        for field, label in CONNECTION_FIELDS.items()
        if field in changed and getattr(before, field) != getattr(tenant, field)
    ]
    if moved:
        _audit(
            AuditAction.TENANT_CONNECTION_CHANGED, user=user, tenant=tenant, detail="; ".join(moved)
        )
    if TOKEN_FIELDS & set(changed):
        credentials_changed(tenant=tenant, user=user)
    if {"api_url", "point_app_id", "provider"} & set(changed):
        transaction.on_commit(lambda: signals.upstream_moved.send(sender=Tenant, tenant=tenant))


@transaction.atomic
def tenant_upstream_change(*, tenant: Tenant, before: Tenant, user: User | None = None) -> None:
    """Save what the tenant now provisions through: audited, old tokens dropped, the catalogue
    read again (or, without one, the synced templates no longer offered)."""
    changed = [
        f
        for f in ("provider", "api_url", "point_app_id")
        if getattr(before, f) != getattr(tenant, f)
    ]
    tenant.save(update_fields=[*changed, "updated_at"] if changed else ["updated_at"])
    tenant_settings_changed(tenant=tenant, before=before, changed=changed, user=user)


@transaction.atomic
def connection_check_start(*, tenant: Tenant, user: User | None = None) -> ConnectionCheck:
    """Save a pending check and run it in the background once committed."""
    check = ConnectionCheck.objects.create(tenant=tenant, started_by=user)
    transaction.on_commit(
        lambda: async_task(
            "tenants.tasks.run_connection_check", check.pk, task_name="connection check"
        )
    )
    return check


def connection_check_run(*, check_id: int) -> ConnectionCheck | None:
    """Run a pending check (a second delivery of the task finds it done and does nothing)."""
    from tenants import checks

    check = ConnectionCheck.objects.filter(
        pk=check_id, status=ConnectionCheck.Status.PENDING
    ).first()
    if check is None:
        return None
    check = checks.run(check)
    _audit(
        AuditAction.CONNECTION_TESTED,
        user=check.started_by,
        tenant=check.tenant,
        detail=check.summary,
    )
    return check


def note_unknown_value(*, tenant: Tenant, what: str, value: str, example: str = "") -> None:
    """Remember that the tenant's upstream sent a value the portal does not know (logged once
    per value; counted every time), for IT staff on the tenant page."""
    value = value[:200]
    updated = UpstreamNotice.objects.filter(tenant=tenant, what=what, value=value).update(
        count=F("count") + 1, example=example[:200], last_seen=timezone.now()
    )
    if updated:
        return
    try:
        with transaction.atomic():
            UpstreamNotice.objects.create(tenant=tenant, what=what, value=value, example=example)
    except IntegrityError:
        return  # another process noted it first
    logger.warning("Tenant %s: the upstream sent an unknown %s %r", tenant.slug, what, value)

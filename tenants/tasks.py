"""Background tasks of tenants: take ids, call services."""

from __future__ import annotations


def run_connection_check(check_id: int) -> None:
    """Run one "Test connection" (enqueued by services.connection_check_start)."""
    from tenants import services

    services.connection_check_run(check_id=check_id)


def refresh_webhook_key(tenant_id: int) -> bool:
    """Re-read a tenant's webhook signing key (verification failed; rate-limited by the
    receiver)."""
    from tenants import webhooks

    return webhooks.signing_key_refresh(tenant_id=tenant_id)


def resync_webhooks(tenant_id: int) -> bool:
    """The tenant now reaches another upstream: register the receiver there if webhooks are on."""
    from tenants import webhooks
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None or not webhooks.subscription_for(tenant).enabled:
        return False
    try:
        webhooks.webhooks_enable(tenant=tenant, user=None)
    except webhooks.WebhookSetupError:
        return False  # kept in last_error, shown on the tenant page
    return True


def send_job_credentials(handover_id: int) -> None:
    """Hand a provisioning job its credentials (enqueued by jobs.credentials_start)."""
    from tenants import jobs

    jobs.credentials_send(handover_id=handover_id)

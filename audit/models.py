"""The audit log: who did what, in which tenant, when and from where."""

from __future__ import annotations

from django.db import models

from core.roles import Role


class AuditAction(models.TextChoices):
    """What an audit entry records; later features add their own actions here."""

    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    SESSION_EXPIRED = "session_expired", "Session expired"
    ROLE_CHANGED = "role_changed", "Role changed"
    ROLE_REFUSED = "role_refused", "Role claim refused"
    TENANT_SWITCHED = "tenant_switched", "Tenant switched"
    TENANT_SECRET_CHANGED = "tenant_secret_changed", "Tenant secret changed"
    TENANT_CONNECTION_CHANGED = "tenant_connection_changed", "Tenant connection changed"
    TENANT_CREATED = "tenant_created", "Tenant created"
    ACCESS_CHANGED = "access_changed", "Access changed"
    CONNECTION_TESTED = "connection_tested", "Connection tested"
    WEBHOOKS_CHANGED = "webhooks_changed", "Webhooks changed"
    TEMPLATE_DEFINED = "template_defined", "Template defined in the portal"
    JOB_CREDENTIALS_SENT = "job_credentials_sent", "Provisioning-job credentials handed over"
    REQUEST_SUBMITTED = "request_submitted", "Provisioning request submitted"
    REQUEST_RETRIED = "request_retried", "Provisioning request retried"
    REQUEST_CANCELLED = "request_cancelled", "Provisioning request cancelled"
    REQUEST_APPROVED = "request_approved", "Provisioning request approved in the portal"
    REQUEST_REJECTED = "request_rejected", "Provisioning request rejected in the portal"


class AuditEvent(models.Model):
    """One audited event: who (kept as text too, so it survives the user), which tenant,
    when and from where. Written only through portal.audit.audit_record; never edited."""

    action = models.CharField(max_length=40, choices=AuditAction)
    created_at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    person = models.CharField(max_length=300, blank=True, help_text="Name and e-mail at the time.")
    # The person's portal role at the time: operators' actions must stand out.
    actor_role = models.CharField("role", max_length=20, choices=Role, blank=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tenant_name = models.CharField(max_length=100, blank=True)
    source_ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        # Moved here from the portal app (audit/migrations/0001): the table moved with it.
        db_table = "audit_auditevent"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["action", "-created_at"], name="audit_action_time"),
            # The log newest first, for operators (every entry) and per organisation.
            models.Index(fields=["-created_at", "-id"], name="audit_newest_first"),
            models.Index(fields=["tenant", "-created_at"], name="audit_by_tenant"),
        ]
        # On PostgreSQL, a trigram index for "Person contains": migration 0005, outside Meta.

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.person or 'unknown'} at {self.created_at:%Y-%m-%d %H:%M:%S}"

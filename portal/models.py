"""Portal-wide records: people (keyed on Entra tid + oid), the audit log and the worker heartbeat."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    """Portal roles, from Entra app roles at each sign-in (highest one wins).

    Requester, IT staff and admin apply to the organisation whose Entra granted them (the
    person's home tenant, plus tenants an operator assigned to IT staff). Operator runs the
    whole portal and is honoured only from OPERATOR_TENANT_ID (portal/roles.py).
    """

    REQUESTER = "requester", "Requester"
    IT_STAFF = "it_staff", "IT staff"
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"


class User(AbstractUser):
    """A person signed in through Entra ID; username is "<oid>@<tid>"."""

    entra_tenant_id = models.UUIDField("Entra tenant ID (tid)", null=True, blank=True)
    entra_object_id = models.UUIDField("Entra object ID (oid)", null=True, blank=True)
    home_tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="The tenant the person signs in from.",
    )
    # The user principal name from the sign-in token (preferred_username), lower-cased: how
    # request forms name people (owners, members).
    upn = models.CharField("UPN", max_length=254, blank=True)
    role = models.CharField(max_length=20, choices=Role, blank=True)
    served_tenants = models.ManyToManyField(
        "tenants.Tenant",
        blank=True,
        related_name="it_staff",
        help_text="Further tenants this IT staff member serves, besides the home tenant.",
    )
    selected_tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The tenant last chosen in the header's tenant selector (IT staff).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entra_tenant_id", "entra_object_id"],
                name="user_unique_entra_identity",
                condition=models.Q(entra_object_id__isnull=False),
            )
        ]


class Heartbeat(models.Model):
    """The last time a background worker ran the heartbeat schedule."""

    name = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


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
    REQUEST_SUBMITTED = "request_submitted", "Provisioning request submitted"
    REQUEST_RETRIED = "request_retried", "Provisioning request retried"
    REQUEST_CANCELLED = "request_cancelled", "Provisioning request cancelled"


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
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_time")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.person or 'unknown'} at {self.created_at:%Y-%m-%d %H:%M:%S}"

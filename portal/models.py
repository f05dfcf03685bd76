"""Portal-wide records: people (keyed on Entra tid + oid) and the worker heartbeat."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    """Portal roles, from Entra app roles at each sign-in (highest one wins)."""

    REQUESTER = "requester", "Requester"
    IT_STAFF = "it_staff", "IT staff"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    """A person signed in through Entra ID; username is "<oid>@<tid>"."""

    entra_tenant_id = models.UUIDField("Entra tenant ID (tid)", null=True, blank=True)
    entra_object_id = models.UUIDField("Entra object ID (oid)", null=True, blank=True)
    home_tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        help_text="The tenant the person signs in from.",
    )
    role = models.CharField(max_length=20, choices=Role, blank=True)
    served_tenants = models.ManyToManyField(
        "tenants.Tenant", blank=True, related_name="it_staff",
        help_text="Further tenants this IT staff member serves, besides the home tenant.",
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

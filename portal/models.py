"""Portal-wide records: people (keyed on Entra tid + oid) and the worker heartbeat."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from core.roles import Role


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

"""Machine clients of the REST API: each one an Entra app registration of a tenant, registered
here by an admin (as CIPP registers its API clients), with the API roles the portal grants it."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

# The API's roles: app roles of the portal's app registration, granted to a client app in
# Entra (they arrive in the token's `roles`) and allowed here per client; a call needs both.
REQUESTS_READ = "Requests.Read"
REQUESTS_READWRITE = "Requests.ReadWrite"
DIRECTORY_READ = "Directory.Read"
API_ROLES = (REQUESTS_READ, REQUESTS_READWRITE, DIRECTORY_READ)


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """CIDR ranges, one per line (or comma-separated); a bare address is a range of one."""
    found = []
    for part in text.replace(",", "\n").splitlines():
        part = part.strip()
        if part:
            found.append(ipaddress.ip_network(part, strict=False))
    return found


def validate_networks(text: str) -> None:
    try:
        parse_networks(text)
    except ValueError as error:
        raise ValidationError(f"Not an address or CIDR range: {error}") from None


def validate_rate(value: str) -> None:
    from api.throttle import parse_rate

    if value:
        try:
            parse_rate(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


def validate_roles(value: object) -> None:
    if not isinstance(value, list) or any(r not in API_ROLES for r in value):
        raise ValidationError(f"Choose from {', '.join(API_ROLES)}.")


class ApiClient(models.Model):
    """A service desk or script calling /api/v1/ with app-only tokens of its tenant's Entra."""

    name = models.CharField(max_length=100, help_text="Shown in the audit log and timelines.")
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="api_clients",
        help_text="The organisation whose Entra issues its tokens and whose data it reaches.",
    )
    app_id = models.UUIDField(
        "application (client) ID",
        help_text="The client's own app registration: the token's azp (or appid) claim.",
    )
    roles = models.JSONField(
        default=list,
        validators=[validate_roles],
        help_text="API roles the portal allows this client; the token must carry them too.",
    )
    allowed_networks = models.TextField(
        "allowed IP ranges",
        blank=True,
        validators=[validate_networks],
        help_text="CIDR ranges, one per line (e.g. 203.0.113.0/24). Empty: any address.",
    )
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        validators=[validate_rate],
        help_text='Requests per period, e.g. "120/min"; empty: the portal\'s API_RATE_LIMIT.',
    )
    enabled = models.BooleanField(default=True)
    # The portal identity its actions are recorded under (made on its first call).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="api_client",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["tenant", "name"]
        verbose_name = "API client"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "app_id"], name="api_client_once_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant})"

    def allows_address(self, address: str) -> bool:
        networks = parse_networks(self.allowed_networks)
        if not networks:
            return True
        try:
            found = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(found in network for network in networks)

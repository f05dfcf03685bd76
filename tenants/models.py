"""Tenants: one Microsoft 365 tenant with its Entra app registration and upstream API."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from tenants import crypto
from upstreams import registry
from upstreams.contract import Capabilities


def validate_api_url(value: str) -> None:
    # Credentials travel to this URL as bearer tokens: https only, except the demo emulator.
    if not value.startswith("https://") and not settings.DEMO_MODE:
        raise ValidationError("The upstream API URL must start with https://.")


validate_point_url = validate_api_url  # the name older migrations use


# Microsoft Graph's token resource; GT365 is called with a Graph token too (docs/gt365-contract.md).
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class Provider(models.TextChoices):
    POINT = "point", "Syskit Point"
    GT365 = "gt365", "GT365"
    GRAPH = "graph", "Microsoft Graph"


# Where each upstream lives when the tenant does not say (Point has no public address).
DEFAULT_API_URLS: dict[str, str] = {
    Provider.GT365: "https://gt365api.atwork-it.com/api",
    Provider.GRAPH: "https://graph.microsoft.com/v1.0",
}


class Tenant(models.Model):
    """A Microsoft 365 tenant the portal serves, with its credentials and upstream API."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    entra_tenant_id = models.UUIDField(
        "Entra tenant ID", unique=True, help_text="Directory (tenant) ID, a GUID."
    )
    client_id = models.UUIDField(
        "client ID", help_text="Application (client) ID of the portal's app registration."
    )
    # Fernet token; see set_client_secret(). Never shown back in any form.
    client_secret_encrypted = models.TextField(editable=False, blank=True)
    secret_expires_on = models.DateField(
        "secret expires on",
        null=True,
        blank=True,
        help_text="When the client secret expires in Entra; warnings start 30 days before.",
    )
    api_url = models.CharField(
        "upstream API URL",
        max_length=300,
        validators=[validate_api_url],
        help_text="Point: the address of this tenant's Syskit Point web app, as in the Point API "
        "docs' {{pointWebAppUrl}}/v1.0/sites (without /v1.0), e.g. https://contoso.syskit365demo.com. "
        "GT365: https://gt365api.atwork-it.com/api. Microsoft Graph: "
        "https://graph.microsoft.com/v1.0. Changing it re-reads the template catalogue.",
    )
    point_app_id = models.UUIDField(
        "Point API app ID",
        null=True,
        blank=True,
        help_text="Point only: client ID of the Syskit Point API app; the token scope is "
        "<app id>/.default. GT365 and Microsoft Graph use a Graph token.",
    )
    provider = models.CharField(
        "upstream",
        max_length=20,
        choices=Provider,
        default=Provider.POINT,
        help_text="What the portal provisions through for this tenant.",
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    def set_client_secret(self, plaintext: str) -> None:
        self.client_secret_encrypted = crypto.encrypt(plaintext)

    def get_client_secret(self) -> str:
        """The plaintext secret, for the token provider only. Raises crypto.SecretUnavailable."""
        if not self.client_secret_encrypted:
            raise crypto.SecretUnavailable(f"No client secret is stored for tenant {self.slug}.")
        return crypto.decrypt(self.client_secret_encrypted)

    @property
    def upstream_label(self) -> str:
        """What people call this tenant's upstream in messages and pages ("Point")."""
        return registry.label(self.provider)

    @property
    def capabilities(self) -> Capabilities:
        """What this tenant's upstream can do: pages show only that."""
        return registry.capabilities(self.provider)

    @property
    def token_scope(self) -> str:
        """The scope of the app token for this tenant's upstream."""
        if self.provider == Provider.POINT:
            return f"{self.point_app_id}/.default"
        return GRAPH_SCOPE

    def clean(self) -> None:
        if self.provider == Provider.POINT and not self.point_app_id:
            raise ValidationError({"point_app_id": "Point needs the Point API app ID."})


class TenantToken(models.Model):
    """The tenant's current app token for its upstream, shared by every web and worker process.

    The token is a secret: it is stored encrypted like the client secret and never shown.
    `fingerprint` ties it to the credentials it was issued for (tenants.tokens).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tokens")
    # What the token is for: the tenant's upstream, or Microsoft Graph (people, provisioning jobs).
    scope = models.CharField(max_length=200, default="")
    token_encrypted = models.TextField()
    fingerprint = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    obtained_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "scope"], name="token_unique_per_scope")
        ]

    def __str__(self) -> str:
        return f"Token of {self.tenant} until {self.expires_at:%Y-%m-%d %H:%M}"


class ConnectionCheck(models.Model):
    """One run of "Test connection": a token, then one probe per Point permission."""

    class Status(models.TextChoices):
        PENDING = "pending", "Running"
        DONE = "done", "Done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connection_checks")
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    ok = models.BooleanField(default=False, help_text="A token and every permission granted.")
    token_ok = models.BooleanField(default=False)
    token_message = models.TextField(
        blank=True, help_text="What went wrong getting a token, and what to do."
    )
    # [{"permission", "endpoint", "outcome": granted|missing|error|skipped, "detail", "guidance"}]
    probes = models.JSONField(default=list)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Connection check of {self.tenant} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        if self.status == self.Status.PENDING:
            return "Running"
        if self.ok:
            optional = [p["permission"] for p in self.probes if p.get("outcome") == "missing"]
            if optional:
                return "Connected; optional permission missing: " + ", ".join(optional)
            return "Connected: every permission granted"
        if not self.token_ok:
            return "No token"
        # The tenant's own upstream comes first; Graph's extras (people, jobs) are optional.
        own = self.probes[0].get("upstream", "") if self.probes else ""
        missing = [
            p["permission"]
            for p in self.probes
            if p.get("outcome") == "missing" and p.get("upstream", "") == own
        ]
        if missing:
            return "Missing " + ", ".join(missing)
        return "Errors"


class UpstreamNotice(models.Model):
    """A value an upstream sent that the portal does not know (a status word, say): shown raw on
    the request and listed for IT staff on the tenant page, so that nothing stalls silently."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="notices")
    what = models.CharField(max_length=50, help_text="What the value is, e.g. request status.")
    value = models.CharField(max_length=200)
    example = models.CharField(
        max_length=200, blank=True, help_text="Where it was last seen, e.g. a request."
    )
    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "what", "value"], name="notice_unique_value")
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.what} {self.value!r} ({self.count}x)"


class WebhookSubscription(models.Model):
    """A tenant's webhooks: whether the portal asked its upstream to push events, where, and the
    key events are signed with (encrypted like every secret, never shown).

    The receiver's URL carries ``token`` (random, not a secret: the signature is what proves an
    event) so that a delivery names its tenant without trusting its body. See docs/webhooks.md.
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="webhook")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enabled = models.BooleanField(default=False, help_text="Turned on by an admin.")
    # The URL registered upstream, kept so that it can be removed even after the portal's
    # address changed.
    registered_url = models.CharField(max_length=500, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    signing_key_encrypted = models.TextField(blank=True, editable=False)
    key_read_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last verified event arrived."
    )
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="What went wrong at the last change.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Webhooks of {self.tenant}: {'on' if self.enabled else 'off'}"

    @property
    def receiving(self) -> bool:
        """On, registered upstream, and able to verify what arrives."""
        return self.enabled and bool(self.registered_at) and bool(self.signing_key_encrypted)

    @property
    def receiver_url(self) -> str:
        """The URL the upstream pushes to: the portal's address and this tenant's token."""
        return f"{settings.PORTAL_BASE_URL}/hooks/{self.token}"

    def set_signing_key(self, plaintext: str) -> None:
        self.signing_key_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def get_signing_key(self) -> str:
        """The plaintext key, for the receiver only. Raises crypto.SecretUnavailable."""
        if not self.signing_key_encrypted:
            raise crypto.SecretUnavailable(f"No webhook signing key is stored for {self.tenant}.")
        return crypto.decrypt(self.signing_key_encrypted)


class KnownPerson(models.Model):
    """Someone the portal has seen in a tenant: in a directory report (members, owners,
    permissions) or signed in. Feeds the people picker and the owner/member checks of the
    request form; ``enabled`` and ``licensed`` are None where no source says (Point does not;
    Microsoft Graph's /users does)."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        GUEST = "guest", "Guest"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="people")
    upn = models.CharField("UPN", max_length=254, help_text="Lower case.")
    name = models.CharField(max_length=256, blank=True)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.USER)
    enabled = models.BooleanField(null=True, blank=True)
    licensed = models.BooleanField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "upn"]
        constraints = [models.UniqueConstraint(fields=["tenant", "upn"], name="known_person_once")]
        indexes = [models.Index(fields=["tenant", "name"], name="known_person_name")]

    def __str__(self) -> str:
        return f"{self.name or self.upn} ({self.get_kind_display()}, {self.tenant})"


class JobCredentials(models.Model):
    """Credentials an admin handed to an enterprise application's provisioning job (seed 003:
    ``acquireAccessToken``). The values are held encrypted only until they are sent, then
    erased: the portal never shows them, and keeps only their keys and the outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Handed over"
        FAILED = "failed", "Refused"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="job_credentials")
    service_principal_id = models.CharField(max_length=100)
    app_name = models.CharField(max_length=256, blank=True)
    keys = models.JSONField(default=list, help_text="The credential keys (never the values).")
    values_encrypted = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    error = models.TextField(blank=True, help_text="What went wrong, and what to do.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "job credentials"

    def __str__(self) -> str:
        return f"Credentials for {self.app_name or self.service_principal_id} ({self.status})"

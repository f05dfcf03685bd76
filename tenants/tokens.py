"""App tokens for a tenant's upstream API (client credentials through msal).

- One msal ConfidentialClientApplication per tenant, built lazily on first use (never at
  import) with `instance_discovery=False` and the portal's Entra session (timeouts, emulator in
  demo mode). The registry is keyed on the tenant, its Entra ids and a hash of the encrypted
  secret, so a changed secret (or client id, or tenant id) builds a new app.
- The token is shared by every web and worker process: it is stored encrypted in the database
  (TenantToken) and reused until TOKEN_REFRESH_MARGIN seconds before it expires. Renewing
  takes a lock on the tenant's row (select_for_update; on SQLite the IMMEDIATE transaction
  does the same), so two processes asking at once make one token request.
- msal's error dicts (AADSTS codes) become TokenError subclasses with guidance for an admin.
  Neither the secret nor a token is ever put in an error, a log line or a task argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msal
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.msal_http import authority, entra_session
from tenants import crypto
from tenants.models import Tenant, TenantToken

logger = logging.getLogger(__name__)


class TokenError(Exception):
    """No token for the tenant. `guidance` says what to change in Entra or in the portal."""

    code: str = "token_error"
    retryable: bool = False

    def __init__(self, message: str, *, guidance: str = "", aadsts: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.guidance = guidance
        self.aadsts = aadsts

    def __str__(self) -> str:
        return f"{self.message} {self.guidance}".strip()


class InvalidClientSecret(TokenError):
    code = "invalid_secret"


class ClientSecretExpired(TokenError):
    code = "secret_expired"


class ClientSecretMissing(TokenError):
    code = "secret_missing"


class UnknownClient(TokenError):
    code = "unknown_client"


class UnknownTenant(TokenError):
    code = "unknown_tenant"


class InvalidPointAppId(TokenError):
    code = "invalid_scope"


class EntraUnavailable(TokenError):
    code = "entra_unavailable"
    retryable = True


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: datetime

    def __repr__(self) -> str:  # never show the token, even in a traceback's locals
        return f"AccessToken(expires_at={self.expires_at.isoformat()})"


# --- The msal app registry -------------------------------------------------------------------

_apps: dict[int, tuple[tuple[str, ...], msal.ConfidentialClientApplication]] = {}
_apps_lock = threading.Lock()
# Per-process copy of the shared token: {tenant pk: (fingerprint, AccessToken)}.
_memory: dict[int, tuple[str, AccessToken]] = {}


def credential_fingerprint(tenant: Tenant) -> str:
    """A hash of everything a token depends on: ids, scope and the (encrypted) secret."""
    material = "|".join(
        [
            _issuer(), str(tenant.entra_tenant_id), str(tenant.client_id), tenant.point_scope,
            tenant.client_secret_encrypted,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _issuer() -> str:
    """Where tokens come from: Entra, or the emulator standing in for it in demo mode."""
    return settings.EMULATOR_URL if settings.DEMO_MODE else settings.ENTRA_LOGIN_URL


def _unknown_tenant(tenant: Tenant) -> UnknownTenant:
    return UnknownTenant(
        f"Entra ID does not know the tenant id {tenant.entra_tenant_id}.",
        guidance="Copy the Directory (tenant) ID from Entra ID > Overview into the tenant's settings.",
        aadsts=90002,
    )


def _entra_unreachable(error: Exception) -> EntraUnavailable:
    return EntraUnavailable(
        f"Entra ID could not be reached ({type(error).__name__}).",
        guidance="Try again in a few minutes; check the server's outbound connection to login.microsoftonline.com.",
    )


def _build_app(tenant: Tenant) -> msal.ConfidentialClientApplication:
    try:
        secret = tenant.get_client_secret()
    except crypto.SecretUnavailable as error:
        raise ClientSecretMissing(
            str(error),
            guidance="Enter the client secret of the app registration again in the tenant's settings.",
        ) from None
    try:
        return msal.ConfidentialClientApplication(
            str(tenant.client_id),
            client_credential=secret,
            authority=authority(tenant),
            instance_discovery=False,
            http_client=entra_session(),
        )
    except ValueError:
        # msal reads the tenant's OpenID configuration at construction: unknown tenant (90002).
        raise _unknown_tenant(tenant) from None
    except (requests.RequestException, OSError) as error:
        raise _entra_unreachable(error) from None


def app_for(tenant: Tenant) -> msal.ConfidentialClientApplication:
    """The tenant's msal app, built on first use and rebuilt when its credentials change."""
    key = (
        _issuer(), str(tenant.entra_tenant_id), str(tenant.client_id),
        hashlib.sha256(tenant.client_secret_encrypted.encode()).hexdigest(),
    )
    with _apps_lock:
        cached = _apps.get(tenant.pk)
        if cached is not None and cached[0] == key:
            return cached[1]
    app = _build_app(tenant)
    with _apps_lock:
        _apps[tenant.pk] = (key, app)
    return app


def forget(tenant: Tenant | None = None) -> None:
    """Drop cached apps and in-process tokens (of one tenant, or all); tests and secret changes."""
    with _apps_lock:
        if tenant is None:
            _apps.clear()
            _memory.clear()
        else:
            _apps.pop(tenant.pk, None)
            _memory.pop(tenant.pk, None)


# --- Error mapping ---------------------------------------------------------------------------


def _expiry_text(tenant: Tenant) -> str:
    expires: date | None = tenant.secret_expires_on
    if expires is not None and expires <= timezone.localdate():
        return f"expired on {expires.isoformat()}"
    return "has expired"


def error_from_msal(tenant: Tenant, result: dict[str, Any]) -> TokenError:
    """A typed error for msal's error dict; branches on the AADSTS code, never the text."""
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    code = codes[0] if codes else None
    error = str(result.get("error") or "error")
    app = f"app registration {tenant.client_id}"
    if code == 7000215:
        return InvalidClientSecret(
            f"Entra ID rejected the client secret of {app}.",
            guidance="In Entra ID > App registrations > the portal's app > Certificates & secrets, "
            "create a new client secret and enter its Value (not its Secret ID) here.",
            aadsts=code,
        )
    if code == 7000222:
        return ClientSecretExpired(
            f"The client secret of {app} {_expiry_text(tenant)}.",
            guidance="Renew it: in Entra ID > App registrations > the portal's app > Certificates & "
            "secrets, create a new client secret, enter it here and update its expiry date.",
            aadsts=code,
        )
    if code == 7000218:
        return ClientSecretMissing(
            f"No client secret was sent for {app}.",
            guidance="Enter the client secret of the app registration in the tenant's settings.",
            aadsts=code,
        )
    if code == 700016:
        return UnknownClient(
            f"Entra tenant {tenant.entra_tenant_id} has no application with client id {tenant.client_id}.",
            guidance="Check the Application (client) ID of the portal's app registration, and that "
            "it is registered (or consented) in this tenant: a wrong tenant id gives this error too.",
            aadsts=code,
        )
    if code == 90002:
        return _unknown_tenant(tenant)
    if code in (70011, 700022, 500011) or error in ("invalid_scope", "invalid_resource"):
        return InvalidPointAppId(
            f"Entra ID does not accept the scope {tenant.point_scope}: the Point API app id "
            f"{tenant.point_app_id} is not known in this tenant.",
            guidance="Copy the Application (client) ID of the \"Syskit Point API\" app registration "
            "(Entra ID > Enterprise applications) into the tenant's Point API app ID.",
            aadsts=code,
        )
    # Unknown code: name it, but only the first line of the description (no trace ids).
    first_line = str(result.get("error_description") or "").splitlines()[:1]
    return TokenError(
        f"Entra ID refused a token ({error}{f', AADSTS{code}' if code else ''}). "
        + (first_line[0] if first_line else ""),
        guidance="Check the app registration in Entra ID; the AADSTS code is documented at "
        "https://learn.microsoft.com/entra/identity-platform/reference-error-codes.",
        aadsts=code,
    )


# --- Acquiring and sharing -------------------------------------------------------------------


def _usable(token: AccessToken) -> bool:
    margin = timedelta(seconds=settings.TOKEN_REFRESH_MARGIN)
    return token.expires_at - margin > timezone.now()


def _request_token(tenant: Tenant, app: msal.ConfidentialClientApplication) -> AccessToken:
    # We cache tokens ourselves (shared by processes): msal's copy would hide a revoked role.
    app.remove_tokens_for_client()
    try:
        result = app.acquire_token_for_client(scopes=[tenant.point_scope])
    except (requests.RequestException, OSError) as error:
        raise _entra_unreachable(error) from None
    except ValueError as error:
        raise TokenError(f"msal refused the request: {error}") from None
    if not result or "access_token" not in result:
        failure = error_from_msal(tenant, result or {})
        logger.warning(
            "token request for tenant %s failed: %s (AADSTS%s)", tenant.slug, failure.code, failure.aadsts
        )
        raise failure
    lifetime = int(result.get("expires_in") or 0)
    logger.info("new app token for tenant %s (valid %s s)", tenant.slug, lifetime)
    return AccessToken(result["access_token"], timezone.now() + timedelta(seconds=lifetime))


def _read_shared(tenant: Tenant, fingerprint: str) -> AccessToken | None:
    row = TenantToken.objects.filter(tenant_id=tenant.pk).first()
    if row is None or row.fingerprint != fingerprint:
        return None
    try:
        token = AccessToken(crypto.decrypt(row.token_encrypted), row.expires_at)
    except crypto.SecretUnavailable:
        return None  # a key was dropped: just fetch a new token
    return token if _usable(token) else None


def _store_shared(tenant: Tenant, fingerprint: str, token: AccessToken) -> None:
    TenantToken.objects.update_or_create(
        tenant_id=tenant.pk,
        defaults={
            "token_encrypted": crypto.encrypt(token.value), "fingerprint": fingerprint,
            "expires_at": token.expires_at, "obtained_at": timezone.now(),
        },
    )


def get_token(tenant: Tenant, *, fresh: bool = False) -> AccessToken:
    """A valid app token for the tenant's upstream (scope `<point app id>/.default`).

    Reuses the token every process shares until it is close to expiry. `fresh=True` asks Entra
    for a new one (the connection check, and after the upstream answered 401), which also
    becomes the shared token. Raises TokenError (with guidance) when Entra refuses.
    """
    fingerprint = credential_fingerprint(tenant)
    if not fresh:
        remembered = _memory.get(tenant.pk)
        if remembered and remembered[0] == fingerprint and _usable(remembered[1]):
            return remembered[1]
        shared = _read_shared(tenant, fingerprint)
        if shared is not None:
            _memory[tenant.pk] = (fingerprint, shared)
            return shared
    # Renew under the tenant's row lock: the other processes wait and then reuse ours.
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if not fresh:
            shared = _read_shared(tenant, fingerprint)
            if shared is not None:
                _memory[tenant.pk] = (fingerprint, shared)
                return shared
        # A fresh token also gets a fresh app: msal caches a 400 answer for 60 s per app.
        token = _request_token(tenant, _build_app(tenant) if fresh else app_for(tenant))
        _store_shared(tenant, fingerprint, token)
    _memory[tenant.pk] = (fingerprint, token)
    return token


def invalidate(tenant: Tenant, token: AccessToken) -> None:
    """The upstream rejected `token`: forget it here and in the shared store."""
    remembered = _memory.get(tenant.pk)
    if remembered and remembered[1] == token:
        _memory.pop(tenant.pk, None)
    TenantToken.objects.filter(tenant_id=tenant.pk, expires_at=token.expires_at).delete()


def token_roles(token: AccessToken) -> list[str] | None:
    """The app roles a token carries (its payload read without verification, for display only).

    None when the token is not a readable JWT. Entra leaves `roles` out when none are granted.
    """
    try:
        payload = token.value.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return [str(r) for r in roles] if isinstance(roles, list) else []

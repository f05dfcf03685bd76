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
  Every kind of Entra outage (5xx, 408, 429, timeouts, refused or reset connections, broken
  or incomplete answers, the AADSTS codes and OAuth errors Entra documents as transient), at
  discovery or at the token endpoint, becomes one EntraUnavailable (retryable): nothing else
  escapes from here for an Entra failure. Neither the secret nor a token is ever put in an
  error, a log line or a task argument; the functions that hold them are marked with
  sensitive_variables, and portal.errors scrubs what msal's and requests' frames hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import msal
import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from tenants import crypto, msal_http
from tenants.models import Tenant, TenantToken
from tenants.msal_http import EntraAnswerError, authority, entra_session

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
    """Entra ID is down, overloaded, throttling or unreachable: the same call may work later."""

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
# Per-process copy of the shared tokens: {(tenant pk, scope): (fingerprint, AccessToken)}.
_memory: dict[tuple[int, str], tuple[str, AccessToken]] = {}


def credential_fingerprint(tenant: Tenant, scope: str | None = None) -> str:
    """A hash of everything a token depends on: ids, scope and the (encrypted) secret."""
    material = "|".join(
        [
            _issuer(),
            str(tenant.entra_tenant_id),
            str(tenant.client_id),
            scope or tenant.token_scope,
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


# AADSTS codes Entra documents as transient: it (or a service behind it) is unavailable,
# overloaded or throttling. Reference: learn.microsoft.com/entra/identity-platform/
# reference-error-codes. Any other code is a configuration problem with its own guidance.
TRANSIENT_AADSTS: dict[int, str] = {
    90006: "ExternalServerRetryableError",
    90012: "RequestTimeout",
    90024: "RequestBudgetExceededError",
    90033: "MsodsServiceUnavailable",
    90055: "TenantThrottlingError",
    90090: "GraphRetryableError",
    90091: "GraphServiceUnreachable",
}
# OAuth 2.0 `error` values that mean the same whatever the code (RFC 6749 4.1.2.1).
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})

ENTRA_UNAVAILABLE_GUIDANCE = (
    "This is on Microsoft's side or on the way to it and usually passes: requests being sent "
    "wait and try again by themselves, and pages work again as soon as Entra answers. If it "
    "lasts, check the Microsoft 365 service health and the server's outbound HTTPS connection "
    "to login.microsoftonline.com."
)

# What an outage looks like once msal is done with it: our session's EntraAnswerError (5xx,
# 408, 429, unreadable body), any other requests error (timeout, refused, reset), a socket
# error, or msal's own MsalServiceError (raised for a 5xx if another HTTP client is used).
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    OSError,
    msal.exceptions.MsalServiceError,
)
# What msal raises when an answer parses but has the wrong shape (a missing field, a string
# where a number belongs). They only come from Entra's answer: the arguments are ours.
_SHAPE_ERRORS: tuple[type[BaseException], ...] = (KeyError, TypeError, AttributeError)
_TOKEN_ENDPOINT_ERRORS = _NETWORK_ERRORS + _SHAPE_ERRORS
# RuntimeError: msal's own fallback for a failed discovery ("Unable to complete OIDC
# Discovery"), should such an answer ever get past the session.
_DISCOVERY_ERRORS = _NETWORK_ERRORS + _SHAPE_ERRORS + (RuntimeError,)


def _entra_unavailable(
    tenant: Tenant, reason: str, *, aadsts: int | None = None
) -> EntraUnavailable:
    return EntraUnavailable(
        f"Microsoft Entra ID is unavailable ({reason}), so the portal has no token for "
        f"{tenant.name} right now.",
        guidance=ENTRA_UNAVAILABLE_GUIDANCE,
        aadsts=aadsts,
    )


def _outage_reason(error: BaseException) -> str:
    """Why Entra failed, in words an admin can act on; never the answer's body or a header."""
    if isinstance(error, EntraAnswerError):
        if error.malformed:
            return "it sent an answer the portal cannot read"
        if error.status == 429:
            return "it is throttling the portal's requests: HTTP 429"
        if error.status == 408:
            return "it timed out: HTTP 408"
        return f"it answered HTTP {error.status}"
    if isinstance(error, requests.Timeout):
        return f"it did not answer within {msal_http.ENTRA_TIMEOUT[1]:g} seconds"
    if isinstance(error, requests.RequestException | OSError):
        return f"the connection to it failed: {type(error).__name__}"
    if isinstance(error, msal.exceptions.MsalServiceError):
        return "it answered with a server error"
    return f"it sent an answer the portal cannot read: {type(error).__name__}"


def _unavailable_from(tenant: Tenant, error: BaseException) -> EntraUnavailable:
    reason = _outage_reason(error)
    logger.warning("Entra ID unavailable for tenant %s: %s", tenant.slug, reason)
    return _entra_unavailable(tenant, reason)


@sensitive_variables("secret")
def _build_app(tenant: Tenant) -> msal.ConfidentialClientApplication:
    try:
        secret = tenant.get_client_secret()
    except crypto.SecretUnavailable as error:
        raise ClientSecretMissing(
            str(error),
            guidance="Enter the client secret of the app registration again in the tenant's settings.",
        ) from None
    session = entra_session()
    try:
        return msal.ConfidentialClientApplication(
            str(tenant.client_id),
            client_credential=secret,
            authority=authority(tenant),
            instance_discovery=False,
            http_client=session,
        )
    except ValueError as error:
        # msal reads the tenant's OpenID configuration here and raises ValueError both for a
        # 4xx (the tenant does not exist: AADSTS90002) and for an answer it cannot use. Only
        # the status tells them apart; outages (5xx, 408, 429, broken JSON) were already
        # raised by our session as EntraAnswerError.
        status = session.last_status
        if status is not None and 400 <= status < 500:
            raise _unknown_tenant(tenant) from None
        if status is None:
            raise TokenError(
                f"msal refused the tenant's Entra settings ({type(error).__name__}).",
                guidance="Check the tenant's Directory (tenant) ID and Application (client) ID.",
            ) from None
        raise _unavailable_from(tenant, error) from None
    except _DISCOVERY_ERRORS as error:
        raise _unavailable_from(tenant, error) from None


def app_for(tenant: Tenant) -> msal.ConfidentialClientApplication:
    """The tenant's msal app, built on first use and rebuilt when its credentials change."""
    key = (
        _issuer(),
        str(tenant.entra_tenant_id),
        str(tenant.client_id),
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


def _drop_app(tenant: Tenant) -> None:
    """Build the tenant's app again next time: msal caches failed answers per app (a 400 for
    60 s, a 5xx or 429 for its Retry-After), which would outlast the outage itself."""
    with _apps_lock:
        _apps.pop(tenant.pk, None)


def forget(tenant: Tenant | None = None) -> None:
    """Drop cached apps and in-process tokens (of one tenant, or all); tests and secret changes."""
    with _apps_lock:
        if tenant is None:
            _apps.clear()
            _memory.clear()
        else:
            _apps.pop(tenant.pk, None)
            for key in [k for k in _memory if k[0] == tenant.pk]:
                _memory.pop(key, None)


# --- Error mapping ---------------------------------------------------------------------------


def _expiry_text(tenant: Tenant) -> str:
    expires: date | None = tenant.secret_expires_on
    if expires is not None and expires <= timezone.localdate():
        return f"expired on {expires.isoformat()}"
    return "has expired"


def error_from_msal(tenant: Tenant, result: dict[str, Any], scope: str | None = None) -> TokenError:
    """A typed error for msal's error dict; branches on the AADSTS code, never the text."""
    codes = [
        int(c) for c in result.get("error_codes") or [] if re.fullmatch(r"[0-9]{1,12}", str(c))
    ]
    code = codes[0] if codes else None
    error = str(result.get("error") or "error")
    app = f"app registration {tenant.client_id}"
    if not result.get("error") and code is None:
        # Neither a token nor an error: not an answer Entra gives when it works.
        return _entra_unavailable(tenant, "its answer had neither a token nor an error")
    if code in TRANSIENT_AADSTS or error in TRANSIENT_ERRORS:
        label = f"AADSTS{code} {TRANSIENT_AADSTS.get(code, error)}" if code else error
        return _entra_unavailable(tenant, f"it answered {label}", aadsts=code)
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
    scope = scope or tenant.token_scope
    if code in (70011, 700022, 500011) or error in ("invalid_scope", "invalid_resource"):
        if scope == tenant.token_scope and tenant.provider == "point":
            return InvalidPointAppId(
                f"Entra ID does not accept the scope {scope}: the Point API app id "
                f"{tenant.point_app_id} is not known in this tenant.",
                guidance='Copy the Application (client) ID of the "Syskit Point API" app '
                "registration (Entra ID > Enterprise applications) into the tenant's Point API "
                "app ID.",
                aadsts=code,
            )
        return TokenError(
            f"Entra ID does not accept the scope {scope} for {app}.",
            guidance="Check the tenant's Entra tenant ID and that the app registration exists "
            "there; Microsoft Graph's scope needs no setting.",
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


@sensitive_variables("result", "value")
def _request_token(
    tenant: Tenant, app: msal.ConfidentialClientApplication, scope: str
) -> AccessToken:
    # We cache tokens ourselves (shared by processes): msal's copy would hide a revoked role.
    app.remove_tokens_for_client()
    try:
        result = app.acquire_token_for_client(scopes=[scope])
    except json.JSONDecodeError as error:
        # A ValueError too, but Entra's fault (a body that is not JSON), not our request's.
        raise _unavailable_from(tenant, error) from None
    except _TOKEN_ENDPOINT_ERRORS as error:
        raise _unavailable_from(tenant, error) from None
    except ValueError as error:
        raise TokenError(f"msal refused the request: {error}") from None
    if not isinstance(result, dict):
        raise _unavailable_from(tenant, TypeError(type(result).__name__))
    value = result.get("access_token")
    if value is None:
        failure = error_from_msal(tenant, result, scope)
        logger.warning(
            "token request for tenant %s failed: %s (AADSTS%s)",
            tenant.slug,
            failure.code,
            failure.aadsts,
        )
        raise failure
    try:
        lifetime = int(result.get("expires_in") or 0)
    except (TypeError, ValueError):
        lifetime = -1
    if not isinstance(value, str) or not value or lifetime < 0:
        raise _unavailable_from(tenant, ValueError("access_token or expires_in unreadable"))
    crypto.remember_plaintext(value)
    logger.info("new app token for tenant %s (valid %s s)", tenant.slug, lifetime)
    return AccessToken(value, timezone.now() + timedelta(seconds=lifetime))


@sensitive_variables("token")
def _read_shared(tenant: Tenant, scope: str, fingerprint: str) -> AccessToken | None:
    row = TenantToken.objects.filter(tenant_id=tenant.pk, scope=scope).first()
    if row is None or row.fingerprint != fingerprint:
        return None
    try:
        token = AccessToken(crypto.decrypt(row.token_encrypted), row.expires_at)
    except crypto.SecretUnavailable:
        return None  # a key was dropped: just fetch a new token
    return token if _usable(token) else None


@sensitive_variables("token")
def _store_shared(tenant: Tenant, scope: str, fingerprint: str, token: AccessToken) -> None:
    TenantToken.objects.update_or_create(
        tenant_id=tenant.pk,
        scope=scope,
        defaults={
            "token_encrypted": crypto.encrypt(token.value),
            "fingerprint": fingerprint,
            "expires_at": token.expires_at,
            "obtained_at": timezone.now(),
        },
    )


@sensitive_variables("token", "shared", "remembered")
def get_token(tenant: Tenant, *, fresh: bool = False, scope: str | None = None) -> AccessToken:
    """A valid app token for ``scope``: by default the tenant's upstream's (`<point app
    id>/.default` for Point, Microsoft Graph's for GT365 and Graph).

    Reuses the token every process shares until it is close to expiry. `fresh=True` asks Entra
    for a new one (the connection check, and after the upstream answered 401), which also
    becomes the shared token. Raises TokenError (with guidance) when Entra refuses, and its
    subclass EntraUnavailable (retryable) when Entra is down or its answer is unusable.
    """
    scope = scope or tenant.token_scope
    fingerprint = credential_fingerprint(tenant, scope)
    key = (tenant.pk, scope)
    if not fresh:
        remembered = _memory.get(key)
        if remembered and remembered[0] == fingerprint and _usable(remembered[1]):
            return remembered[1]
        shared = _read_shared(tenant, scope, fingerprint)
        if shared is not None:
            _memory[key] = (fingerprint, shared)
            return shared
    # Renew under the tenant's row lock: the other processes wait and then reuse ours.
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if not fresh:
            shared = _read_shared(tenant, scope, fingerprint)
            if shared is not None:
                _memory[key] = (fingerprint, shared)
                return shared
        # A fresh token also gets a fresh app: msal caches a 400 answer for 60 s per app.
        try:
            token = _request_token(tenant, _build_app(tenant) if fresh else app_for(tenant), scope)
        except EntraUnavailable:
            _drop_app(tenant)
            raise
        _store_shared(tenant, scope, fingerprint, token)
    _memory[key] = (fingerprint, token)
    return token


@sensitive_variables("token", "remembered")
def invalidate(tenant: Tenant, token: AccessToken, scope: str | None = None) -> None:
    """The upstream rejected `token`: forget it here and in the shared store."""
    key = (tenant.pk, scope or tenant.token_scope)
    remembered = _memory.get(key)
    if remembered and remembered[1] == token:
        _memory.pop(key, None)
    TenantToken.objects.filter(
        tenant_id=tenant.pk, scope=key[1], expires_at=token.expires_at
    ).delete()


@sensitive_variables("token", "payload", "claims")
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

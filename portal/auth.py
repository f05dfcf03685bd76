"""Entra ID sign-in: msal's auth-code flow (PKCE, state, nonce) plus the id_token checks msal
leaves to us (signature against the tenant's JWKS, tid, aud, iss, exp/nbf/iat).

Each tenant signs in through its own app registration (Tenant.client_id and its secret). The
flow dict lives in the server-side session between ``build_auth_flow`` and
``complete_auth_flow``. Every failure raises one ``SignInError`` with a reason code; its
message is safe to show and never contains a token, code or secret.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
import msal
import requests
from django.db import models
from django.views.decorators.debug import sensitive_variables

from tenants import crypto, entra_keys
from tenants.entra_keys import EntraKeyError
from tenants.models import Tenant
from tenants.msal_http import authority, entra_session

logger = logging.getLogger(__name__)

# Query response mode is deliberate (form_post loses the SameSite=Lax session cookie); msal
# warns about it on every flow.
warnings.filterwarnings("ignore", message="response_mode='form_post'", category=UserWarning)

SCOPES: list[str] = []  # msal adds openid, profile and offline_access
LEEWAY = 120  # seconds of clock skew tolerated on exp, nbf and iat
SESSION_FLOW_KEY = "entra_auth_flow"


class Reason(models.TextChoices):
    """Why a sign-in failed (stored in the audit log)."""

    NO_FLOW = "no_flow", "No sign-in was in progress (it expired, or the link was reused)."
    STATE_MISMATCH = "state_mismatch", "The answer from Microsoft did not match this sign-in."
    NONCE_MISMATCH = "nonce_mismatch", "The sign-in token was not issued for this sign-in."
    CONSENT_DECLINED = "consent_declined", "You cancelled the sign-in or declined consent."
    ENTRA_ERROR = "entra_error", "Microsoft Entra ID refused the sign-in."
    CODE_REJECTED = "code_rejected", "The sign-in code was already used or has expired."
    ENTRA_UNREACHABLE = "entra_unreachable", "Microsoft Entra ID could not be reached."
    TENANT_UNAVAILABLE = "tenant_unavailable", "This organisation is not set up for sign-in."
    TENANT_NOT_ALLOWED = "tenant_not_allowed", "Your organisation is not served by this portal."
    BAD_SIGNATURE = "bad_signature", "The sign-in token's signature is not valid."
    WRONG_AUDIENCE = "wrong_audience", "The sign-in token was issued to another application."
    WRONG_ISSUER = "wrong_issuer", "The sign-in token was issued by an unexpected authority."
    TOKEN_EXPIRED = "token_expired", "The sign-in token has expired or is not valid yet."
    INVALID_TOKEN = "invalid_token", "The sign-in token is incomplete or malformed."
    NO_ROLE = "no_role", "Your account has no role in this portal."
    ACCOUNT_DISABLED = "account_disabled", "Your portal account has been disabled."


class SignInError(Exception):
    """A sign-in that must not go ahead. ``detail`` is for the audit log (no secrets)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail

    @property
    def message(self) -> str:
        return str(self.reason.label)


@dataclass(frozen=True)
class SignInResult:
    tenant: Tenant
    claims: dict[str, Any]
    next_url: str


# -- msal and metadata ---------------------------------------------------------------------


def expected_issuer(tenant: Tenant) -> str:
    return entra_keys.v2_issuer(tenant)


@sensitive_variables("secret")
def _msal_app(tenant: Tenant) -> Any:
    """A confidential client for the tenant's app registration (discovery runs here)."""
    try:
        secret = tenant.get_client_secret()
    except crypto.SecretUnavailable as exc:
        raise SignInError(Reason.TENANT_UNAVAILABLE, "no usable client secret") from exc
    try:
        return msal.ConfidentialClientApplication(
            str(tenant.client_id),
            client_credential=secret,
            authority=authority(tenant),
            http_client=entra_session(),
            instance_discovery=False,
        )
    except ValueError as exc:  # discovery answered 4xx: unknown tenant
        raise SignInError(Reason.TENANT_UNAVAILABLE, "discovery failed") from exc
    except (requests.RequestException, OSError, msal.exceptions.MsalServiceError) as exc:
        # Outages (5xx, 408, 429, unreadable answers) arrive as msal_http.EntraAnswerError.
        raise SignInError(Reason.ENTRA_UNREACHABLE, type(exc).__name__) from exc
    except (KeyError, RuntimeError) as exc:  # a discovery document msal cannot use
        raise SignInError(Reason.ENTRA_UNREACHABLE, type(exc).__name__) from exc


# What an unusable discovery document or JWKS means for a sign-in.
_KEY_REASONS = {
    EntraKeyError.Kind.UNREACHABLE: Reason.ENTRA_UNREACHABLE,
    EntraKeyError.Kind.NO_JWKS_URI: Reason.TENANT_UNAVAILABLE,
    EntraKeyError.Kind.UNKNOWN_KEY: Reason.BAD_SIGNATURE,
}


def _sign_in_error(exc: EntraKeyError) -> SignInError:
    return SignInError(_KEY_REASONS[exc.kind], str(exc))


def discovery(tenant: Tenant) -> dict[str, Any]:
    try:
        return entra_keys.discovery(tenant)
    except EntraKeyError as exc:
        raise _sign_in_error(exc) from exc


def end_session_url(tenant: Tenant) -> str | None:
    """Entra's end-session endpoint for the tenant, or None when discovery is unavailable."""
    try:
        return str(discovery(tenant)["end_session_endpoint"])
    except (SignInError, KeyError):
        return None


def _signing_key(tenant: Tenant, kid: str | None) -> Any:
    try:
        return entra_keys.signing_key(tenant, kid)
    except EntraKeyError as exc:
        raise _sign_in_error(exc) from exc


# -- the flow --------------------------------------------------------------------------------


@sensitive_variables("flow")  # holds the PKCE code_verifier
def build_auth_flow(session: Any, tenant: Tenant, redirect_uri: str, next_url: str = "") -> str:
    """Start signing in to ``tenant``: keep msal's flow in the session, return Entra's URL."""
    app = _msal_app(tenant)
    flow: dict[str, Any] = app.initiate_auth_code_flow(
        SCOPES, redirect_uri=redirect_uri, response_mode="query"
    )
    session[SESSION_FLOW_KEY] = {"flow": flow, "tenant": tenant.pk, "next": next_url}
    return str(flow["auth_uri"])


@sensitive_variables("pending", "flow", "auth_response", "result", "id_token")
def complete_auth_flow(session: Any, auth_response: dict[str, str]) -> SignInResult:
    """Finish the sign-in with Entra's redirect parameters; returns the verified claims.

    The flow is taken out of the session first, so a code or state is never accepted twice.
    """
    pending = session.pop(SESSION_FLOW_KEY, None)
    if not isinstance(pending, dict) or "flow" not in pending:
        raise SignInError(Reason.NO_FLOW)
    tenant_pk = pending.get("tenant")
    tenant = (
        Tenant.objects.filter(pk=tenant_pk, is_active=True).first()
        if isinstance(tenant_pk, int)
        else None
    )
    if tenant is None:
        raise SignInError(Reason.TENANT_NOT_ALLOWED, "the tenant was removed or deactivated")
    flow = pending["flow"]
    if auth_response.get("state") != flow.get("state"):
        # msal checks this too; checking first means no call to Entra on a forged callback.
        raise SignInError(Reason.STATE_MISMATCH)
    if auth_response.get("error"):
        raise _entra_error(auth_response)
    app = _msal_app(tenant)
    try:
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(flow, auth_response)
    except ValueError as exc:
        raise SignInError(Reason.STATE_MISMATCH, str(exc).split(":")[0]) from exc
    except RuntimeError as exc:  # msal's nonce (and max_age) check
        raise SignInError(Reason.NONCE_MISMATCH) from exc
    except (requests.RequestException, OSError, msal.exceptions.MsalServiceError) as exc:
        raise SignInError(Reason.ENTRA_UNREACHABLE, type(exc).__name__) from exc
    if "error" in result:
        raise _entra_error(result)
    id_token = result.get("id_token")
    if not isinstance(id_token, str):
        raise SignInError(Reason.INVALID_TOKEN, "no id_token in the answer")
    claims = verify_id_token(tenant, id_token)
    return SignInResult(tenant=tenant, claims=claims, next_url=str(pending.get("next") or ""))


def _entra_error(answer: dict[str, Any]) -> SignInError:
    error = str(answer.get("error", ""))
    description = str(answer.get("error_description", ""))
    code = description.split(":", 1)[0] if description.startswith("AADSTS") else ""
    detail = " ".join(part for part in (error, code) if part)
    if error == "access_denied" or code == "AADSTS65004":
        return SignInError(Reason.CONSENT_DECLINED, detail)
    if error == "invalid_grant":
        return SignInError(Reason.CODE_REJECTED, detail)
    return SignInError(Reason.ENTRA_ERROR, detail)


@sensitive_variables("id_token")
def verify_id_token(tenant: Tenant, id_token: str) -> dict[str, Any]:
    """Check the id_token's signature with the chosen tenant's keys, then aud, iss, times and
    tid; the claims on success."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as exc:
        raise SignInError(Reason.INVALID_TOKEN, "unreadable header") from exc
    if header.get("alg") != "RS256":
        raise SignInError(Reason.BAD_SIGNATURE, f"algorithm {header.get('alg')!r}")
    key = _signing_key(tenant, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=str(tenant.client_id),
            issuer=expected_issuer(tenant),
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "nbf", "aud", "iss", "tid", "oid"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise SignInError(Reason.BAD_SIGNATURE) from exc
    except jwt.InvalidAudienceError as exc:
        raise SignInError(Reason.WRONG_AUDIENCE) from exc
    except jwt.InvalidIssuerError as exc:
        raise SignInError(Reason.WRONG_ISSUER) from exc
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.InvalidIssuedAtError) as exc:
        raise SignInError(Reason.TOKEN_EXPIRED, type(exc).__name__) from exc
    except jwt.PyJWTError as exc:
        raise SignInError(Reason.INVALID_TOKEN, type(exc).__name__) from exc
    try:
        tid = uuid.UUID(str(claims["tid"]))
    except ValueError as exc:
        raise SignInError(Reason.TENANT_NOT_ALLOWED, "tid is not a GUID") from exc
    allowed = Tenant.objects.filter(is_active=True, entra_tenant_id=tid).exists()
    if tid != tenant.entra_tenant_id or not allowed:
        raise SignInError(Reason.TENANT_NOT_ALLOWED, f"tid {tid}")
    try:
        uuid.UUID(str(claims["oid"]))
    except ValueError as exc:
        raise SignInError(Reason.INVALID_TOKEN, "oid is not a GUID") from exc
    return claims

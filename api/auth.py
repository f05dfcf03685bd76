"""Who is calling /api/v1/: an app-only Entra access token of a registered API client.

A client (a service desk, a script) gets its token from its own tenant's Entra ID with the
client-credentials grant and scope ``api://{portal client id}/.default``, as CIPP's API clients
do. ``authenticate`` checks the token (signature against that tenant's published keys, issuer,
audience, times, app-only), then the client registered here (known, enabled, calling from an
allowed address, with an API role both Entra and the portal grant it), and returns the
``Principal`` the endpoints act as. Every refusal is one ``ApiAuthError`` whose title and
detail say what to do; neither ever holds the token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from api.models import API_ROLES, ApiClient
from core.roles import Role
from tenants import entra_keys
from tenants.entra_keys import EntraKeyError
from tenants.models import Tenant

if TYPE_CHECKING:
    from portal.models import User

LEEWAY = 60  # seconds of clock skew tolerated on exp and nbf
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often
ADMIN_PAGE = "Django admin > API clients"
ROLES_HELP = (
    "The roles are app roles of the portal's app registration in Entra ID (App roles): grant "
    "them to the client app there (API permissions, with admin consent), and tick them for the "
    f"client in {ADMIN_PAGE}."
)


@dataclass(frozen=True)
class Principal:
    client: ApiClient  # enabled, address allowed
    roles: frozenset[str]  # the token's roles that the client is also allowed (API_ROLES)
    user: User  # client.user: the portal identity its actions are recorded under
    tenant: Tenant

    def __str__(self) -> str:
        return f"api-client:{self.client.pk}"  # the rate-limit key


class ApiAuthError(Exception):
    """A refused call: 401 (no usable token) or 403 (a valid token the portal does not admit);
    503 when Entra's keys cannot be read. Title and detail never hold the token or a secret."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


def _shown(value: object) -> str:
    """A value read from the token, quoted and cut short for a message."""
    return repr(str(value)[:100])


def _guid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# -- the token -----------------------------------------------------------------------------


def _tenant(tid: object) -> Tenant:
    found = _guid(tid)
    tenant = Tenant.objects.filter(entra_tenant_id=found, is_active=True).first() if found else None
    if tenant is None:
        raise ApiAuthError(
            401,
            "Unknown tenant",
            f"The token's tenant (tid {_shown(tid)}) is not an organisation this portal serves. "
            "Ask for the token in your own organisation's Entra ID.",
        )
    return tenant


@sensitive_variables("token")
def _verified_claims(token: str) -> tuple[Tenant, dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ApiAuthError(
            401,
            "Not a token",
            "Send an Entra ID access token (a JWT) as 'Authorization: Bearer <token>'.",
        ) from None
    if header.get("alg") != "RS256":
        raise ApiAuthError(
            401,
            "Unsupported token",
            f"The token is signed with {_shown(header.get('alg'))}; Entra ID access tokens are RS256.",
        )
    tenant = _tenant(unverified.get("tid"))
    try:
        key = entra_keys.signing_key(tenant, header.get("kid"))
    except EntraKeyError as exc:
        if exc.kind is EntraKeyError.Kind.UNKNOWN_KEY:
            raise ApiAuthError(
                401,
                "Unknown signing key",
                f"The token is signed with a key {tenant.name}'s Entra ID does not publish. "
                "Ask Entra ID for a new token.",
            ) from None
        raise ApiAuthError(
            503,
            "Entra ID unreachable",
            f"The portal could not read {tenant.name}'s signing keys from Entra ID. "
            "Try again in a minute.",
        ) from None
    try:
        # Only the signature here: the claims are checked below, in order, each in plain words.
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise ApiAuthError(
            401,
            "Invalid signature",
            "The token's signature does not match its content. Send the token exactly as "
            "Entra ID issued it.",
        ) from None
    except jwt.PyJWTError:
        raise ApiAuthError(
            401, "Not a token", "The token could not be read. Ask Entra ID for a new token."
        ) from None
    _check_claims(tenant, claims)
    return tenant, claims


def _check_claims(tenant: Tenant, claims: dict[str, Any]) -> None:
    tid = tenant.entra_tenant_id
    issuers = {entra_keys.v2_issuer(tenant), f"https://sts.windows.net/{tid}/"}
    if claims.get("iss") not in issuers:
        raise ApiAuthError(
            401,
            "Wrong issuer",
            f"The token was issued by {_shown(claims.get('iss'))}; the portal takes tokens "
            f"issued by {tenant.name}'s Entra ID ({entra_keys.v2_issuer(tenant)}).",
        )
    audiences = {str(tenant.client_id), f"api://{tenant.client_id}"}
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(str(a).lower() in audiences for a in given):
        raise ApiAuthError(
            401,
            "Wrong audience",
            f"The token is for {_shown(aud)}, not for this portal. Ask Entra ID for a token "
            f"with scope api://{tenant.client_id}/.default.",
        )
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or now > exp + LEEWAY:
        raise ApiAuthError(
            401,
            "Token expired",
            "The token has expired (they last about an hour). Ask Entra ID for a new one.",
        )
    if nbf is not None and (not isinstance(nbf, int | float) or now < nbf - LEEWAY):
        raise ApiAuthError(
            401,
            "Token not yet valid",
            "The token is valid only from a later time. Check the clock of the calling machine.",
        )
    if "scp" in claims or claims.get("idtyp") == "user":
        raise ApiAuthError(
            401,
            "User token",
            "This token was issued to a person (delegated). The API takes app-only tokens: "
            "use the client-credentials grant with the client app's own credentials.",
        )
    if _guid(claims.get("oid")) is None:
        raise ApiAuthError(
            401,
            "Invalid token",
            "The token names no service principal (oid). Ask Entra ID for a new token.",
        )


# -- the client ----------------------------------------------------------------------------


def _client(tenant: Tenant, claims: dict[str, Any], remote_addr: str) -> ApiClient:
    app_id = _guid(claims.get("azp") or claims.get("appid"))
    if app_id is None:
        raise ApiAuthError(
            401,
            "Invalid token",
            "The token names no client app (azp or appid). Ask Entra ID for a new token.",
        )
    client = ApiClient.objects.filter(tenant=tenant, app_id=app_id).select_related("user").first()
    if client is None:
        raise ApiAuthError(
            403,
            "Client not registered",
            f"The app {app_id} is not an API client of {tenant.name}. An admin of {tenant.name} "
            f"registers it in {ADMIN_PAGE} with application (client) ID {app_id}.",
        )
    client.tenant = tenant
    if not client.enabled:
        raise ApiAuthError(
            403,
            "Client disabled",
            f"The API client {client.name!r} is switched off. An admin of {tenant.name} can "
            f"enable it in {ADMIN_PAGE}.",
        )
    if not client.allows_address(remote_addr):
        raise ApiAuthError(
            403,
            "Address not allowed",
            f"Calls from {_shown(remote_addr)} are outside the allowed IP ranges of the API client "
            f"{client.name!r}. An admin of {tenant.name} can add the range in {ADMIN_PAGE}.",
        )
    return client


def _user(client: ApiClient, tenant: Tenant, claims: dict[str, Any]) -> User:
    """The client's portal user, made on its first call (keyed on tid + the service principal's
    oid, as people are) and named after the client."""
    users = get_user_model()
    user: User | None = client.user
    if user is None:
        tid, oid = tenant.entra_tenant_id, _guid(claims["oid"])
        username = f"api:{client.app_id}"
        if users.objects.filter(username=username).exists():
            # The same multi-tenant app is a client of another organisation too.
            username = f"{username}@{tid}"
        defaults = {
            "username": username,
            "first_name": client.name,
            "home_tenant": tenant,
            "role": Role.IT_STAFF,  # it reads and acts on its tenant's requests as IT staff do
            "is_active": True,
            "password": make_password(None),  # unusable: it never signs in
        }
        try:
            with transaction.atomic():
                users.objects.get_or_create(
                    entra_tenant_id=tid, entra_object_id=oid, defaults=defaults
                )
        except IntegrityError:
            pass  # a concurrent first call made it
        made = users.objects.get(entra_tenant_id=tid, entra_object_id=oid)
        # Conditional, so two first calls at once link one user.
        ApiClient.objects.filter(pk=client.pk, user__isnull=True).update(user=made)
        client.refresh_from_db(fields=["user"])
        user = client.user
        assert user is not None
    if user.first_name != client.name:
        user.first_name = client.name
        users.objects.filter(pk=user.pk).update(first_name=client.name)
    if not user.is_active:
        raise ApiAuthError(
            403,
            "Client disabled",
            f"The portal user of the API client {client.name!r} is deactivated. An operator can "
            "activate it again in Django admin > Users.",
        )
    return user


def _note_use(client: ApiClient) -> None:
    now = timezone.now()
    due = now - LAST_USED_EVERY
    if client.last_used_at is not None and client.last_used_at > due:
        return
    # Conditional, so a burst of calls writes the row once a minute at most.
    fresh = Q(last_used_at__isnull=True) | Q(last_used_at__lte=due)
    if ApiClient.objects.filter(fresh, pk=client.pk).update(last_used_at=now):
        client.last_used_at = now


# -- the entry points ----------------------------------------------------------------------


@sensitive_variables("token")
def authenticate(token: str, remote_addr: str) -> Principal:
    """The Principal a Bearer ``token`` from ``remote_addr`` acts as; raises ApiAuthError."""
    tenant, claims = _verified_claims(token)
    client = _client(tenant, claims, remote_addr)
    granted = claims.get("roles")
    in_token = {r for r in granted if isinstance(r, str)} if isinstance(granted, list) else set()
    roles = frozenset(in_token & set(client.roles) & set(API_ROLES))
    if not roles:
        raise ApiAuthError(
            403,
            "No API role",
            f"A call needs one of {', '.join(API_ROLES)} both in the token "
            f"(it has {', '.join(sorted(in_token)) or 'none'}) and allowed for the client "
            f"(it has {', '.join(client.roles) or 'none'}). {ROLES_HELP}",
        )
    user = _user(client, tenant, claims)
    _note_use(client)
    return Principal(client=client, roles=roles, user=user, tenant=tenant)


def require(principal: Principal, *roles: str) -> None:
    """Refuse unless the principal holds one of ``roles`` (any one suffices)."""
    if not roles:
        raise ValueError("require() needs at least one role")
    if principal.roles.intersection(roles):
        return
    raise ApiAuthError(
        403,
        "Missing API role",
        f"This call needs the API role {' or '.join(roles)}; the client "
        f"{principal.client.name!r} has {', '.join(sorted(principal.roles))}. {ROLES_HELP}",
    )

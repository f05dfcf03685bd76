"""The Entra ID side: discovery, JWKS, the token endpoint and a demo sign-in page.

Tokens are RS256, signed with one RSA key per tenant (kept in the state so they survive a
restart). Errors use Entra's JSON shape and status codes (reference-error-codes.md):

=================  =============================  ======================================
AADSTS             ``error`` / status             when
=================  =============================  ======================================
7000215            invalid_client / 401           wrong client secret
7000222            invalid_client / 401           the matching secret has expired
7000218            invalid_client / 401           no client secret sent
700016             unauthorized_client / 400      client id not registered in the tenant
90002              invalid_request / 400          unknown tenant (``invalid_tenant`` on discovery)
900144             invalid_request / 400          a required parameter is missing
70011              invalid_scope / 400            scope is not ``<resource>/.default``
700022             invalid_scope / 400            scope names more than one resource
500011             invalid_resource / 400         the scope's resource is not in the tenant
70003              unsupported_grant_type / 400   grant type other than the three below
70000              invalid_grant / 400            code unknown, or issued to another client
70008              invalid_grant / 400            code (or refresh token) expired
54005              invalid_grant / 400            code already redeemed
700005             invalid_grant / 400            code redeemed against another tenant
500112             invalid_grant / 400            redirect_uri differs from the authorize one
501481             invalid_grant / 400            code_verifier does not match the challenge
=================  =============================  ======================================
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from emulator.server import Request, Response, html_response, json_response, redirect, route
from emulator.state import EmulatorState

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
CODE_LIFETIME = 600
ID_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 90 * 24 * 3600
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
MAX_TOKEN_LOG = 1000


class InvalidToken(Exception):
    """A bearer token failed verification (signature, issuer, audience, expiry, tenant)."""


class EntraError(Exception):
    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status, self.error, self.code, self.message = status, error, code, message


# -- keys and tokens -----------------------------------------------------------------------


def _private_key(state: EmulatorState, tenant_id: str) -> RSAPrivateKey:
    return _load_key(state.signing_key_pem(tenant_id))


@functools.lru_cache(maxsize=64)
def _load_key(pem: str) -> RSAPrivateKey:
    # Parsing checks the key, which costs milliseconds; every token would pay it again.
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise TypeError("tenant signing keys must be RSA")
    return key


def _jwk(state: EmulatorState, tenant_id: str) -> dict[str, Any]:
    public = _private_key(state, tenant_id).public_key()
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk.update({"use": "sig", "kid": _kid(jwk["n"]), "issuer": issuer(state, tenant_id)})
    return jwk


def _kid(modulus: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(modulus.encode()).digest()[:15]).decode()


def issuer(state: EmulatorState, tenant_id: str) -> str:
    return f"{state.issuer_host}/{tenant_id}/v2.0"


def _sign(state: EmulatorState, tenant_id: str, claims: dict[str, Any]) -> str:
    jwk = _jwk(state, tenant_id)
    return jwt.encode(
        claims,
        _private_key(state, tenant_id),
        algorithm="RS256",
        headers={"kid": jwk["kid"], "typ": "JWT"},
    )


def verify_access_token(state: EmulatorState, token: str, audience: str) -> dict[str, Any]:
    """Verify an access token for ``audience`` (the Point API app id; ``api://`` accepted)."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        tenant = state.tenant(str(unverified.get("tid", "")))
        if tenant is None:
            raise InvalidToken("unknown tenant")
        key = _private_key(state, tenant["id"]).public_key()
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=[audience, f"api://{audience}"],
            issuer=issuer(state, tenant["id"]),
            options={"require": ["exp", "iat", "aud", "iss", "tid"]},
            leeway=0,
        )
    except InvalidToken:
        raise
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return claims


def _b64url_json(obj: dict[str, Any]) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )


# -- Entra's error shape ---------------------------------------------------------------------


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def entra_error(status: int, error: str, code: int, message: str) -> Response:
    trace_id, correlation_id, timestamp = str(uuid.uuid4()), str(uuid.uuid4()), _timestamp()
    return json_response(
        {
            "error": error,
            "error_description": (
                f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status=status,
        headers={"Cache-Control": "no-store"},
    )


def _unknown_tenant(name: str) -> EntraError:
    return EntraError(
        400,
        "invalid_request",
        90002,
        f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
    )


def _tenant_or_error(state: EmulatorState, name: str) -> dict[str, Any]:
    tenant = state.tenant(name)
    if tenant is None:
        raise _unknown_tenant(name)
    return tenant


def find_app(tenant: dict[str, Any], client_id: str) -> dict[str, Any] | None:
    for app in tenant.get("apps", []):
        if app["client_id"].lower() == client_id.strip().lower():
            return app
    return None


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _check_secret(state: EmulatorState, app: dict[str, Any], secret: str | None) -> None:
    if not secret:
        raise EntraError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    for candidate in app.get("secrets", []):
        if hmac.compare_digest(candidate["value"].encode(), secret.encode()):
            if candidate.get("expires") and _parse_time(candidate["expires"]) <= state.now():
                raise EntraError(
                    401,
                    "invalid_client",
                    7000222,
                    f"The provided client secret keys for app '{app['client_id']}' are expired. "
                    "Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                    "or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                )
            return
    raise EntraError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        f"not the client secret ID, for a secret added to app '{app['client_id']}'.",
    )


# -- discovery and keys ----------------------------------------------------------------------


@route("GET", "/{tenant}/v2.0/.well-known/openid-configuration")
def openid_configuration(request: Request) -> Response:
    tenant = request.state.tenant(request.params["tenant"])
    if tenant is None:
        # Discovery answers an unknown tenant with error "invalid_tenant" (not invalid_request).
        err = _unknown_tenant(request.params["tenant"])
        return entra_error(400, "invalid_tenant", err.code, err.message)
    tid = tenant["id"]
    host = request.state.issuer_host
    # token_endpoint/jwks_uri keep the issuer host because msal insists on https for the
    # token endpoint (the portal rewrites that host to the emulator); the browser-facing
    # endpoints point straight at the emulator, which msal never canonicalizes.
    return json_response(
        {
            "token_endpoint": f"{host}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{host}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer(request.state, tid),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{request.base_url}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{host}/{tid}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{request.base_url}/{tid}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "kerberos_endpoint": f"{host}/{tid}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


@route("GET", "/{tenant}/discovery/v2.0/keys")
def jwks(request: Request) -> Response:
    tenant = request.state.tenant(request.params["tenant"])
    if tenant is None:
        err = _unknown_tenant(request.params["tenant"])
        return entra_error(400, "invalid_tenant", err.code, err.message)
    return json_response({"keys": [_jwk(request.state, tenant["id"])]})


@route("GET", "/common/discovery/instance")
def instance_discovery(request: Request) -> Response:
    endpoint = request.query.get("authorization_endpoint", "")
    parts = [p for p in urlsplit(endpoint).path.split("/") if p]
    tenant = parts[0] if parts else "common"
    host = request.state.issuer_host
    return json_response(
        {
            "tenant_discovery_endpoint": f"{host}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": request.query.get("api-version", "1.1"),
            "metadata": [
                {
                    "preferred_network": "login.microsoftonline.com",
                    "preferred_cache": "login.windows.net",
                    "aliases": [
                        "login.microsoftonline.com",
                        "login.windows.net",
                        "login.microsoft.com",
                        "sts.windows.net",
                    ],
                }
            ],
        }
    )


# -- the token endpoint ----------------------------------------------------------------------


def _client_credentials_from(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        # RFC 6749 2.3.1: both parts are form-urlencoded before base64.
        from urllib.parse import unquote_plus

        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except ValueError:
            user, password = "", ""
        client_id = client_id or unquote_plus(user)
        secret = secret or unquote_plus(password)
    return client_id, secret


def _log_token_request(
    state: EmulatorState, tenant: str, client_id: str, grant_type: str, outcome: str
) -> None:
    with state.lock:
        log: list[dict[str, Any]] = state.data.setdefault("token_requests", [])
        log.append(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "tenant": tenant,
                "client_id": client_id,
                "grant_type": grant_type,
                "outcome": outcome,
            }
        )
        del log[:-MAX_TOKEN_LOG]
        state.save()


@route("POST", "/{tenant}/oauth2/v2.0/token")
def token(request: Request) -> Response:
    form = request.form()
    client_id, secret = _client_credentials_from(request, form)
    grant_type = form.get("grant_type", "")
    try:
        result = _token(request, form, client_id, secret, grant_type)
    except EntraError as exc:
        _log_token_request(
            request.state,
            request.params["tenant"],
            client_id,
            grant_type,
            f"AADSTS{exc.code} {exc.error}",
        )
        return entra_error(exc.status, exc.error, exc.code, exc.message)
    _log_token_request(request.state, request.params["tenant"], client_id, grant_type, "success")
    return json_response(result, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _token(
    request: Request, form: dict[str, str], client_id: str, secret: str | None, grant_type: str
) -> dict[str, Any]:
    state = request.state
    tenant = _tenant_or_error(state, request.params["tenant"])
    if not grant_type:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    if grant_type not in ("client_credentials", "authorization_code", "refresh_token"):
        raise EntraError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    if not client_id:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    app = find_app(tenant, client_id)
    if app is None:
        raise EntraError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant['name']}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or consented "
            "to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )
    _check_secret(state, app, secret)
    if grant_type == "client_credentials":
        return _client_credentials(state, tenant, app, form)
    if grant_type == "authorization_code":
        return _authorization_code(state, tenant, app, form)
    return _refresh(state, tenant, app, form)


def _client_credentials(
    state: EmulatorState, tenant: dict[str, Any], app: dict[str, Any], form: dict[str, str]
) -> dict[str, Any]:
    scope = form.get("scope", "").strip()
    if not scope:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    scopes = scope.split()
    resources = {s.rsplit("/", 1)[0].lower() for s in scopes}
    if len(resources) > 1:
        raise EntraError(
            400,
            "invalid_scope",
            700022,
            "The provided value for the input parameter scope is not valid because it contains more than one resource.",
        )
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise EntraError(
            400,
            "invalid_scope",
            70011,
            f"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
        )
    resource = scopes[0][: -len("/.default")]
    api_app_id = tenant.get("point", {}).get("api_app_id", "")
    now = int(state.now())
    lifetime = int(state.data["settings"]["token_lifetime"])
    claims: dict[str, Any] = {
        "iss": issuer(state, tenant["id"]),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "aio": secrets.token_urlsafe(24),
        "azp": app["client_id"],
        "azpacr": "1",
        "appid": app["client_id"],
        "appidacr": "1",
        "idp": f"https://sts.windows.net/{tenant['id']}/",
        "idtyp": "app",
        "oid": _service_principal_id(tenant, app),
        "sub": _service_principal_id(tenant, app),
        "tid": tenant["id"],
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }
    if api_app_id and resource.lower() in (api_app_id.lower(), f"api://{api_app_id}".lower()):
        claims["aud"] = api_app_id
        # Entra leaves "roles" out entirely when nothing is granted (no admin consent).
        with state.lock:
            roles = list(app.get("point_permissions", []))
        if roles:
            claims["roles"] = roles
    elif (portal := _portal_app(tenant, resource)) is not None:
        # The portal's own app registration, exposing its REST API's app roles (a v2 token:
        # the audience is its client id). Roles: those the calling app was granted.
        claims["aud"] = portal["client_id"]
        with state.lock:
            roles = list(app.get("portal_api_roles", []))
        if roles:
            claims["roles"] = roles
    elif resource.lower() in (GRAPH_RESOURCE, GRAPH_APP_ID):
        claims["aud"] = GRAPH_RESOURCE
        with state.lock:
            roles = list(app.get("graph_permissions", []))
        if roles:
            claims["roles"] = roles
    else:
        raise EntraError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant['name']}. "
            "This can happen if the application has not been installed by the administrator of the tenant or consented "
            "to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": _sign(state, tenant["id"], claims),
    }


def _portal_app(tenant: dict[str, Any], resource: str) -> dict[str, Any] | None:
    """The tenant's portal app (the one with app roles) if ``resource`` names it: its client id
    or its App ID URI api://<client id>."""
    wanted = resource.lower().removeprefix("api://")
    for candidate in tenant.get("apps", []):
        if candidate.get("app_roles") and candidate["client_id"].lower() == wanted:
            return candidate
    return None


def _service_principal_id(tenant: dict[str, Any], app: dict[str, Any]) -> str:
    return str(
        app.get("service_principal_id")
        or uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant['id']}/{app['client_id']}")
    )


def _authorization_code(
    state: EmulatorState, tenant: dict[str, Any], app: dict[str, Any], form: dict[str, str]
) -> dict[str, Any]:
    code = form.get("code", "")
    if not code:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'code'.",
        )
    with state.lock:
        grant = state.data["codes"].get(hashlib.sha256(code.encode()).hexdigest())
        if grant is None or grant["client_id"].lower() != app["client_id"].lower():
            raise EntraError(
                400,
                "invalid_grant",
                70000,
                "The provided value for the 'code' parameter is not valid.",
            )
        if grant["tenant_id"] != tenant["id"]:
            raise EntraError(
                400,
                "invalid_grant",
                700005,
                "Provided Authorization Code is intended to use against other tenant, thus rejected.",
            )
        if grant["redeemed"]:
            raise EntraError(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            )
        if grant["expires"] <= state.now():
            raise EntraError(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            )
        # Entra burns the code on the first redemption attempt that gets this far.
        grant["redeemed"] = True
        state.save()
    redirect_uri = form.get("redirect_uri", "")
    if redirect_uri != grant["redirect_uri"]:
        raise EntraError(
            400,
            "invalid_grant",
            500112,
            f"The reply address '{redirect_uri}' does not match the reply address '{grant['redirect_uri']}' provided when requesting Authorization code.",
        )
    verifier = form.get("code_verifier", "")
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    if not verifier or not hmac.compare_digest(challenge, grant["code_challenge"]):
        raise EntraError(
            400,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    user = _user(tenant, grant["oid"])
    if user is None:
        raise EntraError(
            400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."
        )
    return _user_tokens(state, tenant, app, user, grant["scope"], grant.get("nonce"))


def _refresh(
    state: EmulatorState, tenant: dict[str, Any], app: dict[str, Any], form: dict[str, str]
) -> dict[str, Any]:
    refresh_token = form.get("refresh_token", "")
    if not refresh_token:
        raise EntraError(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'refresh_token'.",
        )
    with state.lock:
        grant = state.data["refresh_tokens"].get(hashlib.sha256(refresh_token.encode()).hexdigest())
    if (
        grant is None
        or grant["client_id"].lower() != app["client_id"].lower()
        or grant["tenant_id"] != tenant["id"]
    ):
        raise EntraError(
            400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
        )
    if grant["expires"] <= state.now():
        raise EntraError(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        )
    user = _user(tenant, grant["oid"])
    if user is None:
        raise EntraError(
            400, "invalid_grant", 50034, "The user account does not exist in the directory."
        )
    return _user_tokens(state, tenant, app, user, form.get("scope") or grant["scope"], None)


def _user(tenant: dict[str, Any], oid: str) -> dict[str, Any] | None:
    for user in tenant.get("users", []):
        if user["oid"].lower() == oid.lower():
            return user
    return None


def _user_tokens(
    state: EmulatorState,
    tenant: dict[str, Any],
    app: dict[str, Any],
    user: dict[str, Any],
    scope: str,
    nonce: str | None,
) -> dict[str, Any]:
    now = int(state.now())
    lifetime = int(state.data["settings"]["token_lifetime"])
    tid = tenant["id"]
    requested = scope.split()
    resource_scopes = [s for s in requested if s.lower() not in OIDC_SCOPES] or ["User.Read"]
    granted_scope = " ".join([*resource_scopes, "openid", "profile", "email"])
    sub = (
        base64.urlsafe_b64encode(
            hashlib.sha256(f"{app['client_id']}:{user['oid']}".encode()).digest()
        )
        .decode()
        .rstrip("=")
    )
    id_claims: dict[str, Any] = {
        "aud": app["client_id"],
        "iss": issuer(state, tid),
        "iat": now,
        "nbf": now,
        "exp": now + ID_TOKEN_LIFETIME,
        "name": user["name"],
        "oid": user["oid"],
        "preferred_username": user["upn"],
        "rh": secrets.token_urlsafe(12),
        "sid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tid}/{user['oid']}/session")),
        "sub": sub,
        "tid": tid,
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }
    if user.get("mail"):
        id_claims["email"] = user["mail"]
    if nonce is not None:
        id_claims["nonce"] = nonce
    roles = [r for r in user.get("roles", []) if r in app.get("app_roles", [])]
    if roles:
        id_claims["roles"] = roles
    override = _take_id_token_override(state)
    id_claims.update(override.get("claims", {}))
    for name in override.get("remove", []):
        id_claims.pop(name, None)
    access_claims: dict[str, Any] = {
        "aud": GRAPH_APP_ID,
        "iss": issuer(state, tid),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "app_displayname": app.get("name", ""),
        "appid": app["client_id"],
        "azp": app["client_id"],
        "idtyp": "user",
        "name": user["name"],
        "oid": user["oid"],
        "scp": " ".join(resource_scopes + ["openid", "profile", "email"]),
        "sub": sub,
        "tid": tid,
        "upn": user["upn"],
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    id_token = _sign(state, tid, id_claims)
    refresh_token = secrets.token_urlsafe(48)
    with state.lock:
        store: dict[str, Any] = state.data["refresh_tokens"]
        for key in [k for k, v in store.items() if v["expires"] <= now]:
            del store[key]
        store[hashlib.sha256(refresh_token.encode()).hexdigest()] = {
            "tenant_id": tid,
            "client_id": app["client_id"],
            "oid": user["oid"],
            "scope": scope,
            "expires": now + REFRESH_TOKEN_LIFETIME,
        }
        state.save()
    return {
        "token_type": "Bearer",
        "scope": granted_scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": _sign(state, tid, access_claims),
        "refresh_token": refresh_token,
        "id_token": _tampered(id_token) if override.get("tamper_signature") else id_token,
        "client_info": _b64url_json({"uid": user["oid"], "utid": tid}),
    }


def _take_id_token_override(state: EmulatorState) -> dict[str, Any]:
    """The next pending /_control/id-token-overrides entry (consumed), or nothing."""
    with state.lock:
        pending = state.runtime.get("id_token_overrides")
        return pending.pop(0) if pending else {}


def _tampered(token: str) -> str:
    """The same token with one signature byte changed, so only the signature check fails."""
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


# -- the authorize page ------------------------------------------------------------------------


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  :root {{ color-scheme: light dark; --accent: #0f6cbd; --muted: #616161; --line: #d1d1d1; --bg: #f5f5f5; --card: #fff; }}
  @media (prefers-color-scheme: dark) {{ :root {{ --muted: #adadad; --line: #3d3d3d; --bg: #1f1f1f; --card: #292929; }} }}
  * {{ box-sizing: border-box; }}
  body {{ margin: 0; font: 15px/1.45 "Segoe UI", system-ui, -apple-system, sans-serif; background: var(--bg); }}
  main {{ max-width: 34rem; margin: 6vh auto; padding: 2rem; background: var(--card); border-radius: 8px;
          box-shadow: 0 2px 8px rgba(0,0,0,.12); }}
  @media (max-width: 36rem) {{ main {{ margin: 0; border-radius: 0; min-height: 100vh; padding: 1.25rem; }} }}
  .brand {{ font-weight: 600; color: var(--muted); font-size: .85rem; letter-spacing: .02em; text-transform: uppercase; }}
  h1 {{ font-size: 1.4rem; margin: .4rem 0 .2rem; }}
  p.lead {{ color: var(--muted); margin: 0 0 1.25rem; }}
  form.users {{ display: grid; gap: .5rem; }}
  button {{ font: inherit; cursor: pointer; }}
  button.user {{ display: grid; grid-template-columns: 2.4rem 1fr; gap: .1rem .75rem; align-items: center; text-align: left;
                 width: 100%; padding: .7rem .8rem; border: 1px solid var(--line); border-radius: 6px;
                 background: transparent; color: inherit; }}
  button.user:hover, button.user:focus-visible {{ border-color: var(--accent); outline: none; box-shadow: 0 0 0 2px var(--accent) inset; }}
  button.user.hinted {{ border-color: var(--accent); }}
  .avatar {{ grid-row: span 3; width: 2.4rem; height: 2.4rem; border-radius: 50%; background: var(--accent); color: #fff;
             display: grid; place-items: center; font-weight: 600; }}
  .name {{ font-weight: 600; }}
  .upn {{ color: var(--muted); font-size: .85rem; overflow-wrap: anywhere; }}
  .roles {{ display: flex; flex-wrap: wrap; gap: .3rem; }}
  .role {{ font-size: .75rem; padding: .05rem .45rem; border-radius: 999px; background: rgba(15,108,189,.12); color: var(--accent); }}
  .role.none {{ background: transparent; color: var(--muted); padding-left: 0; }}
  .actions {{ display: flex; justify-content: flex-end; margin-top: 1.25rem; }}
  button.cancel {{ padding: .45rem 1.2rem; border: 1px solid var(--line); border-radius: 4px; background: transparent; color: inherit; }}
  .error {{ border-left: 4px solid #c50f1f; padding: .5rem .8rem; background: rgba(197,15,31,.08); word-break: break-word; }}
  code {{ font-size: .85rem; }}
</style></head>
<body><main>
<div class="brand">Entra ID emulator &middot; {tenant}</div>
{content}
</main></body></html>
"""


def _page(title: str, tenant_name: str, content: str, status: int = 200) -> Response:
    return html_response(
        _PAGE.format(title=html.escape(title), tenant=html.escape(tenant_name), content=content),
        status=status,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"
        },
    )


def _error_page(tenant_name: str, code: int, message: str, status: int = 400) -> Response:
    content = (
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p class="error"><strong>AADSTS{code}:</strong> {html.escape(message)}</p>'
        f'<p class="lead">Correlation ID: <code>{uuid.uuid4()}</code><br>Timestamp: <code>{_timestamp()}</code></p>'
    )
    return _page(f"AADSTS{code}", tenant_name, content, status)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}{urlencode(params, quote_via=quote)}"


def _respond_to_client(redirect_uri: str, params: dict[str, str], response_mode: str) -> Response:
    if response_mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        return html_response(
            f'<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(redirect_uri)}">'
            f'{fields}<noscript><button type="submit">Continue</button></noscript></form></body></html>',
            headers={
                "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; form-action *"
            },
        )
    return redirect(_with_query(redirect_uri, params))


@route("GET", "/{tenant}/oauth2/v2.0/authorize")
def authorize_page(request: Request) -> Response:
    return _authorize(request, chosen=None)


@route("POST", "/{tenant}/oauth2/v2.0/authorize")
def authorize_submit(request: Request) -> Response:
    form = request.form()
    if "cancel" in form:
        return _authorize(request, chosen="", cancelled=True)
    return _authorize(request, chosen=form.get("user", ""))


def _authorize(request: Request, chosen: str | None, cancelled: bool = False) -> Response:
    state, q = request.state, request.query
    tenant = state.tenant(request.params["tenant"])
    if tenant is None:
        err = _unknown_tenant(request.params["tenant"])
        return _error_page("Unknown tenant", err.code, err.message)
    client_id = q.get("client_id", "")
    app = find_app(tenant, client_id) if client_id else None
    if app is None:
        return _error_page(
            tenant["name"],
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant['name']}'.",
        )
    redirect_uri = q.get("redirect_uri", "")
    if redirect_uri not in app.get("redirect_uris", []):
        # Never redirect to an address that is not registered: show the error instead.
        return _error_page(
            tenant["name"],
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured "
            f"for the application '{app['client_id']}'.",
        )

    response_mode = q.get("response_mode", "query")
    base: dict[str, str] = {}

    def fail(error: str, code: int, message: str) -> Response:
        params = {**base, "error": error, "error_description": f"AADSTS{code}: {message}"}
        if "state" in q:
            params["state"] = q["state"]
        return _respond_to_client(redirect_uri, params, response_mode)

    if q.get("response_type") != "code":
        return fail(
            "unsupported_response_type",
            70005,
            "The app requested an unsupported response type. This emulator supports 'code' only.",
        )
    if not q.get("code_challenge"):
        return fail(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'code_challenge'. This emulator requires PKCE.",
        )
    if q.get("code_challenge_method", "plain") != "S256":
        return fail(
            "invalid_request",
            501491,
            "Invalid code_challenge_method; this emulator accepts 'S256' only.",
        )
    if len(q["code_challenge"]) != 43:
        return fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
    if cancelled:
        return fail("access_denied", 65004, "User declined to consent to access the app.")

    hint = q.get("login_hint", "").lower()
    users = tenant.get("users", [])
    if chosen is None and q.get("prompt") == "none":
        # No real session exists; a login_hint naming a known user stands in for one.
        hinted = next((u for u in users if u["upn"].lower() == hint), None)
        if hinted is None:
            return fail(
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )
        chosen = hinted["oid"]
    if chosen is None:
        return _user_picker(request, tenant, app, hint)
    user = _user(tenant, chosen)
    if user is None:
        return _error_page(
            tenant["name"], 50034, "The user account does not exist in the directory."
        )

    code = secrets.token_urlsafe(48)
    with state.lock:
        codes: dict[str, Any] = state.data["codes"]
        now = state.now()
        for key in [k for k, v in codes.items() if v["expires"] <= now - CODE_LIFETIME]:
            del codes[key]
        codes[hashlib.sha256(code.encode()).hexdigest()] = {
            "tenant_id": tenant["id"],
            "client_id": app["client_id"],
            "redirect_uri": redirect_uri,
            "code_challenge": q["code_challenge"],
            "nonce": q.get("nonce"),
            "scope": q.get("scope", "openid profile"),
            "oid": user["oid"],
            "expires": now + CODE_LIFETIME,
            "redeemed": False,
        }
        state.save()
    params = {"code": code}
    if "state" in q:
        params["state"] = q["state"]
    params["session_state"] = str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant['id']}/{user['oid']}/session")
    )
    return _respond_to_client(redirect_uri, params, response_mode)


def _user_picker(
    request: Request, tenant: dict[str, Any], app: dict[str, Any], hint: str
) -> Response:
    action = html.escape(request.path + "?" + urlencode(request.query, quote_via=quote))
    buttons = []
    for user in tenant.get("users", []):
        roles = [r for r in user.get("roles", []) if r in app.get("app_roles", [])]
        chips = (
            "".join(f'<span class="role">{html.escape(r)}</span>' for r in roles)
            or '<span class="role none">No portal role</span>'
        )
        if user.get("guest"):
            chips += '<span class="role none">Guest</span>'
        initials = "".join(part[0] for part in user["name"].split()[:2] if part).upper()
        hinted = user["upn"].lower() == hint
        buttons.append(
            f'<button class="user{" hinted" if hinted else ""}" type="submit" name="user" value="{html.escape(user["oid"])}"'
            f"{' autofocus' if hinted else ''}>"
            f'<span class="avatar" aria-hidden="true">{html.escape(initials)}</span>'
            f'<span class="name">{html.escape(user["name"])}</span>'
            f'<span class="upn">{html.escape(user["upn"])}</span>'
            f'<span class="roles">{chips}</span></button>'
        )
    prompt = request.query.get("prompt", "")
    lead = (
        "Choose a demo account to sign in to"
        if prompt != "select_account"
        else "Pick an account for"
    )
    content = (
        "<h1>Pick an account</h1>"
        f'<p class="lead">{lead} <strong>{html.escape(app.get("name", app["client_id"]))}</strong>. '
        "No password: this is the local emulator.</p>"
        f'<form class="users" method="post" action="{action}">{"".join(buttons)}</form>'
        f'<form class="actions" method="post" action="{action}"><button class="cancel" type="submit" name="cancel" value="1">Cancel</button></form>'
    )
    return _page(f"Sign in to {app.get('name', '')}", tenant["name"], content)


@route("GET", "/{tenant}/oauth2/v2.0/logout")
def logout(request: Request) -> Response:
    tenant = request.state.tenant(request.params["tenant"])
    if tenant is None:
        err = _unknown_tenant(request.params["tenant"])
        return _error_page("Unknown tenant", err.code, err.message)
    target = request.query.get("post_logout_redirect_uri", "")
    if target and _registered_origin(tenant, target, request.query.get("client_id")):
        return redirect(target)
    note = ""
    if target:
        note = '<p class="lead">The sign-out address given is not registered for any application, so you stay here.</p>'
    return _page(
        "Signed out",
        tenant["name"],
        "<h1>You signed out of your account</h1>"
        '<p class="lead">It\'s a good idea to close all browser windows.</p>' + note,
    )


def _origin(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.scheme.lower(), parts.netloc.lower()


def _registered_origin(tenant: dict[str, Any], target: str, client_id: str | None) -> bool:
    apps = tenant.get("apps", [])
    if client_id:
        apps = [a for a in apps if a["client_id"].lower() == client_id.lower()]
    wanted = _origin(target)
    return wanted[0] in ("http", "https") and any(
        _origin(u) == wanted for a in apps for u in a.get("redirect_uris", [])
    )

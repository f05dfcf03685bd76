"""A tenant's Entra discovery document and signing keys (JWKS), shared by the sign-in
(portal.auth: id_tokens) and the REST API (api.auth: app-only access tokens).

Both are fetched through the Entra session (timeouts, the emulator in demo mode) and reused for
an hour. A token signed with a key the cached JWKS does not hold means Entra rolled its keys
over: the JWKS is fetched again once. Failures raise `EntraKeyError`, whose `kind` each caller
maps to its own words; its message names a URL at most, never a token.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import TYPE_CHECKING, Any

import jwt
import requests
from django.conf import settings

from tenants.msal_http import authority, entra_session

if TYPE_CHECKING:
    from tenants.models import Tenant

METADATA_TTL = 3600  # seconds discovery documents and JWKS are reused
# A JWKS is fetched again for an unknown kid at most this often: a stream of tokens naming
# keys nobody published (anyone can send them to the API) must not become a stream of calls
# to Entra. Entra publishes a new key weeks before it signs with it, so a genuine rollover is
# already in a JWKS fetched a minute earlier.
REFETCH_INTERVAL = 60


class EntraKeyError(Exception):
    """Discovery or the JWKS could not be used; ``kind`` says which way."""

    class Kind(enum.StrEnum):
        UNREACHABLE = "unreachable"  # discovery or JWKS could not be read
        NO_JWKS_URI = "no_jwks_uri"  # discovery names no key set
        UNKNOWN_KEY = "unknown_key"  # no published key has the token's kid, even after a refetch

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_refetched: dict[str, float] = {}  # cache key -> when an unknown kid last made us refetch
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached document (tests; a key rollover is otherwise handled here)."""
    with _lock:
        _cache.clear()
        _refetched.clear()


def _fetch(url: str) -> dict[str, Any]:
    """One GET through the Entra session (tests replace this to count calls or fake a JWKS)."""
    try:
        with entra_session() as session:
            answer = session.get(url)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise EntraKeyError(EntraKeyError.Kind.UNREACHABLE, f"could not read {url}") from exc
    return body


def _cache_key(url: str) -> str:
    # Demo mode sends Entra's URLs to the emulator: one emulator's keys are not another's.
    return f"{settings.EMULATOR_URL if settings.DEMO_MODE else ''}|{url}"


def get_json(url: str, *, fresh: bool = False) -> dict[str, Any]:
    """A discovery document or JWKS, reused for METADATA_TTL unless ``fresh``."""
    key = _cache_key(url)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached and not fresh and now - cached[0] < METADATA_TTL:
        return cached[1]
    body = _fetch(url)
    with _lock:
        _cache[key] = (now, body)
    return body


def discovery(tenant: Tenant) -> dict[str, Any]:
    return get_json(f"{authority(tenant)}/v2.0/.well-known/openid-configuration")


def v2_issuer(tenant: Tenant) -> str:
    """The ``iss`` of the tenant's v2 tokens (the emulator issues the same in demo mode)."""
    return f"{settings.ENTRA_LOGIN_URL}/{tenant.entra_tenant_id}/v2.0"


def _may_refetch(url: str) -> bool:
    key, now = _cache_key(url), time.monotonic()
    with _lock:
        last = _refetched.get(key)
        if last is not None and now - last < REFETCH_INTERVAL:
            return False
        _refetched[key] = now
        return True


def signing_key(tenant: Tenant, kid: str | None) -> Any:
    """The public key of the tenant's JWKS with this ``kid``; refetched once when unknown."""
    jwks_uri = str(discovery(tenant).get("jwks_uri", ""))
    if not jwks_uri:
        raise EntraKeyError(EntraKeyError.Kind.NO_JWKS_URI, "discovery has no jwks_uri")
    for fresh in (False, True):
        if fresh and not _may_refetch(jwks_uri):
            break
        for jwk in get_json(jwks_uri, fresh=fresh).get("keys", []):
            if jwk.get("kid") == kid:
                return jwt.PyJWK(jwk).key
    raise EntraKeyError(
        EntraKeyError.Kind.UNKNOWN_KEY, "signing key not found in the tenant's JWKS"
    )

"""A tenant's upstream: the provider its `Tenant.provider` names, bound to its connection.

The upstream packages (upstreams/) know no model: this module is where a Tenant becomes a
`contract.Connection` (its Point URL, its shared app token, the portal's timeouts and retry
policy from settings) and the registry turns that into the tenant's `Upstream`. Every caller
above (the request flow, the catalogue, the directory, availability, the connection check)
goes through `provider_for(tenant)`.
"""

from __future__ import annotations

import time

from django.conf import settings

from tenants import tokens
from tenants.models import Tenant
from upstreams import registry
from upstreams.contract import AuthenticationFailed, Connection, Upstream

# Tests replace this to record waits instead of sleeping.
_sleep = time.sleep


class TenantTokens:
    """The tenant's shared app token (tenants.tokens) as the upstream's token source."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._issued: dict[str, tokens.AccessToken] = {}

    def token(self, *, fresh: bool = False) -> str:
        try:
            issued = tokens.get_token(self.tenant, fresh=fresh)
        except tokens.TokenError as error:
            raise AuthenticationFailed(
                error.message, guidance=error.guidance, retryable=error.retryable
            ) from error
        self._issued[issued.value] = issued
        return issued.value

    def rejected(self, token: str) -> None:
        issued = self._issued.pop(token, None)
        if issued is not None:
            tokens.invalidate(self.tenant, issued)

    def __repr__(self) -> str:  # never the token
        return f"TenantTokens({self.tenant.slug})"


def connection_for(tenant: Tenant) -> Connection:
    """How to reach the tenant's upstream, with the portal's timeouts and retry policy."""
    return Connection(
        base_url=tenant.point_base_url,
        tokens=TenantTokens(tenant),
        connect_timeout=float(settings.POINT_CONNECT_TIMEOUT),
        read_timeout=float(settings.POINT_READ_TIMEOUT),
        max_retries=settings.POINT_MAX_RETRIES,
        backoff=settings.POINT_BACKOFF_MS / 1000,
        retry_budget=float(settings.POINT_RETRY_BUDGET),
        retry_after_max=float(settings.RETRY_AFTER_MAX),
        sleep=lambda seconds: _sleep(seconds),
    )


def provider_for(tenant: Tenant) -> Upstream:
    """The upstream the tenant provisions through, bound to its connection."""
    return registry.create(tenant.provider, connection_for(tenant))


def label_for(tenant: Tenant) -> str:
    """What people call the tenant's upstream in messages ("Point")."""
    return registry.label(tenant.provider)

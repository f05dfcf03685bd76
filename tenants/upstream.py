"""A tenant's upstream: the provider its `Tenant.provider` names, bound to its connection.

The upstream packages (upstreams/) know no model: this module is where a Tenant becomes a
`contract.Connection` (its upstream URL, its shared app token for the upstream's scope, the
portal's timeouts and retry policy from settings) and the registry turns that into the tenant's
`Upstream`. Every caller above (the request flow, the catalogue, the directory, availability,
the connection check) goes through `provider_for(tenant)`; the people picker and the
provisioning-job credentials go through `graph_for(tenant)`, whatever the tenant provisions
through.
"""

from __future__ import annotations

import time
from typing import cast

from django.conf import settings

from tenants import tokens
from tenants.models import GRAPH_SCOPE, Provider, Tenant
from upstreams import registry
from upstreams.contract import (
    AuthenticationFailed,
    Connection,
    PeopleDirectory,
    ProvisioningJobs,
    Upstream,
)

# Tests replace this to record waits instead of sleeping.
_sleep = time.sleep


class TenantTokens:
    """The tenant's shared app token (tenants.tokens) for ``scope`` as a token source."""

    def __init__(self, tenant: Tenant, scope: str | None = None) -> None:
        self.tenant = tenant
        self.scope = scope or tenant.token_scope
        self._issued: dict[str, tokens.AccessToken] = {}

    def token(self, *, fresh: bool = False) -> str:
        try:
            issued = tokens.get_token(self.tenant, fresh=fresh, scope=self.scope)
        except tokens.TokenError as error:
            raise AuthenticationFailed(
                error.message, guidance=error.guidance, retryable=error.retryable
            ) from error
        self._issued[issued.value] = issued
        return issued.value

    def rejected(self, token: str) -> None:
        issued = self._issued.pop(token, None)
        if issued is not None:
            tokens.invalidate(self.tenant, issued, self.scope)

    def __repr__(self) -> str:  # never the token
        return f"TenantTokens({self.tenant.slug})"


def _connection(tenant: Tenant, base_url: str, scope: str, read_timeout: float) -> Connection:
    return Connection(
        base_url=base_url,
        tokens=TenantTokens(tenant, scope),
        connect_timeout=float(settings.POINT_CONNECT_TIMEOUT),
        read_timeout=read_timeout,
        max_retries=settings.POINT_MAX_RETRIES,
        backoff=settings.POINT_BACKOFF_MS / 1000,
        retry_budget=float(settings.POINT_RETRY_BUDGET),
        retry_after_max=float(settings.RETRY_AFTER_MAX),
        sleep=lambda seconds: _sleep(seconds),
    )


def connection_for(tenant: Tenant) -> Connection:
    """How to reach the tenant's upstream, with the portal's timeouts and retry policy."""
    read_timeout = settings.POINT_READ_TIMEOUT
    if tenant.provider == Provider.GT365:
        read_timeout = max(read_timeout, settings.GT365_READ_TIMEOUT)
    return _connection(tenant, tenant.api_url, tenant.token_scope, float(read_timeout))


def provider_for(tenant: Tenant) -> Upstream:
    """The upstream the tenant provisions through, bound to its connection."""
    return registry.create(tenant.provider, connection_for(tenant))


def graph_url(tenant: Tenant) -> str:
    """Microsoft Graph for this tenant: its upstream URL when it provisions through Graph."""
    return tenant.api_url if tenant.provider == Provider.GRAPH else settings.GRAPH_API_URL


class Graph(PeopleDirectory, ProvisioningJobs, Upstream):
    """What graph_for hands out: the Graph provider's people and provisioning jobs too."""


def graph_for(tenant: Tenant) -> Graph:
    """Microsoft Graph with the tenant's app token for Graph: the people picker and the
    provisioning-job credentials, whatever the tenant provisions through."""
    connection = _connection(
        tenant, graph_url(tenant), GRAPH_SCOPE, float(settings.POINT_READ_TIMEOUT)
    )
    return cast(Graph, registry.create("graph", connection))


def label_for(tenant: Tenant) -> str:
    """What people call the tenant's upstream in messages ("Point")."""
    return registry.label(tenant.provider)

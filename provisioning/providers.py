"""Upstream providers: what the portal needs from an upstream, and which one a tenant uses.

Point is the only upstream today. GT365 ProvisionGroup or Microsoft Graph can join later by
implementing `Upstream` and adding a branch to `provider_for`.
"""

from __future__ import annotations

from typing import Protocol

from provisioning import point
from tenants.models import Provider, Tenant


class Upstream(Protocol):
    """The provisioning operations of one tenant's upstream."""

    kind: str

    def list_templates(self, tenant: Tenant) -> list[point.Template]: ...

    def provision(
        self, tenant: Tenant, workload: str, request: point.NewWorkspace
    ) -> point.ProvisionRequest: ...

    def get_request(self, tenant: Tenant, request_id: str) -> point.ProvisionRequest: ...

    def find_requests(
        self, tenant: Tenant, *, desired_url: str | None = None, display_name: str | None = None
    ) -> list[point.ProvisionRequest]: ...

    def permissions(self) -> tuple[str, ...]: ...

    def probe(self, tenant: Tenant, permission: str) -> str: ...


class PointProvider:
    """Syskit Point, through provisioning.point."""

    kind = Provider.POINT.value

    def list_templates(self, tenant: Tenant) -> list[point.Template]:
        return point.list_templates(tenant)

    def provision(
        self, tenant: Tenant, workload: str, request: point.NewWorkspace
    ) -> point.ProvisionRequest:
        return point.provision(tenant, workload, request)

    def get_request(self, tenant: Tenant, request_id: str) -> point.ProvisionRequest:
        return point.get_provision_request(tenant, request_id)

    def find_requests(
        self, tenant: Tenant, *, desired_url: str | None = None, display_name: str | None = None
    ) -> list[point.ProvisionRequest]:
        return point.find_provision_requests(
            tenant, desired_url=desired_url, display_name=display_name
        )

    def permissions(self) -> tuple[str, ...]:
        return (point.SHAREPOINT_READ_ALL, point.ASYNC_REQUESTS, point.PROVISIONING, point.ADMIN)

    def probe(self, tenant: Tenant, permission: str) -> str:
        return point.probe(tenant, permission)


_POINT = PointProvider()


def provider_for(tenant: Tenant) -> Upstream:
    """The upstream a tenant provisions through."""
    if tenant.provider == Provider.POINT:
        return _POINT
    raise ValueError(
        f"Tenant {tenant.slug} uses an upstream the portal does not support: {tenant.provider}."
    )

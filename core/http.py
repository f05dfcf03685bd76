"""The typed HTTP request of the portal's views.

A view behind `core.decorators.role_required` gets a signed-in portal `User` (never an
anonymous one), the tenant the person works in (`portal.middleware.CurrentTenantMiddleware`)
and htmx's details (`django_htmx.middleware.HtmxMiddleware`). Annotating such a view with
`PortalRequest` lets the type checker know it, as django-stubs recommends, instead of
`request.user` casts and `type: ignore`s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from portal.models import User
    from tenants.models import Tenant


class PortalRequest(HttpRequest):
    user: User
    tenant: Tenant | None
    htmx: HtmxDetails

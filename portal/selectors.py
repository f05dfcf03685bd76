"""The tenant a signed-in person works in (the header's selector); which tenants they serve is
tenants.selectors."""

from __future__ import annotations

from django.http import HttpRequest

from portal.models import User
from tenants.models import Tenant
from tenants.selectors import tenants_for_user

SESSION_TENANT_KEY = "portal_tenant_id"


def current_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant the user is working in: the one chosen in the selector (session, then the
    user's remembered choice) if they still serve it, else their home tenant."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    served = tenants_for_user(user)
    for candidate in (
        request.session.get(SESSION_TENANT_KEY),
        user.selected_tenant_id,
        user.home_tenant_id,
    ):
        if candidate:
            tenant = served.filter(pk=candidate).first()
            if tenant is not None:
                return tenant
    return served.order_by("name").first()

"""Template context for the header: the user's role, current tenant and tenant selector."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal.models import Role, User
from portal.roles import is_staff
from portal.selectors import selectable_tenants


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"current_tenant": None, "selectable_tenants": [], "portal_role": ""}
    choices = list(selectable_tenants(user))
    return {
        "current_tenant": getattr(request, "tenant", None),
        "selectable_tenants": choices if len(choices) > 1 else [],
        "portal_role": user.role,
        "portal_role_label": Role(user.role).label if user.role else "No role",
        "is_it_staff": is_staff(user),
        "is_portal_admin": user.role == Role.ADMIN,
    }

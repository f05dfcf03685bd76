"""Template context for the header: the user's role, current tenant and tenant selector."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import Role, is_admin, is_operator, is_staff, role_label
from portal.models import User
from tenants.selectors import selectable_tenants


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {"current_tenant": None, "selectable_tenants": [], "portal_role": ""}
    choices = list(selectable_tenants(user))
    return {
        "current_tenant": getattr(request, "tenant", None),
        "selectable_tenants": choices if len(choices) > 1 else [],
        "portal_role": Role.OPERATOR.value if is_operator(user) else user.role,
        "portal_role_label": role_label(user),
        "is_it_staff": is_staff(user),
        "is_portal_admin": is_admin(user),
        "is_operator": is_operator(user),
    }

"""Portal roles from Entra app roles: which claim values mean what, and who outranks whom."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from portal.models import Role

# Lowest first: when a token carries several portal roles, the highest one wins.
RANK = (Role.REQUESTER, Role.IT_STAFF, Role.ADMIN)
# The roles that work across a tenant (every request, the directory, tenant pages).
STAFF_ROLES = (Role.IT_STAFF, Role.ADMIN)


def entra_role_names() -> dict[str, Role]:
    """Entra app role value -> portal role, from settings (ENTRA_ROLE_*)."""
    return {
        settings.ENTRA_ROLE_REQUESTER: Role.REQUESTER,
        settings.ENTRA_ROLE_IT_STAFF: Role.IT_STAFF,
        settings.ENTRA_ROLE_ADMIN: Role.ADMIN,
    }


def role_from_claims(app_roles: Iterable[str]) -> Role | None:
    """The highest portal role among the token's ``roles`` claim, or None without one."""
    names = entra_role_names()
    found = {names[value] for value in app_roles if value in names}
    for role in reversed(RANK):
        if role in found:
            return role
    return None


def is_staff(user: object) -> bool:
    """Whether ``user`` is IT staff or an admin (a portal role, not Django's is_staff)."""
    return getattr(user, "role", "") in STAFF_ROLES

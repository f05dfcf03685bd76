"""Portal roles from Entra app roles: which claim values mean what, who outranks whom, and
where a role applies.

A role granted by an organisation's Entra applies to that organisation only: requesters, IT
staff and admins work in their home tenant (IT staff and admins also in tenants an operator
assigned to them). Operators run the whole portal; the role is honoured only in a token from
the configured operator tenant (OPERATOR_TENANT_ID), and Django superusers (the
`createsuperuser` break-glass account) are operators too.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Portal roles, from Entra app roles at each sign-in (highest one wins).

    Requester, IT staff and admin apply to the organisation whose Entra granted them (the
    person's home tenant, plus tenants an operator assigned to IT staff). Operator runs the
    whole portal and is honoured only from OPERATOR_TENANT_ID (see below).
    """

    REQUESTER = "requester", "Requester"
    IT_STAFF = "it_staff", "IT staff"
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"


# Lowest first: when a token carries several portal roles, the highest one wins.
RANK = (Role.REQUESTER, Role.IT_STAFF, Role.ADMIN, Role.OPERATOR)
# The roles that work across a tenant (every request, the directory, tenant pages).
STAFF_ROLES = (Role.IT_STAFF, Role.ADMIN, Role.OPERATOR)


def entra_role_names() -> dict[str, Role]:
    """Entra app role value -> portal role, from settings (ENTRA_ROLE_*)."""
    return {
        settings.ENTRA_ROLE_REQUESTER: Role.REQUESTER,
        settings.ENTRA_ROLE_IT_STAFF: Role.IT_STAFF,
        settings.ENTRA_ROLE_ADMIN: Role.ADMIN,
        settings.ENTRA_ROLE_OPERATOR: Role.OPERATOR,
    }


def operator_tenant(entra_tenant_id: object) -> bool:
    """Whether tokens of this Entra tenant may grant the operator role."""
    configured = settings.OPERATOR_TENANT_ID
    return bool(configured) and str(entra_tenant_id).lower() == configured


def role_from_claims(app_roles: Iterable[str], *, operator_allowed: bool = False) -> Role | None:
    """The highest portal role among the token's ``roles`` claim, or None without one.

    The operator role counts only when ``operator_allowed`` (the token came from the
    operator tenant); elsewhere the claim is ignored and the next role down applies.
    """
    names = entra_role_names()
    found = {names[value] for value in app_roles if value in names}
    if not operator_allowed:
        found.discard(Role.OPERATOR)
    for role in reversed(RANK):
        if role in found:
            return role
    return None


def claims_refused_operator(app_roles: Iterable[str], *, operator_allowed: bool) -> bool:
    """The token claims the operator role from a tenant that may not grant it."""
    return not operator_allowed and settings.ENTRA_ROLE_OPERATOR in set(app_roles)


def is_operator(user: object) -> bool:
    """An operator of the whole portal: the Operator role, or a Django superuser."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return getattr(user, "role", "") == Role.OPERATOR or bool(getattr(user, "is_superuser", False))


def is_admin(user: object) -> bool:
    """An admin of their own organisation, or an operator."""
    return getattr(user, "role", "") == Role.ADMIN or is_operator(user)


def is_staff(user: object) -> bool:
    """Whether ``user`` is IT staff, an admin or an operator (a portal role, not Django's
    is_staff)."""
    return getattr(user, "role", "") in STAFF_ROLES or is_operator(user)


def role_label(user: object) -> str:
    """What the header and the audit log call the person's role."""
    if is_operator(user):
        return Role.OPERATOR.label
    role = getattr(user, "role", "")
    return Role(role).label if role else "No role"

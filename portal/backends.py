"""The Entra ID authentication backend: verified id_token claims -> a portal User.

Users are keyed on tid + oid (never on a name or e-mail). Name, e-mail and role are refreshed
at every sign-in. Admins get Django admin (is_staff) scoped to their own organisation;
only operators, honoured from the operator tenant alone, are Django superusers.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.http import HttpRequest

from audit.models import AuditAction
from audit.services import audit_record
from core.roles import Role, claims_refused_operator, operator_tenant, role_from_claims
from portal.auth import Reason, SignInError
from portal.models import User
from tenants.models import Tenant


class EntraBackend(ModelBackend):
    """Authenticates only with verified claims (``authenticate(request, claims=, tenant=)``);
    never with a password. ``get_user`` (and its is_active check) comes from ModelBackend."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        claims: dict[str, Any] | None = None,
        tenant: Tenant | None = None,
        **kwargs: Any,
    ) -> User | None:
        if claims is None or tenant is None:
            return None
        user = user_from_claims(claims, tenant, request=request)
        return user if self.user_can_authenticate(user) else None


def _display(claims: dict[str, Any]) -> tuple[str, str]:
    name = str(claims.get("name") or "").strip()
    email = str(claims.get("email") or "").strip()
    if not email and "@" in str(claims.get("preferred_username", "")):
        email = str(claims["preferred_username"])
    return name[:150], email[:254]


def user_from_claims(
    claims: dict[str, Any], tenant: Tenant, *, request: HttpRequest | None = None
) -> User:
    """Create or refresh the User for these claims; raises SignInError(NO_ROLE) without a
    portal role (an existing user then loses the role and admin flags they had)."""
    user = _sync_user(claims, tenant, request)
    if user is None or not user.role:
        raise SignInError(Reason.NO_ROLE, "no portal app role in the token")
    return user


@transaction.atomic
def _sync_user(claims: dict[str, Any], tenant: Tenant, request: HttpRequest | None) -> User | None:
    tid, oid = uuid.UUID(str(claims["tid"])), uuid.UUID(str(claims["oid"]))
    name, email = _display(claims)
    roles = claims.get("roles") or []
    roles = [str(r) for r in roles] if isinstance(roles, list) else []
    operator_allowed = operator_tenant(tid)
    role = role_from_claims(roles, operator_allowed=operator_allowed)
    user = User.objects.select_for_update().filter(entra_tenant_id=tid, entra_object_id=oid).first()
    if user is None and role is None:
        return None
    if user is None:
        user = User(username=f"{oid}@{tid}", entra_tenant_id=tid, entra_object_id=oid)
    previous = user.role
    user.first_name, user.last_name, user.email = name, "", email
    user.upn = str(claims.get("preferred_username") or email).strip().lower()[:254]
    user.home_tenant = tenant
    user.role = role or ""
    # Django admin: admins see their own organisation there; only operators see everything.
    user.is_staff = role in (Role.ADMIN, Role.OPERATOR)
    user.is_superuser = role == Role.OPERATOR
    user.set_unusable_password()
    user.save()
    if claims_refused_operator(roles, operator_allowed=operator_allowed):
        audit_record(
            action=AuditAction.ROLE_REFUSED,
            request=request,
            user=user,
            tenant=tenant,
            detail=f"The token claims {settings.ENTRA_ROLE_OPERATOR}, which only the operator "
            "tenant may grant; ignored.",
        )
    if user.pk and previous and previous != user.role:
        audit_record(
            action=AuditAction.ROLE_CHANGED,
            request=request,
            user=user,
            tenant=tenant,
            detail=f"{Role(previous).label} -> {Role(role).label if role else 'no role'}",
        )
    return user

"""The audit log service: the one way to write an AuditEvent.

Later features add their actions to audit.models.AuditAction and call ``audit_record``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from core.roles import Role, is_operator

if TYPE_CHECKING:
    from portal.models import User
    from tenants.models import Tenant

__all__ = ["AuditAction", "audit_record", "source_ip"]

MAX_DETAIL = 2000


def source_ip(request: HttpRequest) -> str | None:
    """The client's address: the socket peer, or the last X-Forwarded-For entry when our
    own proxy sets it (TRUST_X_FORWARDED_FOR)."""
    address = request.META.get("REMOTE_ADDR") or None
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            address = forwarded[-1]
    return address


def person_label(user: User) -> str:
    name = user.get_full_name() or user.username
    return f"{name} <{user.email}>" if user.email else name


def _role(user: User | None) -> str:
    if user is None:
        return ""
    return Role.OPERATOR if is_operator(user) else user.role


def audit_record(
    *,
    action: AuditAction | str,
    request: HttpRequest | None = None,
    user: User | None = None,
    tenant: Tenant | None = None,
    detail: str = "",
    person: str = "",
) -> AuditEvent:
    """Store one audit entry. ``user`` defaults to the request's signed-in user, ``tenant`` to
    the user's current tenant; ``person`` names someone who has no User (a refused sign-in)."""
    if user is None and request is not None:
        signed_in = getattr(request, "user", None)
        user = signed_in if getattr(signed_in, "is_authenticated", False) else None
    if tenant is None and request is not None:
        tenant = getattr(request, "tenant", None)
    if tenant is None and user is not None:
        tenant = user.home_tenant
    return AuditEvent.objects.create(
        action=AuditAction(action),
        created_at=timezone.now(),
        user=user,
        person=(person or (person_label(user) if user is not None else ""))[:300],
        actor_role=_role(user),
        tenant=tenant,
        tenant_name=tenant.name if tenant is not None else "",
        source_ip=source_ip(request) if request is not None else None,
        detail=detail[:MAX_DETAIL],
    )

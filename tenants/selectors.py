"""Reads of tenants, filtered by who asks."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from portal.models import User
from portal.roles import is_staff
from portal.selectors import tenants_for_user
from tenants.models import ConnectionCheck, Tenant


def tenants_served_by(user: User) -> QuerySet[Tenant]:
    """The tenants whose page the user may see: IT staff and admins only (portal.selectors)."""
    if not is_staff(user):
        return Tenant.objects.none()
    return tenants_for_user(user)


def tenant_get_for_user(*, user: User, slug: str) -> Tenant:
    """A tenant the user serves, else 404 (never reveal another tenant exists)."""
    tenant = tenants_served_by(user).filter(slug=slug).distinct().first()
    if tenant is None:
        raise Http404("No such tenant.")
    return tenant


def latest_check(tenant: Tenant) -> ConnectionCheck | None:
    return tenant.connection_checks.order_by("-created_at", "-id").first()


def latest_checks(tenants: list[Tenant]) -> dict[int, ConnectionCheck]:
    """The newest check of each tenant, keyed on the tenant's pk, in two queries (no N+1)."""
    newest = ConnectionCheck.objects.filter(tenant=OuterRef("pk")).order_by("-created_at", "-id")
    ids = (
        Tenant.objects.filter(pk__in=[t.pk for t in tenants])
        .annotate(check_id=Subquery(newest.values("pk")[:1]))
        .values_list("check_id", flat=True)
    )
    return {c.tenant_id: c for c in ConnectionCheck.objects.filter(pk__in=[i for i in ids if i])}


def check_get_for_tenant(*, tenant: Tenant, pk: int) -> ConnectionCheck:
    check = tenant.connection_checks.filter(pk=pk).first()
    if check is None:
        raise Http404("No such check.")
    return check


def expiring_secrets(tenants: QuerySet[Tenant] | None = None) -> list[Tenant]:
    """Active tenants whose client secret expires within SECRET_EXPIRY_WARNING_DAYS (or has)."""
    horizon = timezone.localdate() + timedelta(days=settings.SECRET_EXPIRY_WARNING_DAYS)
    queryset = Tenant.objects.all() if tenants is None else tenants
    return list(
        queryset.filter(
            is_active=True, secret_expires_on__isnull=False, secret_expires_on__lte=horizon
        )
        .order_by("secret_expires_on", "name")
        .distinct()
    )


def secret_expiry_text(tenant: Tenant) -> str:
    """ "expires on 2026-09-01 (in 12 days)" / "expired on ...": for banners and /healthz."""
    if tenant.secret_expires_on is None:
        return "has no expiry date"
    days = (tenant.secret_expires_on - timezone.localdate()).days
    when = tenant.secret_expires_on.isoformat()
    if days < 0:
        return f"expired on {when}"
    if days == 0:
        return f"expires today ({when})"
    return f"expires on {when} (in {days} day{'s' if days != 1 else ''})"

"""Reads of tenants, filtered by who asks: which tenants a person works in or administers, and
the tenant scoping every view and selector uses (an object of another tenant is a 404)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.roles import Role, is_operator, is_staff
from tenants.models import ConnectionCheck, Tenant, WebhookSubscription

if TYPE_CHECKING:
    from portal.models import User


def _signed_in(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def tenants_for_user(user: Any) -> QuerySet[Tenant]:
    """The tenants a person works in (requests, directory, tenant pages).

    A role applies to the organisation that granted it. Requesters: their home tenant (the
    one they signed in from). IT staff and admins: the home tenant plus the tenants an
    operator assigned to them. Operators: every tenant. Anyone else, or an anonymous user:
    none.
    """
    if not _signed_in(user):
        return Tenant.objects.none()
    if is_operator(user):
        return Tenant.objects.all()
    active = Tenant.objects.filter(is_active=True)
    role = getattr(user, "role", "")
    if role in (Role.IT_STAFF, Role.ADMIN):
        served = user.served_tenants.values("pk")
        return active.filter(Q(pk__in=served) | Q(pk=user.home_tenant_id or 0))
    if role == Role.REQUESTER and user.home_tenant_id:
        return active.filter(pk=user.home_tenant_id)
    return Tenant.objects.none()


def admin_tenants_for_user(user: Any) -> QuerySet[Tenant]:
    """The tenants a person administers (audit log, Django admin, tenant settings).

    An admin administers their own organisation only, never a tenant they merely serve as
    IT staff; operators administer every tenant.
    """
    if not _signed_in(user):
        return Tenant.objects.none()
    if is_operator(user):
        return Tenant.objects.all()
    if getattr(user, "role", "") == Role.ADMIN and user.home_tenant_id:
        return Tenant.objects.filter(pk=user.home_tenant_id)
    return Tenant.objects.none()


def scope_to_user[M: Model](
    queryset: QuerySet[M], user: Any, tenant_field: str = "tenant"
) -> QuerySet[M]:
    """``queryset`` narrowed to rows whose ``tenant_field`` is a tenant the user serves."""
    if _signed_in(user) and is_operator(user):
        # Every tenant: no subquery of all tenants for the database to plan and join.
        return queryset.filter(**{f"{tenant_field}__isnull": False})
    return queryset.filter(**{f"{tenant_field}__in": tenants_for_user(user)})


def selectable_tenants(user: Any) -> QuerySet[Tenant]:
    """Tenants offered in the header's tenant selector (IT staff and admins only)."""
    if not is_staff(user):
        return Tenant.objects.none()
    return tenants_for_user(user).filter(is_active=True).order_by("name")


def get_object_for_user[M: Model](
    user: Any, queryset: QuerySet[M], *, tenant_field: str = "tenant", **lookup: Any
) -> M:
    """The object matching ``lookup`` if it belongs to a tenant the user serves, else 404."""
    return get_object_or_404(scope_to_user(queryset, user, tenant_field), **lookup)


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


def administers(user: Any, tenant: Tenant) -> bool:
    """May the person change the tenant's settings (an admin of its organisation, an operator)?"""
    return admin_tenants_for_user(user).filter(pk=tenant.pk).exists()


def webhook_of(tenant: Tenant) -> WebhookSubscription | None:
    """The tenant's webhook subscription, if webhooks were ever turned on."""
    return WebhookSubscription.objects.filter(tenant=tenant).first()


def receives_webhooks(tenant: Tenant) -> bool:
    """Are the tenant's webhooks on, registered and verifiable (one query)?"""
    return (
        WebhookSubscription.objects.filter(tenant=tenant, enabled=True, registered_at__isnull=False)
        .exclude(signing_key_encrypted="")
        .exists()
    )


# Most people a search term may match before a search names them in a subquery instead of a
# list of ids.
PEOPLE_LISTED = 500


def people_matching(text: str) -> list[int] | QuerySet[Any]:
    """Ids of the people whose name or e-mail contains ``text``.

    A list of ids where there are few: with it, a search is one OR of conditions on the
    searched table (requests, audit entries), each of which an index answers (trigram indexes
    on PostgreSQL), where a join to the people table in the same OR makes the database read
    every row.
    """
    found = (
        get_user_model()
        .objects.filter(
            Q(email__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
        )
        .values("pk")
    )
    ids = list(found.values_list("pk", flat=True)[: PEOPLE_LISTED + 1])
    return ids if len(ids) <= PEOPLE_LISTED else found

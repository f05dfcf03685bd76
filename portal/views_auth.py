"""Sign-in, callback, sign-out, tenant selector and the Django admin's door into them."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login, logout
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from audit.models import AuditAction
from audit.services import audit_record
from core.converters import parse_pk
from core.decorators import staff_required
from core.http import PortalRequest
from core.roles import Role
from portal import auth
from portal.backends import EntraBackend
from portal.forms import SignInStartForm
from portal.middleware import start_session_clock
from portal.models import User
from portal.selectors import SESSION_TENANT_KEY
from tenants.models import Tenant
from tenants.selectors import selectable_tenants

BACKEND = "portal.backends.EntraBackend"
# A sign-in started but not finished keeps its (anonymous) session this long.
SIGN_IN_FLOW_SECONDS = 15 * 60
SIGNED_IN_TENANT_KEY = "portal_signed_in_tenant_id"
FAILURE_STATUS = {
    auth.Reason.NO_ROLE: 403,
    auth.Reason.ACCOUNT_DISABLED: 403,
    auth.Reason.TENANT_NOT_ALLOWED: 403,
    auth.Reason.ENTRA_UNREACHABLE: 503,
    auth.Reason.TENANT_UNAVAILABLE: 503,
}


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is an absolute path on this site (no open redirect), else "".

    Only paths starting with "/" count: a bare word would be taken for a URL name by
    redirect() and fail after sign-in, leaving the person signed out.
    """
    if (
        candidate
        and candidate.startswith("/")
        and "\x00" not in candidate
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return ""


def _sign_in_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    tenants = Tenant.objects.filter(is_active=True).order_by("name")
    return render(
        request,
        "portal/sign_in.html",
        {
            "tenants": tenants,
            "next": _safe_next(request, request.POST.get("next") or request.GET.get("next")),
            "error": error,
            "signed_out": "signed_out" in request.GET,
            "break_glass": not settings.PRODUCTION,
        },
        status=status,
    )


@never_cache
@require_GET
def sign_in(request: HttpRequest) -> HttpResponse:
    """ "Choose your organisation": one button per active tenant."""
    return _sign_in_page(request)


@never_cache
@require_POST
def sign_in_start(request: HttpRequest) -> HttpResponse:
    """Start msal's auth-code flow for the chosen tenant and send the browser to Entra."""
    form = SignInStartForm(request.POST)
    tenant = (
        Tenant.objects.filter(is_active=True, slug=form.cleaned_data["tenant"]).first()
        if form.is_valid()
        else None
    )
    if tenant is None:
        return _sign_in_page(request, error="Choose your organisation from the list.", status=400)
    next_url = _safe_next(request, form.cleaned_data["next"])
    redirect_uri = request.build_absolute_uri(reverse("auth_callback"))
    try:
        auth_uri = auth.build_auth_flow(request.session, tenant, redirect_uri, next_url)
    except auth.SignInError as exc:
        return _failed(request, exc, tenant=tenant)
    if not request.user.is_authenticated:
        # An anonymous sign-in that is abandoned leaves a session row: let it expire soon
        # (portal.tasks.clear_sessions deletes it). A successful sign-in resets this.
        request.session.set_expiry(SIGN_IN_FLOW_SECONDS)
    return redirect(auth_uri)


@never_cache
@require_GET
def auth_callback(request: HttpRequest) -> HttpResponse:
    """Entra's redirect back: verify everything, then sign the person in (new session id)."""
    claims: dict[str, object] = {}
    tenant: Tenant | None = None
    if auth.SESSION_FLOW_KEY not in request.session and request.user.is_authenticated:
        # No sign-in under way: a stray or replayed link must not sign the person out.
        messages.info(request, "You are already signed in.")
        return redirect("home")
    try:
        result = auth.complete_auth_flow(request.session, request.GET.dict())
        claims, tenant = result.claims, result.tenant
        user = EntraBackend().authenticate(request, claims=result.claims, tenant=result.tenant)
        if user is None:
            raise auth.SignInError(auth.Reason.ACCOUNT_DISABLED)
    except auth.SignInError as exc:
        return _failed(request, exc, tenant=tenant, claims=claims)
    login(request, user, backend=BACKEND)  # cycles the session key
    request.session.set_expiry(None)  # back to the full session lifetime
    start_session_clock(request)
    request.session[SIGNED_IN_TENANT_KEY] = result.tenant.pk
    audit_record(
        action=AuditAction.SIGN_IN,
        request=request,
        user=user,
        tenant=result.tenant,
        detail=f"role {Role(user.role).label}",
    )
    return redirect(_safe_next(request, result.next_url) or reverse("home"))


def _failed(
    request: HttpRequest,
    error: auth.SignInError,
    *,
    tenant: Tenant | None = None,
    claims: dict[str, object] | None = None,
) -> HttpResponse:
    """Audit the failure, drop the whole session, and show a page saying what happened."""
    claims = claims or {}
    name, mail = (
        str(claims.get("name") or ""),
        str(claims.get("email") or claims.get("preferred_username") or ""),
    )
    person = f"{name} <{mail}>" if name and mail else name or mail
    user = None
    if claims.get("oid") and claims.get("tid"):
        user = User.objects.filter(
            entra_tenant_id=str(claims["tid"]), entra_object_id=str(claims["oid"])
        ).first()
    detail = error.reason.value + (f" ({error.detail})" if error.detail else "")
    audit_record(
        action=AuditAction.SIGN_IN_FAILED,
        request=request,
        user=user,
        tenant=tenant,
        person=person,
        detail=detail,
    )
    logout(request)  # flushes the session: no flow, no user, a fresh (empty) cookie
    template = (
        "portal/no_access.html"
        if error.reason == auth.Reason.NO_ROLE
        else "portal/sign_in_failed.html"
    )
    return render(
        request,
        template,
        {"reason": error.reason.value, "message": error.message, "tenant": tenant, "person": name},
        status=FAILURE_STATUS.get(error.reason, 400),
    )


@never_cache
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the portal session, then Entra's, coming back to the sign-in page."""
    if not request.user.is_authenticated:
        return redirect("sign_in")
    signed_in_from = request.session.get(SIGNED_IN_TENANT_KEY)
    tenant = (
        Tenant.objects.filter(pk=signed_in_from).first()
        if isinstance(signed_in_from, int)
        else None
    )
    tenant = tenant or getattr(request.user, "home_tenant", None)
    audit_record(action=AuditAction.SIGN_OUT, request=request, tenant=tenant)
    logout(request)
    end_session = auth.end_session_url(tenant) if tenant is not None else None
    if tenant is None or not end_session:
        return redirect(f"{reverse('sign_in')}?signed_out=1")
    back = request.build_absolute_uri(f"{reverse('sign_in')}?signed_out=1")
    query = urlencode({"post_logout_redirect_uri": back, "client_id": str(tenant.client_id)})
    return redirect(f"{end_session}?{query}")


@require_POST
@staff_required
def select_tenant(request: PortalRequest) -> HttpResponse:
    """The header's tenant selector: remembered in the session and on the user."""
    pk = parse_pk(request.POST.get("tenant"))
    if pk is None:
        raise Http404("No such tenant.")
    tenant = get_object_or_404(selectable_tenants(request.user), pk=pk)
    user = request.user
    request.session[SESSION_TENANT_KEY] = tenant.pk
    if user.selected_tenant_id != tenant.pk:
        user.selected_tenant = tenant
        user.save(update_fields=["selected_tenant"])
        audit_record(action=AuditAction.TENANT_SWITCHED, request=request, user=user, tenant=tenant)
    messages.success(request, f"You are now working in {tenant.name}.")
    target = _safe_next(request, request.POST.get("next")) or reverse("home")
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(target)  # chosen in the header's list: one action
    return redirect(target)


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """Django admin signs in through Entra. A local password form exists only outside
    production (?local=1), for the `createsuperuser` break-glass account."""
    if not settings.PRODUCTION and request.GET.get("local") == "1":
        return admin.site.login(request)
    next_url = _safe_next(request, request.GET.get("next")) or reverse("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise PermissionDenied
        return redirect(next_url)
    return redirect(f"{reverse('sign_in')}?{urlencode({'next': next_url})}")

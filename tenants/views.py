"""Tenant pages for IT staff and admins: settings at a glance and "Test connection"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from core.decorators import staff_required
from core.htmx import is_htmx_partial
from core.http import PortalRequest
from core.roles import is_operator
from tenants import jobs, selectors, services, webhooks
from tenants.forms import CREDENTIAL_PAIRS, JobCredentialsForm, UpstreamForm
from tenants.models import JobCredentials, Tenant
from upstreams.contract import SyncJob, UpstreamError, Workload


@require_GET
@staff_required
def tenant_list(request: PortalRequest) -> HttpResponse:
    tenants = list(selectors.tenants_served_by(request.user).distinct().order_by("name"))
    checks = selectors.latest_checks(tenants)
    rows = [{"tenant": t, "check": checks.get(t.pk)} for t in tenants]
    return render(request, "tenants/tenant_list.html", {"rows": rows})


def _detail(
    request: PortalRequest, tenant: Tenant, upstream_form: UpstreamForm | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "tenants/tenant_detail.html",
        {
            "tenant": tenant,
            "check": selectors.latest_check(tenant),
            "expiry_text": selectors.secret_expiry_text(tenant),
            "notices": list(tenant.notices.all()[:20]),
            "webhook": selectors.webhook_of(tenant),
            "may_administer": selectors.administers(request.user, tenant),
            "upstream_form": upstream_form,
            "workloads": list(Workload),
        },
        status=status,
    )


@require_GET
@staff_required
def tenant_detail(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    form = UpstreamForm(instance=tenant) if is_operator(request.user) else None
    return _detail(request, tenant, form)


@require_POST
@staff_required
def tenant_upstream(request: PortalRequest, slug: str) -> HttpResponse:
    """Choose what the tenant provisions through (operators, as in Django admin)."""
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    if not is_operator(request.user):
        raise PermissionDenied
    before = Tenant.objects.get(pk=tenant.pk)
    form = UpstreamForm(request.POST, instance=tenant)
    if not form.is_valid():
        return _detail(request, before, form, status=400)
    services.tenant_upstream_change(
        tenant=form.save(commit=False), before=before, user=request.user
    )
    messages.success(request, f"{tenant.name} now provisions through {tenant.upstream_label}.")
    return redirect("tenants:detail", slug=tenant.slug)


@require_POST
@staff_required
def tenant_check_start(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    check = services.connection_check_start(tenant=tenant, user=request.user)
    if is_htmx_partial(request):
        check.refresh_from_db()
        return render(
            request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check}
        )
    return redirect("tenants:detail", slug=tenant.slug)


@require_GET
@staff_required
def tenant_check_result(request: PortalRequest, slug: str, pk: int) -> HttpResponse:
    """The check fragment; htmx polls it while the check runs."""
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    check = selectors.check_get_for_tenant(tenant=tenant, pk=pk)
    return render(request, "tenants/tenant_detail.html#check", {"tenant": tenant, "check": check})


# --- Webhooks ------------------------------------------------------------------------------------


def _administered(request: PortalRequest, slug: str) -> Tenant:
    """The tenant, if the person may change its settings (404 if not served, 403 if only
    served)."""
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    if not selectors.administers(request.user, tenant):
        raise PermissionDenied
    return tenant


@require_POST
@staff_required
def webhooks_on(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = _administered(request, slug)
    try:
        webhooks.webhooks_enable(tenant=tenant, user=request.user)
    except webhooks.WebhookSetupError as error:
        messages.error(request, f"Webhooks are not on. {error.message}")
    else:
        messages.success(
            request,
            f"Webhooks are on: {tenant.upstream_label} pushes status changes to the portal, "
            "and in-flight requests are polled far less often while events keep arriving.",
        )
    return redirect("tenants:detail", slug=tenant.slug)


@require_POST
@staff_required
def webhooks_off(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = _administered(request, slug)
    outcome = webhooks.webhooks_disable(tenant=tenant, user=request.user)
    (messages.warning if outcome.warning else messages.success)(request, outcome.message)
    return redirect("tenants:detail", slug=tenant.slug)


@never_cache
@require_GET
@staff_required
def webhook_registrations(request: PortalRequest, slug: str) -> HttpResponse:
    """What the upstream holds now (a live read, loaded into the tenant page)."""
    tenant = selectors.tenant_get_for_user(user=request.user, slug=slug)
    webhook = selectors.webhook_of(tenant)
    error = ""
    rows = []
    try:
        found = webhooks.registrations(tenant)
    except UpstreamError as failure:
        error = failure.text
    else:
        ours = webhook.registered_url if webhook else ""
        rows = [
            {
                "shown": webhooks.shown_url(r.url),
                "digest": webhooks.url_digest(r.url),
                "events": r.events,
                "ours": bool(ours) and r.url == ours,
            }
            for r in found
        ]
    return render(
        request,
        "tenants/tenant_detail.html#registrations",
        {
            "tenant": tenant,
            "rows": rows,
            "error": error,
            "checked": True,
            "may_administer": selectors.administers(request.user, tenant),
        },
    )


@require_POST
@staff_required
def webhook_remove(request: PortalRequest, slug: str) -> HttpResponse:
    """Remove the registration whose URL digest was posted (pages never carry the URLs)."""
    tenant = _administered(request, slug)
    digest = request.POST.get("registration", "").strip()
    try:
        found = [
            r.url for r in webhooks.registrations(tenant) if webhooks.url_digest(r.url) == digest
        ]
        if not found:
            messages.error(request, "That registration is no longer there: nothing removed.")
            return redirect("tenants:detail", slug=tenant.slug)
        outcome = webhooks.registration_remove(tenant=tenant, url=found[0], user=request.user)
    except UpstreamError as error:
        messages.error(request, f"Not removed: {error.text}")
    else:
        messages.success(request, outcome.message)
    return redirect("tenants:detail", slug=tenant.slug)


# --- Provisioning-job credentials (seed 003) -------------------------------------------------------


def _jobs_page(
    request: PortalRequest,
    tenant: Tenant,
    form: JobCredentialsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    search = str(request.GET.get("search", "")).strip()[:100]
    found: list[SyncJob] = []
    problem = ""
    try:
        found = jobs.jobs_list(tenant=tenant, search=search)
    except UpstreamError as error:
        problem = error.text
    rows = []
    for number, job in enumerate(found):
        auto_id = f"job{number}_%s"
        initial = {"service_principal_id": job.service_principal_id, "app_name": job.app_name}
        job_form = JobCredentialsForm(initial=initial)
        if form is not None and form.data.get("service_principal_id") == job.service_principal_id:
            job_form = form  # the one sent, with its errors
        job_form.auto_id = auto_id
        rows.append((job, job_form))
    return render(
        request,
        "tenants/jobs.html",
        {
            "tenant": tenant,
            "rows": rows,
            "problem": problem,
            "search": search,
            "form": form,
            "handovers": tenant.job_credentials.select_related("started_by")[:10],
        },
        status=status,
    )


@never_cache
@require_GET
@staff_required
def provisioning_jobs(request: PortalRequest, slug: str) -> HttpResponse:
    """The tenant's provisioning jobs, live from Microsoft Graph, and their credentials."""
    return _jobs_page(request, _administered(request, slug))


@sensitive_post_parameters(*(f"value_{n}" for n in range(1, CREDENTIAL_PAIRS + 1)))
@require_POST
@staff_required
def job_credentials(request: PortalRequest, slug: str) -> HttpResponse:
    tenant = _administered(request, slug)
    form = JobCredentialsForm(request.POST)
    if not form.is_valid():
        return _jobs_page(request, tenant, form, status=400)
    handover = jobs.credentials_start(
        tenant=tenant,
        user=request.user,
        service_principal_id=form.cleaned_data["service_principal_id"],
        app_name=form.cleaned_data["app_name"],
        credentials=form.cleaned_data["credentials"],
    )
    return redirect("tenants:job_credentials_result", slug=tenant.slug, pk=handover.pk)


@never_cache
@require_GET
@staff_required
def job_credentials_result(request: PortalRequest, slug: str, pk: int) -> HttpResponse:
    """How a handover went; htmx polls the fragment while it is being sent."""
    tenant = _administered(request, slug)
    handover = get_object_or_404(JobCredentials, pk=pk, tenant=tenant)
    name = (
        "tenants/job_result.html#result" if is_htmx_partial(request) else "tenants/job_result.html"
    )
    return render(request, name, {"tenant": tenant, "handover": handover})

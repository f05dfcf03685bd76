"""Provisioning pages: the catalogue, the request form, request lists and pages, the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling
from django_q.tasks import async_task

from core.converters import parse_pk
from core.decorators import role_required, staff_required
from core.htmx import is_htmx_partial, page_or_fragment, query_without_page
from core.http import PortalRequest
from provisioning import (
    availability,
    charts,
    exports,
    naming,
    outcomes,
    selectors,
    services,
    tasks,
)
from provisioning.forms import RequestFilterForm, RequestForm, initial_for, parse_upns
from provisioning.models import FailureKind, PortalApproval, ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import State, TransitionRefused
from tenants import people
from tenants.selectors import administers, receives_webhooks, tenants_for_user
from upstreams.contract import UpstreamError

PAGE_SIZE = 25
# How often an open request page asks for news: faster where webhooks bring changes within
# seconds (the check reads the database only; the upstream is asked at most every
# PROVISIONING_POLL_MIN_INTERVAL s however many pages are open).
POLL_SECONDS = 3
POLL_SECONDS_WITH_WEBHOOKS = 1

_any_role = role_required()


# --- Catalogue ------------------------------------------------------------------------------------


@require_GET
@_any_role
def catalogue(request: PortalRequest) -> HttpResponse:
    tenant = request.tenant
    groups = selectors.catalogue_for(tenant=tenant) if tenant else []
    sync = selectors.catalogue_sync_state(tenant=tenant) if tenant else None
    return render(
        request,
        "provisioning/catalogue.html",
        {
            "tenant": tenant,
            "groups": groups,
            "sync": sync,
            "is_staff": selectors.is_staff(request.user),
            "defines_templates": bool(
                tenant and not tenant.capabilities.catalogue and administers(request.user, tenant)
            ),
        },
    )


@require_POST
@staff_required
def catalogue_refresh(request: PortalRequest) -> HttpResponse:
    """Enqueue a sync of the current tenant's catalogue from the upstream."""
    tenant = request.tenant
    if tenant is None:
        messages.error(request, "Choose a tenant first.")
    else:
        try:
            async_task(tasks.SYNC_CATALOGUE_TASK, tenant.pk)
        except UpstreamError as error:  # only when tasks run inline (tests, sync mode)
            messages.error(request, f"The catalogue could not be refreshed: {error.message}")
        else:
            messages.success(
                request,
                f"Refreshing the catalogue of {tenant.name} from {tenant.upstream_label}. Reload "
                "in a moment to see changes.",
            )
    return redirect("provisioning:catalogue")


# --- The request form -----------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@_any_role
def request_new(request: PortalRequest, template_pk: int) -> HttpResponse:
    template = selectors.template_get_for_user(user=request.user, pk=template_pk)
    user = request.user
    source: ProvisioningRequest | None = None
    source_pk = parse_pk(request.POST.get("cloned_from") or request.GET.get("clone"))
    if source_pk is not None:
        source = selectors.request_get_for_user(user=request.user, pk=source_pk)
        if source.template_id != template.pk:
            source = None
    upstream_errors = (
        source.field_errors if source and isinstance(source.field_errors, dict) else {}
    )
    if request.method == "POST":
        form = RequestForm(request.POST, template=template)
        already = services.submitted_with(
            requested_by=user, submission_key=str(request.POST.get("submission_key", ""))
        )
        if already is not None:
            return _already_submitted(request, already)
        if form.is_valid():
            try:
                created, new = services.request_submit_once(
                    submission_key=form.cleaned_data["submission_key"],
                    tenant=template.tenant,
                    template=template,
                    requested_by=user,
                    data=form.to_request_data(),
                    cloned_from=source,
                )
            except (ValidationError, TransitionRefused) as error:
                form.add_error(
                    None, error.messages if isinstance(error, ValidationError) else str(error)
                )
            else:
                if not new:
                    return _already_submitted(request, created)
                messages.success(request, "Your request is submitted. This page follows it live.")
                return redirect("provisioning:request_detail", pk=created.pk)
    else:
        data = RequestData.from_dict(source.form_data) if source and source.form_data else None
        form = RequestForm(
            initial=initial_for(template, requester_upn=user.upn or user.email, data=data),
            template=template,
            upstream_errors=upstream_errors,
        )
    return render(
        request,
        "provisioning/request_form.html",
        {
            "template": template,
            "form": form,
            "source": source,
            "names": naming.final_names(
                template.template_rules,
                str(form["display_name"].value() or ""),
                str(form["desired_url"].value() or "") if "desired_url" in form.fields else "",
            ),
        },
    )


def _already_submitted(request: PortalRequest, item: ProvisioningRequest) -> HttpResponse:
    """A second POST of one form (double click, resubmit, Back): the request it already made."""
    messages.info(
        request,
        "This form was already submitted: here is the request it made. "
        "To ask for another workspace, start a new request.",
    )
    return redirect("provisioning:request_detail", pk=item.pk)


def _typed(request: PortalRequest) -> tuple[str, str]:
    return request.GET.get("display_name", "")[:256], request.GET.get("desired_url", "")[:100]


def _form_fragment(
    view: Callable[[PortalRequest, Template], HttpResponseBase],
) -> Callable[[PortalRequest, int], HttpResponseBase]:
    """A live part of the request form (htmx): the view gets the template the person may
    use; a plain request goes to the form itself."""

    @wraps(view)
    def wrapper(request: PortalRequest, template_pk: int) -> HttpResponseBase:
        template = selectors.template_get_for_user(user=request.user, pk=template_pk)
        if not is_htmx_partial(request):
            return redirect("provisioning:request_new", template_pk=template.pk)
        return view(request, template)

    return wrapper


@require_GET
@_any_role
@_form_fragment
def request_preview(request: PortalRequest, template: Template) -> HttpResponseBase:
    """The final name, URL and alias for what is typed (htmx fragment of the form)."""
    display_name, desired_url = _typed(request)
    names = naming.final_names(template.template_rules, display_name, desired_url)
    return render(
        request, "provisioning/request_form.html#preview", {"template": template, "names": names}
    )


@require_GET
@_any_role
@_form_fragment
def request_availability(request: PortalRequest, template: Template) -> HttpResponseBase:
    """Whether the final name (or site URL) is free upstream (htmx fragment of the form)."""
    display_name, desired_url = _typed(request)
    result = (
        availability.check(template, display_name, desired_url) if display_name.strip() else None
    )
    return render(
        request,
        "provisioning/request_form.html#availability",
        {"template": template, "result": result},
    )


PEOPLE_FIELDS = ("owners", "members")


def _people_field(request: PortalRequest) -> str:
    field = request.GET.get("field", "")
    return field if field in PEOPLE_FIELDS else "owners"


@require_GET
@_any_role
@_form_fragment
def request_people(request: PortalRequest, template: Template) -> HttpResponseBase:
    """People of the template's tenant matching what is typed (the picker, htmx fragment)."""
    field = _people_field(request)
    text = request.GET.get(f"{field}_search", "")[:100]
    return render(
        request,
        "provisioning/request_form.html#people_results",
        {
            "found": people.search(template.tenant, text),
            "typed": text.strip(),
            "field": field,
            "owners": field == "owners",
        },
    )


@require_GET
@_any_role
@_form_fragment
def request_people_check(request: PortalRequest, template: Template) -> HttpResponseBase:
    """The preflight of the people typed in one field (htmx fragment next to it)."""
    field = _people_field(request)
    upns = parse_upns(request.GET.get(field, "")[:20000])
    findings = people.check(template.tenant, upns[:200], owners=field == "owners")
    return render(
        request,
        "provisioning/request_form.html#people_check",
        {"findings": findings, "checked": len(upns), "field": field},
    )


# --- Portal approvals -----------------------------------------------------------------------------


@never_cache
@require_GET
@_any_role
def approvals(request: PortalRequest) -> HttpResponse:
    """The approver's queue: stages waiting for the person's decision."""
    return render(
        request, "provisioning/approvals.html", {"waiting": services.waiting_on(request.user)}
    )


@require_POST
@_any_role
def approval_decide(request: PortalRequest, pk: int) -> HttpResponseBase:
    """Approve or reject a waiting stage with a comment (a rejection needs one), from the
    request page or the approver's queue (``next=queue``)."""
    approval = get_object_or_404(PortalApproval.objects.select_related("request"), pk=pk)
    item = selectors.request_get_for_user(user=request.user, pk=approval.request_id)
    back = (
        redirect("provisioning:approvals")
        if request.POST.get("next") == "queue"
        else redirect("provisioning:request_detail", pk=item.pk)
    )
    approve = request.POST.get("decision") == "approve"
    comment = request.POST.get("comment", "")
    if not approve and not comment.strip():
        messages.error(request, "Say why you reject it: the requester reads your comment.")
        return back
    try:
        services.approval_decide(
            approval=approval, user=request.user, approve=approve, comment=comment
        )
    except TransitionRefused as error:
        messages.error(request, str(error))
    else:
        word = "approved" if approve else "rejected"
        messages.success(request, f"Stage {approval.stage} of “{item.final_name}” {word}.")
    return back


# --- Lists ----------------------------------------------------------------------------------------


def _page(
    request: PortalRequest, requests: QuerySet[ProvisioningRequest]
) -> Page[ProvisioningRequest]:
    return Paginator(selectors.for_list(requests), PAGE_SIZE).get_page(request.GET.get("page"))


@never_cache
@require_GET
@_any_role
def request_list_mine(request: PortalRequest) -> HttpResponse:
    page = _page(request, selectors.request_list_mine(user=request.user))
    context = {"page": page, "query": "", "title": "My requests", "show_requester": False}
    return render(request, page_or_fragment(request, "provisioning/request_list.html"), context)


def _filtered(
    request: PortalRequest,
) -> tuple[RequestFilterForm, QuerySet[ProvisioningRequest]]:
    user = request.user
    form = RequestFilterForm.for_request(request)
    requests = selectors.request_list_for_staff(user=user)
    if form.is_valid():
        requests = selectors.request_filter(requests, form.cleaned_data)
    else:
        requests = requests.none()
    return form, requests


@never_cache
@require_GET
@staff_required
def request_list_all(request: PortalRequest) -> HttpResponse:
    form, requests = _filtered(request)
    context = {
        "page": _page(request, requests),
        "form": form,
        "query": query_without_page(request),
        "title": "All requests",
        "show_requester": True,
    }
    return render(request, page_or_fragment(request, "provisioning/request_list.html"), context)


@never_cache
@require_GET
@staff_required
def request_export(request: PortalRequest) -> HttpResponseBase:
    _form, requests = _filtered(request)
    return exports.request_csv_response(requests)


# --- One request ----------------------------------------------------------------------------------


def _what_was_requested(item: ProvisioningRequest) -> list[tuple[str, str]]:
    """The request as the person filled it in, as (label, value) rows for the request page."""
    data = RequestData.from_dict(item.form_data if isinstance(item.form_data, dict) else {})
    rows = [
        ("Description", data.description),
        ("Desired URL or alias", data.desired_url),
        (
            "Privacy",
            "" if data.is_private is None else ("Private" if data.is_private else "Public"),
        ),
        ("Owners", ", ".join(data.owners)),
        ("Members", ", ".join(data.members)),
    ]
    for name, value in data.metadata.items():
        shown = ("Yes" if value else "No") if isinstance(value, bool) else str(value)
        rows.append((name, shown))
    rows.append(("Comment", data.comment))
    return [(label, value) for label, value in rows if value]


def _detail_context(request: PortalRequest, item: ProvisioningRequest) -> dict[str, object]:
    user = request.user
    may_act = selectors.may_act_on(user, item)
    staff = selectors.is_staff(user)
    process, stages = selectors.upstream_stages(item)
    approvals = list(item.portal_approvals.select_related("decided_by"))
    field_errors = item.field_errors if isinstance(item.field_errors, dict) else {}
    # The form's labels name the fields an upstream refused; building the form costs more than
    # the rest of the page, so only when there is something to name.
    labels = (
        {
            name: str(field.label)
            for name, field in RequestForm(template=item.template).fields.items()
        }
        if field_errors
        else {}
    )
    return {
        "item": item,
        "field_errors": [
            (labels.get(name, "Request"), message)
            for name, messages_ in field_errors.items()
            for message in messages_
        ],
        "requested": _what_was_requested(item),
        "events": item.events.select_related("actor").order_by("at", "id"),
        "can_retry": may_act and outcomes.retry_may_help(item, staff=staff),
        "user_is_staff": staff,
        "outcome": outcomes.plain_outcome(item),
        "can_fix": item.state == State.FAILED
        and may_act
        and (item.failure_kind == FailureKind.INVALID or bool(field_errors)),
        "can_cancel": item.state in (State.SUBMITTED, State.PORTAL_APPROVAL) and may_act,
        "portal_approvals": approvals,
        "upstream_process": process,
        "upstream_stages": stages,
        "may_decide": [a.pk for a in approvals if services.may_decide(user, a)],
        "can_send_again": staff and services.may_send_again(item),
        "resubmitted_as": selectors.resubmissions(user=user, item=item),
        "named_as": [] if item.requested_by_id == user.pk else selectors.named_as(user, item),
        "poll_seconds": POLL_SECONDS_WITH_WEBHOOKS
        if receives_webhooks(item.tenant)
        else POLL_SECONDS,
    }


@never_cache
@require_GET
@_any_role
def request_detail(request: PortalRequest, pk: int) -> HttpResponse:
    item = selectors.request_get_for_user(user=request.user, pk=pk)
    return render(request, "provisioning/request_detail.html", _detail_context(request, item))


@never_cache
@require_GET
@_any_role
def request_status(request: PortalRequest, pk: int) -> HttpResponseBase:
    """The live part of the request page; htmx polls it and stops (286) once the state is final."""
    item = selectors.request_get_for_user(user=request.user, pk=pk)
    if not is_htmx_partial(request):
        return redirect("provisioning:request_detail", pk=item.pk)
    if services.request_watched(item=item):
        item.refresh_from_db()  # tasks run inline in tests; a worker answers the next poll
    context = _detail_context(request, item)
    # Once the request is over, the banners of the page's first load ("submitted") are stale.
    context["clear_messages"] = item.is_final
    response = render(request, "provisioning/request_detail.html#live", context)
    if item.is_final:
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response


def _after_action(request: PortalRequest, item: ProvisioningRequest) -> HttpResponseBase:
    url = reverse("provisioning:request_detail", kwargs={"pk": item.pk})
    return HttpResponseClientRedirect(url) if is_htmx_partial(request) else redirect(url)


def _request_action(
    request: PortalRequest, pk: int, action: Callable[..., ProvisioningRequest], done: str
) -> HttpResponseBase:
    """Run a retry or cancel service on a request the person may see; say how it went."""
    item = selectors.request_get_for_user(user=request.user, pk=pk)
    if not selectors.may_act_on(request.user, item):
        raise PermissionDenied  # named on it as owner or member: they follow it, read-only
    try:
        action(item=item, actor=request.user)
    except TransitionRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done)
    return _after_action(request, item)


@require_POST
@_any_role
def request_retry(request: PortalRequest, pk: int) -> HttpResponseBase:
    return _request_action(
        request, pk, services.request_retry, "Sent again. This page follows it live."
    )


@require_POST
@_any_role
def request_cancel(request: PortalRequest, pk: int) -> HttpResponseBase:
    return _request_action(request, pk, services.request_cancel, "The request is cancelled.")


@require_POST
@staff_required
def request_send_again(request: PortalRequest, pk: int) -> HttpResponseBase:
    """IT staff checked the upstream and found nothing: send a confirming request again."""
    return _request_action(
        request, pk, services.request_send_again, "Sent again. This page follows it live."
    )


@require_GET
@_any_role
def request_clone(request: PortalRequest, pk: int) -> HttpResponseBase:
    """ "Request another like this" / "Fix and resubmit": the form, filled from this request."""
    item = selectors.request_get_for_user(user=request.user, pk=pk)
    template = item.template
    if not template.offered:
        messages.error(
            request, "The template of this request is no longer offered. Choose another one."
        )
        return redirect("provisioning:catalogue")
    return redirect(
        f"{reverse('provisioning:request_new', kwargs={'template_pk': template.pk})}?clone={item.pk}"
    )


# --- Dashboard ------------------------------------------------------------------------------------


@never_cache
@require_GET
@staff_required
def dashboard(request: PortalRequest) -> HttpResponse:
    user = request.user
    served = list(tenants_for_user(user).values_list("pk", flat=True))
    everywhere = request.GET.get("scope") == "all"
    tenant = request.tenant
    shown = served if everywhere or tenant is None else [pk for pk in served if pk == tenant.pk]
    numbers = selectors.dashboard_cached(tenants=shown, fresh=request.GET.get("fresh") == "1")
    chart = charts.bar_chart(
        numbers.per_day,
        title="Requests per day, last 30 days",
        desc=f"{sum(n for _, n in numbers.per_day)} requests in 30 days; the table below lists each day.",
        chart_id="per-day",
    )
    return render(
        request,
        "provisioning/dashboard.html",
        {
            "numbers": numbers,
            "chart": chart,
            "everywhere": everywhere,
            "tenant": tenant,
            "served_count": len(served),
        },
    )

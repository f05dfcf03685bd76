"""Templates the portal defines, for a tenant whose upstream has no catalogue (GT365, Graph).

Admins of the tenant's organisation (and operators) define and change them; everyone else
only requests with them from the catalogue.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from core.decorators import staff_required
from core.http import PortalRequest
from provisioning import services
from provisioning.forms import TemplateDefinitionForm
from provisioning.models import PORTAL_TEMPLATE_PREFIX, Template
from tenants.models import Tenant
from tenants.selectors import administers


def _defining_tenant(request: PortalRequest) -> Tenant:
    """The header's tenant, if its templates are defined here and the person administers it."""
    tenant = request.tenant
    if tenant is None:
        raise Http404("Choose a tenant first.")
    if not administers(request.user, tenant):
        raise PermissionDenied
    if tenant.capabilities.catalogue:
        raise Http404(f"{tenant.upstream_label} has its own catalogue.")
    return tenant


def _definition(form: TemplateDefinitionForm) -> services.TemplateDefinition:
    data = form.cleaned_data
    return services.TemplateDefinition(
        name=data["name"],
        workload=data["workload"],
        description=data["description"],
        help_text=data["help_text"],
        naming_prefix=data["naming_prefix"],
        naming_suffix=data["naming_suffix"],
        privacy=data["privacy"],
        owners_min=data["owners_min"],
        owners_max=data.get("owners_max"),
        classifications=tuple(data.get("classifications") or ()),
        terms=data["terms"],
        hidden=data["hidden"],
    )


@require_http_methods(["GET", "POST"])
@staff_required
def template_define(request: PortalRequest, pk: int | None = None) -> HttpResponse:
    tenant = _defining_tenant(request)
    template = None
    if pk is not None:
        template = get_object_or_404(
            Template, pk=pk, tenant=tenant, upstream_id__startswith=PORTAL_TEMPLATE_PREFIX
        )
    initial = TemplateDefinitionForm.initial_from(template) if template else None
    form = TemplateDefinitionForm(request.POST or None, tenant=tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = services.template_define(
            user=request.user, tenant=tenant, definition=_definition(form), template=template
        )
        messages.success(request, f"Template {saved.name} saved.")
        return redirect("provisioning:catalogue")
    return render(
        request,
        "provisioning/template_form.html",
        {"form": form, "tenant": tenant, "template": template},
    )

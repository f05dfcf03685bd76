"""Bulk requests for IT staff: upload a CSV for one template, see each row checked, submit the
accepted rows once each, download the results."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.converters import parse_pk
from core.csv_export import cell, csv_response
from core.decorators import staff_required
from core.http import PortalRequest
from provisioning import bulk, selectors, services
from provisioning.models import Template


class BulkForm(forms.Form):
    template = forms.ModelChoiceField(queryset=Template.objects.none(), empty_label=None)
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, at most 500 rows.")

    def __init__(self, *args: Any, templates: QuerySet[Template], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = templates


def _templates(request: PortalRequest) -> QuerySet[Template]:
    tenant = request.tenant
    if tenant is None:
        return Template.objects.none()
    return selectors.template_list_offered(tenant=tenant)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required
def bulk_new(request: PortalRequest) -> HttpResponse:
    form = BulkForm(request.POST or None, request.FILES or None, templates=_templates(request))
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        template = form.cleaned_data["template"]
        raw = upload_file.read(bulk.MAX_BYTES + 1)
        try:
            upload, ignored = services.bulk_upload(
                template=template, user=request.user, raw=raw, filename=upload_file.name or ""
            )
        except bulk.BulkFileError as error:
            form.add_error("file", str(error))
        else:
            if ignored:
                messages.warning(
                    request, f"Ignored columns this template does not have: {', '.join(ignored)}."
                )
            return redirect("provisioning:bulk_detail", pk=upload.pk)
    return render(request, "provisioning/bulk.html", {"form": form, "tenant": request.tenant})


@never_cache
@require_GET
@staff_required
def bulk_blank(request: PortalRequest) -> HttpResponse:
    """The header row of a template's CSV."""
    pk = parse_pk(request.GET.get("template"))
    template = selectors.template_get_for_user(user=request.user, pk=pk or 0)
    response = HttpResponse(bulk.blank_csv(template), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="requests-template-{template.pk}.csv"'
    return response


@never_cache
@require_GET
@staff_required
def bulk_detail(request: PortalRequest, pk: int) -> HttpResponse:
    upload = selectors.bulk_upload_get_for_user(user=request.user, pk=pk)
    results = services.bulk_results(upload)
    valid = sum(1 for r in results if not r.errors)
    submitted = sum(1 for r in results if r.request is not None)
    return render(
        request,
        "provisioning/bulk_detail.html",
        {
            "upload": upload,
            "results": results,
            "valid": valid,
            "submitted": submitted,
            "remaining": valid - submitted,
        },
    )


@require_POST
@staff_required
def bulk_submit(request: PortalRequest, pk: int) -> HttpResponse:
    upload = selectors.bulk_upload_get_for_user(user=request.user, pk=pk)
    created = services.bulk_submit(upload=upload)
    if created:
        messages.success(request, f"{created} request{'s' if created != 1 else ''} submitted.")
    else:
        messages.info(request, "Nothing more to submit: every accepted row is already a request.")
    return redirect("provisioning:bulk_detail", pk=upload.pk)


@never_cache
@require_GET
@staff_required
def bulk_export(request: PortalRequest, pk: int) -> HttpResponseBase:
    """Per-row results as CSV."""
    upload = selectors.bulk_upload_get_for_user(user=request.user, pk=pk)
    rows: list[list[str]] = [["row", "name", "result", "request", "state", "problems"]]
    for result in services.bulk_results(upload):
        item = result.request
        problems = "; ".join(f"{label}: {' '.join(msgs)}" for label, msgs in result.errors.items())
        outcome = "submitted" if item else ("refused" if result.errors else "not submitted yet")
        rows.append(
            [
                cell(v)
                for v in (
                    result.row,
                    result.name,
                    outcome,
                    item.pk if item else "",
                    item.get_state_display() if item else "",
                    problems,
                )
            ]
        )
    return csv_response(rows, f"bulk-{upload.pk}-results.csv")

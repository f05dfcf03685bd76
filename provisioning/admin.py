"""Django admin: requests with their (read-only) timeline, events, and the template catalogue."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.roles import is_admin
from provisioning.forms import parse_upns
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.services.approvals import MAX_STAGES
from tenants.admin_scoping import TenantScopedAdmin, tenant_filter


class RequestEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    fields = ["at", "source", "from_state", "to_state", "detail", "actor"]
    readonly_fields = ["at", "source", "from_state", "to_state", "detail", "actor"]
    ordering = ["at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RequestEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The request itself was already scoped to the admin's organisation.
        return is_admin(request.user)


@admin.register(ProvisioningRequest)
class ProvisioningRequestAdmin(TenantScopedAdmin):
    list_display = [
        "id",
        "final_name",
        "workload",
        "state",
        "tenant",
        "template",
        "requested_by",
        "created_at",
    ]
    list_filter = [tenant_filter(), "state", "workload"]
    search_fields = [
        "display_name",
        "final_name",
        "upstream_id",
        "requested_by__email",
        "requested_by__first_name",
    ]
    list_select_related = ["tenant", "template", "requested_by"]
    date_hierarchy = "created_at"
    raw_id_fields = ["template", "requested_by", "cloned_from"]
    inlines = [RequestEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "tenant",
                    "template",
                    "workload",
                    "requested_by",
                    "display_name",
                    "final_name",
                    "cloned_from",
                ]
            },
        ),
        (
            "State",
            {
                "fields": [
                    "state",
                    "upstream_id",
                    "upstream_status",
                    "progress",
                    "workspace_url",
                    "workspace_id",
                    "error_message",
                    "failure_kind",
                    "field_errors_pretty",
                    "correlation_id",
                ]
            },
        ),
        (
            "Sending and polling",
            {
                "fields": [
                    "idempotency_key",
                    "send_attempts",
                    "send_started_at",
                    "maybe_sent",
                    "accepted_at",
                    "resend_approved",
                    "workspaces_before",
                    "next_poll_at",
                    "poll_interval",
                    "last_polled_at",
                ]
            },
        ),
        ("Data", {"fields": ["form_data_pretty"]}),
        ("Dates", {"fields": ["created_at", "updated_at", "finished_at"]}),
    ]
    # Everything shown is read-only: requests change only through the portal's services.
    readonly_fields = [str(name) for _, options in fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests are made through the portal's form

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProvisioningRequest]:
        return (
            super()
            .get_queryset(request)
            .select_related("tenant", "template", "requested_by", "cloned_from")
        )

    @admin.display(description="Field errors")
    def field_errors_pretty(self, obj: ProvisioningRequest) -> str:
        return _pretty(obj.field_errors)

    @admin.display(description="Form data")
    def form_data_pretty(self, obj: ProvisioningRequest) -> str:
        return _pretty(obj.form_data)


@admin.register(RequestEvent)
class RequestEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    tenant_field = "request__tenant"
    list_display = ["at", "request", "source", "from_state", "to_state", "actor"]
    list_filter = ["source", "to_state"]
    search_fields = ["request__final_name", "request__upstream_id", "detail"]
    list_select_related = ["request", "actor"]
    raw_id_fields = ["request", "actor"]


STAGE_KINDS = [
    ("", "No stage"),
    ("group", "Named approvers"),
    ("it_staff", "IT staff of the tenant"),
    ("manager", "The requester's manager"),
]


def _kind_field(number: int) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=f"Approval stage {number}",
        choices=STAGE_KINDS,
        required=False,
        help_text="Runs in the portal before anything is sent upstream." if number == 1 else "",
    )


def _approvers_field(number: int) -> forms.CharField:
    return forms.CharField(
        label=f"Stage {number} approvers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Named approvers: user names, one per line; any one of them decides.",
    )


class TemplateStagesForm(forms.ModelForm):
    """Up to three portal approval stages, run before a request is sent upstream (stored in
    ``Template.portal_stages``; see provisioning/services/approvals.py)."""

    stage_1_kind = _kind_field(1)
    stage_1_approvers = _approvers_field(1)
    stage_2_kind = _kind_field(2)
    stage_2_approvers = _approvers_field(2)
    stage_3_kind = _kind_field(3)
    stage_3_approvers = _approvers_field(3)

    class Meta:
        model = Template
        fields = ["hidden", "help_text"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stages = self.instance.portal_stages if self.instance.pk else []
        for number, stage in enumerate(stages[:MAX_STAGES], start=1):
            self.fields[f"stage_{number}_kind"].initial = stage.get("kind", "")
            self.fields[f"stage_{number}_approvers"].initial = "\n".join(
                stage.get("approvers") or []
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        stages: list[dict[str, Any]] = []
        for number in range(1, MAX_STAGES + 1):
            kind = data.get(f"stage_{number}_kind") or ""
            approvers = parse_upns(str(data.get(f"stage_{number}_approvers") or ""))
            if not kind:
                if approvers:
                    self.add_error(f"stage_{number}_kind", "Choose who approves this stage.")
                continue
            if len(stages) != number - 1:
                self.add_error(f"stage_{number}_kind", "Fill the stages in order, from stage 1.")
            if kind == "manager":
                self.add_error(
                    f"stage_{number}_kind",
                    "The portal cannot tell who a requester's manager is yet (neither Point "
                    "nor its directory snapshots say): choose named approvers or IT staff.",
                )
                continue
            if kind == "group":
                bad = [a for a in approvers if "@" not in a]
                if not approvers or bad:
                    self.add_error(
                        f"stage_{number}_approvers",
                        "Name at least one approver by user name (name@domain)."
                        if not approvers
                        else f"Not user names: {', '.join(bad)}.",
                    )
                    continue
            named = [a.lower() for a in approvers] if kind == "group" else []
            stages.append({"kind": kind, "approvers": named})
        self.instance.portal_stages = stages
        return data


@admin.register(Template)
class TemplateAdmin(TenantScopedAdmin):
    """Synced from the upstream: only `hidden` and `help_text` are the portal's own (an
    organisation's admin may change them for their own tenant)."""

    admins_may_change = True
    form = TemplateStagesForm
    list_display = [
        "name",
        "workload",
        "tenant",
        "approval",
        "portal_stage_count",
        "hidden",
        "removed_upstream",
        "synced_at",
        "changed_at",
    ]
    list_filter = [tenant_filter(), "workload", "hidden", "removed_upstream"]
    list_editable = ["hidden"]
    search_fields = ["name", "description", "upstream_id"]
    list_select_related = ["tenant"]
    fields = [
        "name",
        "tenant",
        "workload",
        "upstream_id",
        "description",
        "approval",
        "hidden",
        "help_text",
        *[f"stage_{n}_{part}" for n in range(1, MAX_STAGES + 1) for part in ("kind", "approvers")],
        "removed_upstream",
        "synced_at",
        "changed_at",
        "content_hash",
        "definition_pretty",
    ]
    readonly_fields = [
        "name",
        "tenant",
        "workload",
        "upstream_id",
        "description",
        "approval",
        "removed_upstream",
        "synced_at",
        "changed_at",
        "content_hash",
        "definition_pretty",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # templates come from the upstream's catalogue sync

    @admin.display(description="Portal stages")
    def portal_stage_count(self, obj: Template) -> int:
        return len(obj.portal_stages or [])

    @admin.display(description="Definition")
    def definition_pretty(self, obj: Template) -> str:
        return _pretty(obj.definition)


def _pretty(value: Any) -> str:
    return format_html(
        '<pre class="admin-json">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
    )

"""Django admin: requests with their (read-only) timeline, events, and the template catalogue."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.roles import is_admin
from provisioning.models import ProvisioningRequest, RequestEvent, Template
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


@admin.register(Template)
class TemplateAdmin(TenantScopedAdmin):
    """Synced from the upstream: only `hidden` and `help_text` are the portal's own (an
    organisation's admin may change them for their own tenant)."""

    admins_may_change = True
    list_display = [
        "name",
        "workload",
        "tenant",
        "approval",
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

    @admin.display(description="Definition")
    def definition_pretty(self, obj: Template) -> str:
        return _pretty(obj.definition)


def _pretty(value: Any) -> str:
    return format_html(
        '<pre class="admin-json">{}</pre>',
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False),
    )

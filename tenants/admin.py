"""Django admin for tenants: write-only secret, last check, "Test connection"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from tenants import selectors, services
from tenants.forms import TenantAdminForm
from tenants.models import Tenant

# What a token depends on: a change here makes cached tokens and apps unusable.
CREDENTIAL_FIELDS = {"entra_tenant_id", "client_id", "point_app_id", "point_base_url"}


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ["name", "slug", "is_active", "secret_expires_on", "last_check"]
    list_filter = ["is_active", "provider"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["secret_status", "last_check", "created_at", "updated_at"]
    actions = ["test_connection"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "provider", "is_active"]}),
        ("Entra ID app registration", {
            "fields": ["entra_tenant_id", "client_id", "secret_status", "client_secret",
                       "secret_expires_on"],
        }),
        ("Point API", {"fields": ["point_base_url", "point_app_id"]}),
        ("Status", {"fields": ["last_check", "created_at", "updated_at"]}),
    ]

    @admin.display(description="Client secret")
    def secret_status(self, obj: Tenant) -> str:
        if not obj.pk or not obj.has_client_secret:
            return "Not set"
        if obj.secret_expires_on:
            return f"Set (stored encrypted); {selectors.secret_expiry_text(obj)}"
        return "Set (stored encrypted); expiry date unknown"

    @admin.display(description="Last connection check")
    def last_check(self, obj: Tenant) -> str:
        check = selectors.latest_check(obj) if obj.pk else None
        if check is None:
            return "Never tested"
        return f"{check.summary} ({timezone.localtime(check.created_at):%Y-%m-%d %H:%M})"

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        secret = form.cleaned_data.get("client_secret")
        changed = change and bool(CREDENTIAL_FIELDS & set(form.changed_data))
        super().save_model(request, obj, form, change)
        if secret:
            services.tenant_set_secret(
                tenant=obj, secret=secret, expires_on=obj.secret_expires_on, user=request.user  # type: ignore[arg-type]
            )
        elif changed:
            services.credentials_changed(tenant=obj, user=request.user)  # type: ignore[arg-type]

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.connection_check_start(tenant=tenant, user=request.user)  # type: ignore[arg-type]
        self.message_user(
            request,
            f"Connection test started for {queryset.count()} tenant(s); the result shows under "
            "\"Last connection check\" and on the tenant page.",
            messages.SUCCESS,
        )

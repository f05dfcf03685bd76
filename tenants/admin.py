"""Django admin for tenants: write-only secret, last check, "Test connection".

Where a tenant connects (Entra ids, client secret, Point URL and app id, upstream, slug,
active) is an operator's decision and audited; an organisation's admin sees their own
tenant here and may change its display name and the secret's recorded expiry date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.roles import is_operator
from tenants import selectors, services, webhooks
from tenants.admin_scoping import TenantScopedAdmin
from tenants.forms import TenantAdminForm
from tenants.models import Tenant

if TYPE_CHECKING:
    from portal.models import User

# What a token depends on: a change here makes cached tokens and apps unusable.
CREDENTIAL_FIELDS = {"entra_tenant_id", "client_id", "point_app_id", "api_url"}
# Changed by operators only (with the secret), each change audited.
OPERATOR_FIELDS = [*sorted(CREDENTIAL_FIELDS), "provider", "slug", "is_active"]
# What an organisation's admin may change on their own tenant.
ADMIN_FIELDS = ["name", "secret_expires_on"]


def _person(request: HttpRequest) -> User:
    """The signed-in person of a Django admin page (the admin site lets in staff only)."""
    return cast("User", request.user)


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = "pk"
    admins_may_change = True
    form = TenantAdminForm
    list_display = ["name", "slug", "provider", "is_active", "secret_expires_on", "last_check"]
    list_filter = ["is_active", "provider"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["secret_status", "last_check", "webhooks", "created_at", "updated_at"]
    actions = ["test_connection", "turn_webhooks_on", "turn_webhooks_off"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        (
            "Entra ID app registration",
            {
                "fields": [
                    "entra_tenant_id",
                    "client_id",
                    "secret_status",
                    "client_secret",
                    "secret_expires_on",
                ],
            },
        ),
        ("Upstream", {"fields": ["provider", "api_url", "point_app_id"]}),
        ("Status", {"fields": ["last_check", "webhooks", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_operator(request.user):
            return self.readonly_fields
        return [*self.readonly_fields, *OPERATOR_FIELDS]

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict[str, Any]:
        return dict(self.prepopulated_fields) if is_operator(request.user) else {}

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_operator(request.user):
            return self.fieldsets
        # The write-only secret is not a model field, so it cannot be read-only: leave it out.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "client_secret"]})
            for name, options in self.fieldsets
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if not is_operator(request.user):
            form.base_fields.pop("client_secret", None)  # a fresh class per call: safe to change
        return form

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

    @admin.display(description="Webhooks")
    def webhooks(self, obj: Tenant) -> str:
        sub = selectors.webhook_of(obj) if obj.pk else None
        if sub is None or not sub.enabled:
            return "Off (the portal polls); turn on with the action of the tenant list"
        if not sub.receiving:
            return f"On, not receiving: {sub.last_error or 'not registered'}"
        last = (
            f"last event {timezone.localtime(sub.last_event_at):%Y-%m-%d %H:%M}"
            if sub.last_event_at
            else "no event yet"
        )
        return f"On since {timezone.localtime(sub.registered_at):%Y-%m-%d %H:%M}; {last}"

    @admin.action(description="Turn webhooks on (register with the upstream)")
    def turn_webhooks_on(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            try:
                webhooks.webhooks_enable(tenant=tenant, user=_person(request))
            except webhooks.WebhookSetupError as error:
                self.message_user(request, f"{tenant.name}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{tenant.name}: webhooks are on.", messages.SUCCESS)

    @admin.action(description="Turn webhooks off (remove the registration)")
    def turn_webhooks_off(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            outcome = webhooks.webhooks_disable(tenant=tenant, user=_person(request))
            level = messages.WARNING if outcome.warning else messages.SUCCESS
            self.message_user(request, f"{tenant.name}: {outcome.message}", level)

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        secret = form.cleaned_data.get("client_secret") if is_operator(request.user) else ""
        before = Tenant.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        services.tenant_settings_changed(
            tenant=obj,
            before=before,
            changed=list(form.changed_data),
            user=_person(request),
        )
        if change and {"api_url", "point_app_id", "provider"} & set(form.changed_data):
            self.message_user(
                request,
                f"{obj.name} now reaches another {obj.upstream_label}: its template catalogue is "
                "being read again from there, and requests still in flight are followed there "
                "from now on.",
                messages.WARNING,
            )
        if secret:
            services.tenant_set_secret(
                tenant=obj,
                secret=secret,
                expires_on=obj.secret_expires_on,
                user=_person(request),
            )

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.connection_check_start(tenant=tenant, user=_person(request))
        self.message_user(
            request,
            f"Connection test started for {queryset.count()} tenant(s); the result shows under "
            '"Last connection check" and on the tenant page.',
            messages.SUCCESS,
        )

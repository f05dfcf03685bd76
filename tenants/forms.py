"""Forms of tenants. The client secret is write-only: never rendered back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import URLValidator

from tenants.models import Tenant


class TenantAdminForm(forms.ModelForm):
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The secret's Value from Entra ID > App registrations > Certificates & secrets. "
        "Write-only: it is stored encrypted and never shown. Leave blank to keep the stored one.",
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "provider",
            "is_active",
            "entra_tenant_id",
            "client_id",
            "client_secret",
            "secret_expires_on",
            "api_url",
            "point_app_id",
        ]

    def clean_api_url(self) -> str:
        value: str = self.cleaned_data["api_url"].strip()
        schemes = ["https", "http"] if settings.DEMO_MODE else ["https"]
        URLValidator(
            schemes=schemes, message="Enter a full URL, e.g. https://contoso.syskit365demo.com."
        )(value)
        value = value.rstrip("/")
        if value.lower().endswith("/v1.0"):
            # The client adds the API version itself: /v1.0/v1.0/... would be a 404 everywhere.
            value = value[: -len("/v1.0")]
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            "client_secret" in self.fields
            and not cleaned.get("client_secret")
            and not (self.instance.pk and self.instance.has_client_secret)
        ):
            self.add_error("client_secret", "Enter the client secret: none is stored yet.")
        return cleaned

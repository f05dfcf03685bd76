"""Forms of tenants. The client secret is write-only: never rendered back."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from tenants.models import DEFAULT_API_URLS, Provider, Tenant


def clean_api_url(value: str, provider: str) -> str:
    """An upstream URL as the clients want it: https (http only for the demo's emulator), no
    trailing slash; Point's without /v1.0 (its client adds it), Graph's with its version."""
    value = (value or "").strip() or DEFAULT_API_URLS.get(provider, "")
    schemes = ["https", "http"] if settings.DEMO_MODE else ["https"]
    URLValidator(
        schemes=schemes, message="Enter a full URL, e.g. https://contoso.syskit365demo.com."
    )(value)
    value = value.rstrip("/")
    if provider == Provider.POINT and value.lower().endswith("/v1.0"):
        # The client adds the API version itself: /v1.0/v1.0/... would be a 404 everywhere.
        value = value[: -len("/v1.0")]
    return value


def clean_point_app_id(provider: str, value: Any) -> None:
    if provider == Provider.POINT and not value:
        raise ValidationError(
            "Point needs the Point API app ID (the token scope is <id>/.default)."
        )


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
        return clean_api_url(self.cleaned_data["api_url"], self.data.get("provider", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            "client_secret" in self.fields
            and not cleaned.get("client_secret")
            and not (self.instance.pk and self.instance.has_client_secret)
        ):
            self.add_error("client_secret", "Enter the client secret: none is stored yet.")
        try:
            clean_point_app_id(str(cleaned.get("provider") or ""), cleaned.get("point_app_id"))
        except ValidationError as error:
            self.add_error("point_app_id", error)
        return cleaned


class UpstreamForm(forms.ModelForm):
    """What a tenant provisions through, on the tenant page (its admins and operators)."""

    class Meta:
        model = Tenant
        fields = ["provider", "api_url", "point_app_id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["api_url"].required = False
        self.fields["api_url"].help_text = (
            "Point: its web app's address. Leave empty for GT365 or Microsoft Graph to use "
            "their public address."
        )

    def clean_api_url(self) -> str:
        return clean_api_url(self.cleaned_data.get("api_url", ""), self.data.get("provider", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            clean_point_app_id(str(cleaned.get("provider") or ""), cleaned.get("point_app_id"))
        except ValidationError as error:
            self.add_error("point_app_id", error)
        return cleaned


CREDENTIAL_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
CREDENTIAL_PAIRS = 4


class JobCredentialsForm(forms.Form):
    """Key/value credentials for one provisioning job. The values are write-only."""

    service_principal_id = forms.CharField(max_length=100, widget=forms.HiddenInput)
    app_name = forms.CharField(max_length=256, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in range(1, CREDENTIAL_PAIRS + 1):
            self.fields[f"key_{n}"] = forms.CharField(
                label=f"Key {n}",
                required=False,
                max_length=64,
                help_text='E.g. "BaseAddress" or "SecretToken", as the application documents.'
                if n == 1
                else "",
            )
            self.fields[f"value_{n}"] = forms.CharField(
                label=f"Value {n}",
                required=False,
                max_length=4096,
                strip=False,
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                ),
            )

    def pairs(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"key_{n}"], self[f"value_{n}"]) for n in range(1, CREDENTIAL_PAIRS + 1)]

    def clean_service_principal_id(self) -> str:
        value = str(self.cleaned_data["service_principal_id"]).strip()
        if not re.fullmatch(r"[0-9A-Za-z-]{1,100}", value):
            raise ValidationError("Not an enterprise application id.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        credentials: dict[str, str] = {}
        for n in range(1, CREDENTIAL_PAIRS + 1):
            key = str(data.get(f"key_{n}") or "").strip()
            value = str(data.get(f"value_{n}") or "")
            if not key and not value:
                continue
            if not key:
                self.add_error(f"key_{n}", "Name the key of this value.")
            elif not CREDENTIAL_KEY.match(key):
                self.add_error(
                    f"key_{n}", "Letters, digits, _ - and . only, starting with a letter."
                )
            elif key in credentials:
                self.add_error(f"key_{n}", "This key is given twice.")
            elif not value.strip():
                self.add_error(f"value_{n}", "Enter the value for this key.")
            else:
                credentials[key] = value
        if not credentials and not self.errors:
            self.add_error("key_1", "Enter at least one key and its value.")
        data["credentials"] = credentials
        return data

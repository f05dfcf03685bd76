from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from tenants import crypto
from tenants.models import Tenant, TenantToken, WebhookSubscription

CONTOSO_SECRET = "Ctso8Q~demo-portal-secret-contoso-0001"


def test_rotation_re_encrypts_every_secret_token_and_signing_key_with_the_newest_key(
    tenant_a: Tenant, tenant_b: Tenant, settings: Settings
) -> None:
    from django.utils import timezone

    TenantToken.objects.create(
        tenant=tenant_a,
        token_encrypted=crypto.encrypt("tok"),
        fingerprint="x",
        expires_at=timezone.now(),
        obtained_at=timezone.now(),
    )
    sub = WebhookSubscription(tenant=tenant_a, enabled=True)
    sub.set_signing_key("point-signing-key")
    sub.save()
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 2 tenant secret(s), 1 stored token(s) and 1 webhook signing key(s)" in (
        out.getvalue()
    )
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can go now
    assert Tenant.objects.get(pk=tenant_a.pk).get_client_secret() == CONTOSO_SECRET
    assert crypto.decrypt(TenantToken.objects.get().token_encrypted) == "tok"
    assert WebhookSubscription.objects.get().get_signing_key() == "point-signing-key"


def test_rotation_changes_nothing_and_names_tenants_it_cannot_decrypt(
    tenant_a: Tenant, tenant_b: Tenant, settings: Settings
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    Tenant.objects.filter(pk=tenant_b.pk).update(client_secret_encrypted=crypto.encrypt("Fbrk-new"))
    before = dict(Tenant.objects.values_list("slug", "client_secret_encrypted"))
    with pytest.raises(CommandError, match=r"Nothing was changed.*Contoso \(contoso\)") as caught:
        call_command("rotate_encryption_key", stdout=StringIO())
    assert "Fabrikam" not in str(caught.value)
    assert dict(Tenant.objects.values_list("slug", "client_secret_encrypted")) == before

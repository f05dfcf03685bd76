from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from tenants import crypto
from tenants.models import Tenant


def test_the_secret_is_stored_encrypted_and_reads_back(tenant_a: Tenant) -> None:
    stored = Tenant.objects.get(pk=tenant_a.pk)
    assert "secret" not in stored.client_secret_encrypted
    assert stored.get_client_secret().startswith("Ctso8Q~")


def test_a_missing_key_fails_closed(tenant_a: Tenant, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnavailable, match="cannot be decrypted"):
        Tenant.objects.get(pk=tenant_a.pk).get_client_secret()


def test_no_keys_at_all_is_a_configuration_error(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"):
        crypto.encrypt("x")


def test_an_older_key_still_decrypts_after_a_new_one_is_added(
    tenant_a: Tenant, settings: Settings
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    assert Tenant.objects.get(pk=tenant_a.pk).get_client_secret().startswith("Ctso8Q~")

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from pytest_django.fixtures import Settings

from tenants import crypto, services, tokens
from tenants.models import Tenant, TenantToken

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

ROOT = Path(__file__).resolve().parents[2]
CONTOSO_SECRET = "Ctso8Q~demo-portal-secret-contoso-0001"
READER_CLIENT = "ac01467d-ce97-454f-91b5-258950c7da42"


def client_credential_requests(emulator: RunningEmulator) -> list[dict[str, object]]:
    log = emulator.control_get("token-requests")["requests"]
    return [r for r in log if r["grant_type"] == "client_credentials"]


def test_good_credentials_give_a_token_that_is_reused(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    first = tokens.get_token(live_tenant_a)
    for _ in range(5):
        assert tokens.get_token(Tenant.objects.get(pk=live_tenant_a.pk)) == first
    assert len(client_credential_requests(emulator)) == 1
    assert first.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)


def test_the_shared_token_is_stored_encrypted(live_tenant_a: Tenant) -> None:
    token = tokens.get_token(live_tenant_a)
    row = TenantToken.objects.get(tenant=live_tenant_a)
    assert token.value not in row.token_encrypted
    assert crypto.decrypt(row.token_encrypted) == token.value
    assert token.value not in repr(token)


def test_another_process_reuses_the_stored_token(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    tokens.get_token(live_tenant_a)
    tokens.forget()  # what a second process starts with: nothing in memory
    tokens.get_token(live_tenant_a)
    assert len(client_credential_requests(emulator)) == 1


def test_a_token_close_to_expiry_is_renewed(
    live_tenant_a: Tenant, emulator: RunningEmulator, settings: Settings
) -> None:
    emulator.control("token-lifetime", seconds=200)
    tokens.get_token(live_tenant_a)  # 200 s left is inside the 300 s margin: unusable at once
    tokens.get_token(live_tenant_a)
    assert len(client_credential_requests(emulator)) == 2


def test_a_wrong_secret_says_to_enter_the_secret_value(live_tenant_a: Tenant) -> None:
    live_tenant_a.set_client_secret("Wrong8Q~not-the-secret")
    live_tenant_a.save()
    with pytest.raises(tokens.InvalidClientSecret) as caught:
        tokens.get_token(live_tenant_a)
    assert caught.value.aadsts == 7000215
    assert "Value (not its Secret ID)" in caught.value.guidance
    assert "Wrong8Q~" not in str(caught.value)


def test_an_expired_secret_names_the_date_it_expired(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control("expire-secret", client_id=str(live_tenant_a.client_id))
    live_tenant_a.secret_expires_on = dt.date.today() - dt.timedelta(days=1)
    live_tenant_a.save()
    with pytest.raises(tokens.ClientSecretExpired) as caught:
        tokens.get_token(live_tenant_a)
    assert f"expired on {live_tenant_a.secret_expires_on.isoformat()}" in str(caught.value)
    assert "Renew it" in caught.value.guidance


def test_an_unknown_client_id_is_named(live_tenant_a: Tenant) -> None:
    live_tenant_a.client_id = READER_CLIENT  # a Fabrikam app: not registered in Contoso
    live_tenant_a.save()
    with pytest.raises(tokens.UnknownClient) as caught:
        tokens.get_token(live_tenant_a)
    assert READER_CLIENT in str(caught.value)
    assert "Application (client) ID" in caught.value.guidance


def test_an_unknown_tenant_id_says_where_to_find_the_right_one(live_tenant_a: Tenant) -> None:
    live_tenant_a.entra_tenant_id = "00000000-0000-4000-8000-000000000001"
    live_tenant_a.save()
    with pytest.raises(tokens.UnknownTenant) as caught:
        tokens.get_token(live_tenant_a)
    assert "Directory (tenant) ID" in caught.value.guidance


def test_a_wrong_point_app_id_is_reported_as_the_scope(live_tenant_a: Tenant) -> None:
    live_tenant_a.point_app_id = "2b420025-5078-4832-a8d4-de2b12c1070e"  # Fabrikam's Point
    live_tenant_a.save()
    with pytest.raises(tokens.InvalidPointAppId) as caught:
        tokens.get_token(live_tenant_a)
    assert "Syskit Point API" in caught.value.guidance


def test_an_unreadable_secret_fails_closed_with_guidance(
    live_tenant_a: Tenant, settings: Settings
) -> None:
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(tokens.ClientSecretMissing, match="cannot be decrypted"):
        tokens.get_token(live_tenant_a)


def test_a_changed_secret_builds_a_new_app_and_drops_the_token(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    tokens.get_token(live_tenant_a)
    app_before = tokens.app_for(live_tenant_a)
    services.tenant_set_secret(tenant=live_tenant_a, secret=CONTOSO_SECRET)
    assert not TenantToken.objects.filter(tenant=live_tenant_a).exists()
    assert tokens.app_for(live_tenant_a) is not app_before
    tokens.get_token(live_tenant_a)
    assert len(client_credential_requests(emulator)) == 2


WORKER = """
import django, sys
django.setup()
from tenants.models import Tenant
from tenants import upstream
tenant = Tenant.objects.get(slug="contoso")
for _ in range(25):
    upstream.provider_for(tenant).list_templates()
print("done")
"""


def _child_env(emulator_url: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DEMO_MODE="true",
        EMULATOR_URL=emulator_url,
        DATABASE_URL=database_url,
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.mark.django_db(transaction=True)
def test_fifty_calls_from_two_processes_make_one_token_request(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        database_url = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
        from tests.conftest import make_tenant

        make_tenant("contoso", f"{emulator.url}/point/contoso")
        env = _child_env(emulator.url, database_url)
    else:
        # The SQLite test database lives in memory: the children share a file database.
        database_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        env = _child_env(emulator.url, database_url)
        setup = (
            "import django; django.setup()\n"
            "from django.core.management import call_command\n"
            "call_command('migrate', verbosity=0)\n"
            "from tests.conftest import make_tenant\n"
            f"make_tenant('contoso', '{emulator.url}/point/contoso')\n"
        )
        subprocess.run([sys.executable, "-c", setup], env=env, cwd=ROOT, check=True, timeout=120)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-2000:]
        assert "done" in out
    assert len(client_credential_requests(emulator)) == 1

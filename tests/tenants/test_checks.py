from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import pytest
from pytest_django.fixtures import Settings

from audit.models import AuditAction, AuditEvent
from portal.models import User
from tenants import services, tokens
from tenants.models import ConnectionCheck, Tenant
from tests.conftest import client_for

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

READER_CLIENT = "ac01467d-ce97-454f-91b5-258950c7da42"
READER_SECRET = "Fbrk8Q~demo-reader-secret-fabrikam-0002"


@pytest.fixture(autouse=True)
def _fast(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from tenants import upstream

    settings.POINT_MAX_RETRIES = 1
    settings.POINT_CONNECT_TIMEOUT = 1
    settings.POINT_READ_TIMEOUT = 2
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)


def run_check(
    tenant: Tenant, django_capture_on_commit_callbacks: Any, user: User | None = None
) -> ConnectionCheck:
    with django_capture_on_commit_callbacks(execute=True):
        check = services.connection_check_start(tenant=tenant, user=user)
    check.refresh_from_db()
    return check


def outcomes(check: ConnectionCheck) -> dict[str, str]:
    """Point's rows (Microsoft Graph's, for people and provisioning jobs, follow them)."""
    return {p["permission"]: p["outcome"] for p in check.probes if p["upstream"] == "Point"}


def test_good_credentials_grant_every_permission(
    live_tenant_a: Tenant, admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    check = run_check(live_tenant_a, django_capture_on_commit_callbacks, admin)
    assert check.status == "done" and check.ok and check.finished_at
    assert set(outcomes(check).values()) == {"granted"}
    event = AuditEvent.objects.get(action=AuditAction.CONNECTION_TESTED)
    assert event.tenant == live_tenant_a and event.user == admin


def test_a_revoked_permission_is_missing_with_what_to_do(
    live_tenant_a: Tenant, emulator: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    emulator.control(
        "permissions",
        client_id=str(live_tenant_a.client_id),
        revoke=["Point.Provisioning"],
        grant=[],
    )
    check = run_check(live_tenant_a, django_capture_on_commit_callbacks)
    assert not check.ok
    assert outcomes(check) == {
        "SharePoint.Read.All": "granted",
        "Point.AsyncRequests": "granted",
        "Point.Provisioning": "missing",
        "Point.Admin": "granted",
    }
    probe = next(p for p in check.probes if p["outcome"] == "missing")
    assert "add the application permission Point.Provisioning" in probe["guidance"]
    assert "Grant admin consent" in probe["guidance"]


@pytest.mark.parametrize(
    "permission", ["SharePoint.Read.All", "Point.AsyncRequests", "Point.Admin"]
)
def test_each_revoked_permission_is_reported(
    permission: str,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    django_capture_on_commit_callbacks: Any,
) -> None:
    emulator.control(
        "permissions", client_id=str(live_tenant_a.client_id), revoke=[permission], grant=[]
    )
    check = run_check(live_tenant_a, django_capture_on_commit_callbacks)
    assert [p for p, o in outcomes(check).items() if o != "granted"] == [permission]


def test_a_read_only_app_misses_three_permissions(
    live_tenant_b: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    live_tenant_b.client_id = READER_CLIENT
    live_tenant_b.set_client_secret(READER_SECRET)
    live_tenant_b.save()
    check = run_check(live_tenant_b, django_capture_on_commit_callbacks)
    assert outcomes(check) == {
        "SharePoint.Read.All": "granted",
        "Point.AsyncRequests": "missing",
        "Point.Provisioning": "missing",
        "Point.Admin": "missing",
    }
    assert check.summary == "Missing Point.AsyncRequests, Point.Provisioning, Point.Admin"


def test_an_expired_secret_says_renew_it_with_the_date(
    live_tenant_a: Tenant, emulator: RunningEmulator, django_capture_on_commit_callbacks: Any
) -> None:
    emulator.control("expire-secret", client_id=str(live_tenant_a.client_id))
    live_tenant_a.secret_expires_on = dt.date.today() - dt.timedelta(days=1)
    live_tenant_a.save()
    check = run_check(live_tenant_a, django_capture_on_commit_callbacks)
    assert not check.token_ok
    assert f"expired on {live_tenant_a.secret_expires_on.isoformat()}" in check.token_message
    assert "Renew it" in check.token_message
    assert set(outcomes(check).values()) == {"skipped"}


def test_an_unreachable_point_url_is_reported(
    live_tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    live_tenant_a.api_url = "http://127.0.0.1:9/point/contoso"
    live_tenant_a.save()
    check = run_check(live_tenant_a, django_capture_on_commit_callbacks)
    assert check.token_ok
    assert set(outcomes(check).values()) == {"error"}
    assert "Point URL unreachable" in check.probes[0]["guidance"]


def test_the_tenant_page_shows_the_result_and_never_the_secret_or_token(
    live_tenant_a: Tenant,
    it_staff: User,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(it_staff)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/tenants/{live_tenant_a.slug}/check", HTTP_HX_REQUEST="true")
    check = ConnectionCheck.objects.get(tenant=live_tenant_a)
    fragment = client.get(
        f"/tenants/{live_tenant_a.slug}/checks/{check.pk}", HTTP_HX_REQUEST="true"
    )
    page = client.get(f"/tenants/{live_tenant_a.slug}/")
    assert "Connected: every permission granted" in page.content.decode()
    assert "Point.Provisioning" in fragment.content.decode()
    secret = live_tenant_a.get_client_secret()
    token = tokens.get_token(live_tenant_a).value
    for text in (
        started.content.decode(),
        fragment.content.decode(),
        page.content.decode(),
        caplog.text,
    ):
        assert secret not in text and token not in text

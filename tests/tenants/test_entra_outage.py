"""Entra ID outages, against the live emulator: every kind becomes one typed EntraUnavailable.

5xx, a hang past the timeout, a reset connection, a broken body, 429 and the AADSTS codes
Entra documents as transient, at msal's discovery or at the token endpoint, all end as
tokens.EntraUnavailable (retryable, never UnknownTenant). Then what people see: pages answer
200 with a clear message, a send goes back to submitted and completes once Entra is back, a
report and a connection check end with a visible error, and neither is ever left running.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from directory import services as directory
from directory.models import ReportKind, ReportRun
from portal.models import User
from provisioning.models import Template
from provisioning.states import State
from tenants import checks, msal_http, services, tokens, upstream
from tenants.models import ConnectionCheck, Tenant, TenantToken
from tests.conftest import client_for
from tests.provisioning.lifecycle import (
    catalogue,
    drive,
    fast_point,
    instant,
    ledger,
    request_data,
    submit,
)
from upstreams.point.provider import PointProvider

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["catalogue", "fast_point", "instant"]  # fixtures shared with tests/provisioning

Capture = DjangoCaptureOnCommitCallbacks
MEGAN = "megan.bowen@contoso.onmicrosoft.com"
OUTAGE = "Microsoft Entra ID is unavailable"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _quick(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A one-second Entra timeout (so a hang is quick to outlast) and no real Point waits."""
    monkeypatch.setattr(msal_http, "ENTRA_TIMEOUT", (1, 1))
    monkeypatch.setattr(upstream, "_sleep", lambda seconds: None)
    monkeypatch.setattr(directory, "_sleep", lambda seconds: None)
    settings.POINT_MAX_RETRIES = 1
    settings.DIRECTORY_POLL_INTERVAL_MS = 50
    yield


def token_path(tenant: Tenant) -> str:
    return f"/{tenant.entra_tenant_id}/oauth2/v2.0/token"


def discovery_path(tenant: Tenant) -> str:
    return f"/{tenant.entra_tenant_id}/v2.0/.well-known/openid-configuration"


def break_entra(
    emulator: RunningEmulator,
    tenant: Tenant,
    kind: str = "503",
    *,
    endpoint: str = "token",
    count: int = 1,
    **options: Any,
) -> None:
    """The next `count` calls to Entra's token endpoint (or discovery) fail with `kind`."""
    path = token_path(tenant) if endpoint == "token" else discovery_path(tenant)
    method = "POST" if endpoint == "token" else "GET"
    if kind == "hang":
        options.setdefault("seconds", 2)  # outlasts the one-second timeout
    emulator.control("faults", method=method, path=path, kind=kind, count=count, **options)


def no_token_yet() -> None:
    """What the next call finds after a deploy or once the token expired: nothing cached."""
    TenantToken.objects.all().delete()
    tokens.forget()


# --- Every kind of outage is one typed error -------------------------------------------------


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
@pytest.mark.parametrize("kind", ["500", "502", "503", "hang", "reset", "malformed"])
def test_every_kind_of_entra_outage_is_entra_unavailable_never_unknown_tenant(
    live_tenant_a: Tenant, emulator: RunningEmulator, kind: str, endpoint: str
) -> None:
    break_entra(emulator, live_tenant_a, kind, endpoint=endpoint)
    with pytest.raises(tokens.EntraUnavailable) as caught:
        tokens.get_token(live_tenant_a)
    error = caught.value
    assert error.retryable and error.code == "entra_unavailable"
    assert not isinstance(error, tokens.UnknownTenant)
    assert OUTAGE in error.message and live_tenant_a.name in error.message
    assert "usually passes" in error.guidance
    # Entra is back: the next call gets a token (no failed answer kept by msal).
    assert tokens.get_token(live_tenant_a).value


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("503", "it answered HTTP 503"),
        ("hang", "it did not answer within 1 seconds"),
        ("reset", "the connection to it failed"),
        ("malformed", "it sent an answer the portal cannot read"),
    ],
)
def test_the_outage_message_says_what_entra_did(
    live_tenant_a: Tenant, emulator: RunningEmulator, kind: str, reason: str
) -> None:
    break_entra(emulator, live_tenant_a, kind)
    with pytest.raises(tokens.EntraUnavailable, match=reason):
        tokens.get_token(live_tenant_a)


@pytest.mark.parametrize(
    ("code", "error", "status"),
    [
        (90033, "temporarily_unavailable", 400),  # MsodsServiceUnavailable, in the JSON body
        (90055, "invalid_request", 400),  # TenantThrottlingError: the code alone decides
        (90006, "server_error", 400),  # ExternalServerRetryableError
        (90033, "temporarily_unavailable", 503),  # the same, with a 5xx status
    ],
)
def test_an_aadsts_temporarily_unavailable_answer_is_entra_unavailable_and_not_kept(
    live_tenant_a: Tenant, emulator: RunningEmulator, code: int, error: str, status: int
) -> None:
    break_entra(emulator, live_tenant_a, "aadsts", code=code, error=error, status=status)
    with pytest.raises(tokens.EntraUnavailable) as caught:
        tokens.get_token(live_tenant_a)
    assert caught.value.retryable
    if status < 500:
        assert caught.value.aadsts == code and f"AADSTS{code}" in caught.value.message
    # msal keeps a 400 answer for 60 s per app; the portal drops the app, so Entra's
    # recovery is seen by the very next call.
    assert tokens.get_token(live_tenant_a).value


def test_a_429_from_the_token_endpoint_is_entra_unavailable(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    emulator.control(
        "throttle", method="POST", path=token_path(live_tenant_a), count=1, retry_after=1
    )
    with pytest.raises(tokens.EntraUnavailable, match="throttling"):
        tokens.get_token(live_tenant_a)


def test_a_fresh_token_during_an_outage_is_entra_unavailable_too(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    tokens.get_token(live_tenant_a)
    break_entra(emulator, live_tenant_a, "503", endpoint="discovery")
    with pytest.raises(tokens.EntraUnavailable):
        tokens.get_token(live_tenant_a, fresh=True)  # the connection check's and a 401's path


def test_a_4xx_at_discovery_is_still_an_unknown_tenant(
    live_tenant_a: Tenant, emulator: RunningEmulator
) -> None:
    live_tenant_a.entra_tenant_id = "00000000-0000-4000-8000-000000000001"
    live_tenant_a.save()
    with pytest.raises(tokens.UnknownTenant):
        tokens.get_token(live_tenant_a)


class _AnswersWith:
    """An msal app whose token endpoint answered `result` (shapes the emulator cannot send)."""

    def __init__(self, result: Any = None, raises: BaseException | None = None) -> None:
        self.result, self.raises = result, raises

    def remove_tokens_for_client(self) -> None:
        pass

    def acquire_token_for_client(self, scopes: list[str]) -> Any:
        if self.raises is not None:
            raise self.raises
        return self.result


@pytest.mark.parametrize(
    "app",
    [
        _AnswersWith({}),
        _AnswersWith([]),
        _AnswersWith({"access_token": 42, "expires_in": 3599}),
        _AnswersWith({"access_token": "x.y.z", "expires_in": "soon"}),
        _AnswersWith(raises=KeyError("access_token")),
        _AnswersWith(raises=AttributeError("'list' object has no attribute 'get'")),
    ],
    ids=[
        "empty",
        "a-list",
        "token-not-a-string",
        "expiry-not-a-number",
        "msal-keyerror",
        "msal-attributeerror",
    ],
)
def test_an_answer_with_neither_a_usable_token_nor_an_error_is_entra_unavailable(
    tenant_a: Tenant, app: _AnswersWith
) -> None:
    with pytest.raises(tokens.EntraUnavailable, match="cannot read|neither a token"):
        tokens._request_token(tenant_a, app, tenant_a.token_scope)


# --- What people see -------------------------------------------------------------------------


def test_the_groups_page_during_an_outage_answers_200_with_a_clear_message(
    live_tenant_a: Tenant, emulator: RunningEmulator, it_staff: User
) -> None:
    break_entra(emulator, live_tenant_a, "503")
    response = client_for(it_staff).get(f"/directory/{live_tenant_a.slug}/groups/")
    assert response.status_code == 200
    assert OUTAGE in response.text and "it answered HTTP 503" in response.text
    assert "usually passes" in response.text


def test_the_availability_check_during_an_outage_answers_200_and_says_why(
    catalogue: dict[str, Template], emulator: RunningEmulator, requester_a: User
) -> None:
    no_token_yet()
    break_entra(emulator, catalogue["3"].tenant, "reset")
    response = client_for(requester_a).get(
        f"/requests/new/{catalogue['3'].pk}/availability", {"display_name": "Falcon"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Could not check right now" in response.text
    assert "Microsoft Entra ID" in response.text and "not answering" in response.text
    assert "checked again when the request is sent" in response.text


def test_a_send_during_an_entra_outage_goes_back_to_submitted_and_completes_after(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    no_token_yet()
    break_entra(instant, catalogue["3"].tenant, "503")
    before = timezone.now()
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.SUBMITTED  # not failed, not stuck in sending
    assert request.next_poll_at is not None and request.next_poll_at > before + timedelta(
        seconds=20
    )
    event = request.events.order_by("-id").first()
    assert event is not None and OUTAGE in event.detail and "tries again after" in event.detail
    assert ledger(instant, request) == []
    # Entra is back: the retry sends it and it completes.
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert request.send_attempts == 2 and len(ledger(instant, request)) == 1


def test_a_report_refresh_during_an_outage_ends_failed_and_a_new_refresh_starts_a_new_run(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    emulator.control("timing", job=0.2)
    break_entra(emulator, live_tenant_a, "503")
    client = client_for(it_staff)
    data = {"kind": ReportKind.USER_ACCESS, "subject": MEGAN, "label": MEGAN}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/directory/{live_tenant_a.slug}/reports/refresh", data)
    failed = ReportRun.objects.get()
    assert failed.state == ReportRun.State.FAILED and failed.finished_at is not None
    assert OUTAGE in failed.error
    page = client.get(f"/directory/{live_tenant_a.slug}/access/", {"upn": MEGAN})
    assert page.status_code == 200 and OUTAGE in page.text
    # Entra is back: a new refresh is a new run (nothing to join) and it succeeds.
    with django_capture_on_commit_callbacks(execute=True):
        refresh = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    assert not refresh.joined and refresh.run.pk != failed.pk
    refresh.run.refresh_from_db()
    assert refresh.run.state == ReportRun.State.SUCCEEDED, refresh.run.error


def test_a_connection_check_during_an_outage_ends_done_with_a_visible_token_message(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    break_entra(emulator, live_tenant_a, "hang")
    with django_capture_on_commit_callbacks(execute=True):
        check = services.connection_check_start(tenant=live_tenant_a, user=it_staff)
    check.refresh_from_db()
    assert check.status == ConnectionCheck.Status.DONE and not check.ok and not check.token_ok
    assert OUTAGE in check.token_message and "usually passes" in check.token_message
    assert {p["outcome"] for p in check.probes} == {checks.SKIPPED}
    fragment = (
        client_for(it_staff)
        .get(f"/tenants/{live_tenant_a.slug}/checks/{check.pk}", headers=HTMX)
        .content.decode()
    )
    assert f"Token: {OUTAGE}" in fragment and "Testing the connection" not in fragment


# --- The long-running consumers never get stuck ----------------------------------------------


def test_a_connection_check_that_crashes_still_ends_done_with_the_error_type(
    live_tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    def crash(
        tenant: Tenant, *, fresh: bool = False, scope: str | None = None
    ) -> tokens.AccessToken:
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(tokens, "get_token", crash)
    with django_capture_on_commit_callbacks(execute=True):
        check = services.connection_check_start(tenant=live_tenant_a)
    check.refresh_from_db()
    assert check.status == ConnectionCheck.Status.DONE and not check.ok
    assert "unexpected error (RuntimeError)" in check.token_message
    assert "nobody planned" not in check.token_message  # the type, never the message


def test_a_probe_that_crashes_is_an_error_row_and_the_check_ends_done(
    live_tenant_a: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    def crash(self: PointProvider, permission: str) -> str:
        raise RuntimeError("probe bug")

    monkeypatch.setattr(PointProvider, "probe", crash)
    with django_capture_on_commit_callbacks(execute=True):
        check = services.connection_check_start(tenant=live_tenant_a)
    check.refresh_from_db()
    assert check.status == ConnectionCheck.Status.DONE and check.token_ok and not check.ok
    point = [p for p in check.probes if p["upstream"] == "Point"]
    assert {p["outcome"] for p in point} == {checks.ERROR}
    assert all("unexpected error (RuntimeError)" in p["detail"] for p in point)


@pytest.mark.parametrize("stage", ["start", "poll"])
def test_a_report_that_crashes_ends_failed_with_a_visible_message(
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
    stage: str,
) -> None:
    emulator.control("timing", job=5)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("report bug")

    monkeypatch.setattr(PointProvider, "start_report" if stage == "start" else "get_report", crash)
    with django_capture_on_commit_callbacks(execute=True):
        refresh = directory.report_refresh(
            tenant=live_tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    run = ReportRun.objects.get(pk=refresh.run.pk)
    assert run.state == ReportRun.State.FAILED and run.finished_at is not None
    assert "unexpected error (RuntimeError)" in run.error and "report bug" not in run.error


def test_a_run_whose_worker_died_is_given_up_instead_of_joined(
    tenant_a: Tenant, settings: Settings, django_capture_on_commit_callbacks: Capture
) -> None:
    long_ago = timezone.now() - timedelta(seconds=directory.worker_silence_limit() + 1)
    with time_machine.travel(long_ago, tick=False):
        dead = ReportRun.objects.create(
            tenant=tenant_a,
            kind=ReportKind.USER_ACCESS,
            subject=MEGAN,
            start_claimed_at=timezone.now(),
        )
    assert timezone.now() - dead.started_at < timedelta(seconds=settings.DIRECTORY_REPORT_TIMEOUT)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        refresh = directory.report_refresh(
            tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    dead.refresh_from_db()
    assert dead.state == ReportRun.State.FAILED and "stopped making progress" in dead.error
    assert not refresh.joined and refresh.run.pk != dead.pk and len(enqueued) == 1


def test_a_slow_run_that_still_shows_signs_of_life_is_joined(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    long_ago = timezone.now() - timedelta(seconds=directory.worker_silence_limit() + 1)
    with time_machine.travel(long_ago, tick=False):
        alive = ReportRun.objects.create(
            tenant=tenant_a,
            kind=ReportKind.USER_ACCESS,
            subject=MEGAN,
            start_claimed_at=timezone.now(),
        )
    ReportRun.objects.filter(pk=alive.pk).update(last_polled_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        refresh = directory.report_refresh(
            tenant=tenant_a, kind=ReportKind.USER_ACCESS, subject=MEGAN
        )
    assert refresh.joined and refresh.run.pk == alive.pk

"""Sending a request to Point exactly once, against the live emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tenants import tokens
from tenants.models import Tenant, TenantToken
from tests.provisioning.lifecycle import (
    POINT_PATH,
    assert_no_task_failures,
    drive,
    ledger,
    make_due,
    poll,
    request_data,
    submit,
)
from upstreams.contract import RequestStatus
from upstreams.point.provider import PointProvider

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

Capture = DjangoCaptureOnCommitCallbacks


def upstream_requests(
    emulator: RunningEmulator, request: ProvisioningRequest
) -> list[dict[str, Any]]:
    found = emulator.control_get("requests")
    items = found["requests"] if isinstance(found, dict) else found
    return [r for r in items if r.get("displayName") == request.final_name]


def test_a_request_is_posted_once_and_keeps_the_upstream_id(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.APPROVED
    assert request.upstream_id
    assert request.send_attempts == 1
    assert request.next_poll_at is not None
    # Running the task again (a redelivery) does nothing.
    assert services.request_send(request_id=request.pk).outcome == "skipped"
    assert len(upstream_requests(instant, request)) == 1
    assert_no_task_failures()


def test_two_workers_claiming_the_same_request_send_once(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with django_capture_on_commit_callbacks():  # leave the send to the two "workers" below
        request = services.request_submit(
            tenant=catalogue["3"].tenant,
            template=catalogue["3"],
            requested_by=requester_a,
            data=request_data("3"),
        )
    real_submit = PointProvider.submit
    second_worker: list[str] = []

    def submit_while_another_worker_arrives(self: PointProvider, spec: Any) -> RequestStatus:
        # The second worker gets the same task while the first is still posting.
        second_worker.append(services.request_send(request_id=request.pk).outcome)
        return real_submit(self, spec)

    monkeypatch.setattr(PointProvider, "submit", submit_while_another_worker_arrives)
    assert services.request_send(request_id=request.pk).outcome == "sent"
    assert second_worker == ["skipped"]
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert len(ledger(instant, request)) == 1
    assert len(upstream_requests(instant, request)) == 1


def test_a_lost_answer_is_looked_up_instead_of_posted_again(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # Point creates the request, then the connection is reset: the answer is lost.
    instant.control(
        "faults", method="POST", path=f"{POINT_PATH}/provision/teams", kind="reset_after"
    )
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.CONFIRMING  # never shown as failed or as sent
    assert request.upstream_id == "" and request.maybe_sent
    assert request.next_poll_at is not None
    # Not due yet: the poller leaves it alone.
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == State.CONFIRMING
    make_due(request)
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.upstream_id
    assert request.send_attempts == 1, "found, not sent again"
    assert request.events.filter(
        detail__contains="Found the request an earlier attempt sent"
    ).exists()
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert len(ledger(instant, request)) == 1
    assert len(upstream_requests(instant, request)) == 1
    assert_no_task_failures()


def test_a_worker_that_died_after_posting_is_recovered_when_its_lease_ends(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    settings: Settings,
) -> None:
    instant.control(
        "faults", method="POST", path=f"{POINT_PATH}/provision/teams", kind="reset_after"
    )
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    # As if the worker was killed between the POST and saving its answer: no hand-back.
    ProvisioningRequest.objects.filter(pk=request.pk).update(next_poll_at=None)
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.send_attempts == 1, "a live attempt's lease is respected"
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        send_started_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SEND_LEASE + 1)
    )
    poll(django_capture_on_commit_callbacks)
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert len(ledger(instant, request)) == 1
    assert len(upstream_requests(instant, request)) == 1


def test_a_5xx_on_the_post_is_checked_then_sent_again(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    instant.control("faults", method="POST", path=f"{POINT_PATH}/provision/*", kind="503", count=1)
    request = submit(
        django_capture_on_commit_callbacks, catalogue["11"], requester_a, request_data("11")
    )
    assert request.state == State.CONFIRMING  # a 5xx to a POST may still have created it
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    # The lookup proved that nothing arrived, so it was sent again.
    assert request.send_attempts == 2
    assert len(ledger(instant, request)) == 1


def test_a_short_429_is_waited_out_honouring_retry_after(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    instant.control(
        "throttle", method="POST", path=f"{POINT_PATH}/provision/teams", count=1, retry_after=3
    )
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.APPROVED
    assert fast_point and fast_point[0] >= 3


def test_a_long_429_puts_the_request_back_until_retry_after(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    instant.control(
        "throttle", method="POST", path=f"{POINT_PATH}/provision/teams", count=1, retry_after=600
    )
    before = timezone.now()
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.SUBMITTED
    assert request.next_poll_at is not None
    assert request.next_poll_at >= before + timedelta(seconds=600)
    # Early deliveries of the task wait for the retry time.
    assert services.request_send(request_id=request.pk).outcome == "skipped"
    assert ledger(instant, request) == []
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert len(ledger(instant, request)) == 1


def test_an_unreachable_point_is_retried_then_failed_with_a_clear_message(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    settings: Settings,
    live_tenant_a: Tenant,
) -> None:
    settings.PROVISIONING_SEND_MAX_ATTEMPTS = 2
    live_tenant_a.api_url = "http://127.0.0.1:9/point/contoso"  # nothing listens there
    live_tenant_a.save()
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.SUBMITTED
    assert request.next_poll_at is not None
    make_due(request)
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == State.FAILED
    assert "gave up after 2 attempts" in request.error_message
    assert "nothing was created" in request.error_message


def test_an_upstream_validation_error_lands_on_the_form_fields(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    data = request_data(
        "1",
        metadata={
            "Cost Center": "CC-1",
            "Project Manager": "adele.vance@contoso.onmicrosoft.com",
            "Department": "Astrology",
        },
        owners=["adele.vance@contoso.onmicrosoft.com", "nobody@contoso.onmicrosoft.com"],
    )
    request = submit(django_capture_on_commit_callbacks, catalogue["1"], requester_a, data)
    assert request.state == State.FAILED
    assert set(request.field_errors) >= {"meta__department", "owners"}
    assert request.error_message.startswith("Point refused the request")
    assert ledger(instant, request) == []


def test_a_missing_point_permission_fails_with_guidance(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    live_tenant_a: Tenant,
) -> None:
    instant.control(
        "permissions",
        client_id=str(live_tenant_a.client_id),
        revoke=["Point.Provisioning"],
        grant=[],
    )
    TenantToken.objects.all().delete()  # the next token carries the new roles
    tokens.forget()
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    assert request.state == State.FAILED
    assert "Point.Provisioning" in request.error_message
    assert "admin consent" in request.error_message


def test_a_name_with_accents_gets_the_ascii_url_the_form_showed(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    data = request_data("3", name="Zürich Straße Team")
    request = submit(django_capture_on_commit_callbacks, catalogue["3"], requester_a, data)
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert request.workspace_url.endswith("/zurich-strasse-team")

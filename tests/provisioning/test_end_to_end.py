"""Whole requests against the live emulator: submit, send, poll, e-mail."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.core import mail
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from portal.models import User
from provisioning import services
from provisioning.models import Template, Workload
from provisioning.states import State
from tests.provisioning.lifecycle import (
    NESTOR,
    assert_no_task_failures,
    drive,
    ledger,
    make_due,
    poll,
    request_data,
    submit,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

Capture = DjangoCaptureOnCommitCallbacks


@pytest.mark.parametrize(
    ("upstream_id", "workload"),
    [
        ("1", Workload.TEAM),
        ("11", Workload.GROUP),
        ("21", Workload.SITE),
        ("31", Workload.COMMUNITY),
    ],
)
def test_each_workload_completes_with_its_workspace_link(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    upstream_id: str,
    workload: Workload,
) -> None:
    template = catalogue[upstream_id]
    assert template.workload == workload
    request = submit(
        django_capture_on_commit_callbacks, template, requester_a, request_data(upstream_id)
    )
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert request.workspace_url.startswith("https://")
    assert request.workspace_id
    assert request.finished_at is not None and request.next_poll_at is None
    created = ledger(instant, request)
    assert len(created) == 1
    assert created[0]["url"] == request.workspace_url
    assert [m.to for m in mail.outbox] == [[requester_a.email]]
    assert request.workspace_url in mail.outbox[0].body
    timeline = list(request.events.values_list("to_state", flat=True))
    assert timeline[:2] == [State.SUBMITTED, State.SENDING]
    assert timeline[-1] == State.COMPLETED
    assert_no_task_failures()


def test_progress_is_reported_while_in_progress(
    catalogue: dict[str, Template],
    emulator: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    emulator.control("timing", approval=0, approved=0, in_progress=600)
    request = submit(
        django_capture_on_commit_callbacks, catalogue["3"], requester_a, request_data("3")
    )
    request = drive(django_capture_on_commit_callbacks, request, until={State.IN_PROGRESS})
    assert request.state == State.IN_PROGRESS
    assert request.progress is not None and 0 <= request.progress < 100


def test_manual_approval_waits_then_completes_after_approval(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = submit(
        django_capture_on_commit_callbacks, catalogue["32"], requester_a, request_data("32")
    )
    assert request.state == State.WAITING_APPROVAL
    for _ in range(3):
        make_due(request)
        poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == State.WAITING_APPROVAL
    assert ledger(instant, request) == []
    instant.control(f"requests/{request.upstream_id}/approve", by=NESTOR, comment="Fine")
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert len(ledger(instant, request)) == 1
    assert request.events.filter(to_state=State.WAITING_APPROVAL).count() == 1


def test_a_rejected_request_ends_rejected_and_the_requester_hears_why(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = submit(
        django_capture_on_commit_callbacks, catalogue["2"], requester_a, request_data("2")
    )
    assert request.state == State.WAITING_APPROVAL
    instant.control(
        f"requests/{request.upstream_id}/reject", by=NESTOR, comment="Use the existing team"
    )
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.REJECTED
    assert ledger(instant, request) == []
    assert len(mail.outbox) == 1
    assert "Use the existing team" in mail.outbox[0].body
    assert "Use the existing team" in request.events.last().detail  # type: ignore[union-attr]


def test_an_upstream_failure_is_shown_with_its_correlation_id_and_can_be_retried(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    instant.control(
        "requests/fail-next", tenant="contoso", message="Exceeded changed links limit(20)"
    )
    request = submit(
        django_capture_on_commit_callbacks, catalogue["11"], requester_a, request_data("11")
    )
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.FAILED
    assert request.error_message == "Exceeded changed links limit(20)"
    assert request.correlation_id
    assert ledger(instant, request) == []
    assert len(mail.outbox) == 1 and request.correlation_id in mail.outbox[0].body
    first_upstream = request.upstream_id

    with django_capture_on_commit_callbacks(execute=True):
        services.request_retry(item=request, actor=requester_a)
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert request.upstream_id != first_upstream
    assert len(ledger(instant, request)) == 1
    assert len(mail.outbox) == 2
    assert_no_task_failures()


def test_a_lost_answer_on_a_retried_request_adopts_the_new_upstream_request(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    instant.control(
        "requests/fail-next", tenant="contoso", message="Exceeded changed links limit(20)"
    )
    request = submit(
        django_capture_on_commit_callbacks, catalogue["11"], requester_a, request_data("11")
    )
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.FAILED
    failed_upstream = request.upstream_id
    # The retry's POST reaches Point but its answer is lost: the lookup must not pick the
    # failed request of the first round.
    instant.control(
        "faults", method="POST", path="/point/contoso/v1.0/provision/groups", kind="reset_after"
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.request_retry(item=request, actor=requester_a)
    request.refresh_from_db()
    assert request.state == State.CONFIRMING
    request = drive(django_capture_on_commit_callbacks, request)
    assert request.state == State.COMPLETED
    assert request.upstream_id not in ("", failed_upstream)
    assert len(ledger(instant, request)) == 1

"""The request page shows Point's approval process: its stages, who approves each, where it
waits, and when each stage moved (as far as Point says)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from portal.models import User
from provisioning.models import Template
from provisioning.states import State
from tests.conftest import client_for
from tests.provisioning.lifecycle import NESTOR, drive, make_due, poll, request_data, submit
from upstreams.contract import Status
from upstreams.point import wire

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

Capture = DjangoCaptureOnCommitCallbacks


def test_stages_read_in_any_spelling_with_their_number_and_time() -> None:
    found = wire.request_status(
        {
            "id": "r1",
            "status": "Pending",
            "Approval": {
                "Process": "Manager and admin approval",
                "Stages": [
                    {
                        "Stage": 1,
                        "Approvers": ["m@x"],
                        "Status": "Approved",
                        "ResolvedBy": "m@x",
                        "ResolvedOn": "2026-08-20T09:20:11Z",
                    },
                    {"stageNumber": "2", "approvers": [{"mail": "a@x"}], "status": 0},
                ],
            },
        }
    )
    assert found.approval_process == "Manager and admin approval"
    first, second = found.stages
    assert (first.number, first.status, first.resolved_by) == (1, Status.APPROVED, "m@x")
    assert first.resolved_at is not None and first.resolved_at.minute == 20
    assert (second.number, second.approvers, second.resolved_at) == (2, ("a@x",), None)


def test_the_page_shows_where_point_waits_and_who_approved(
    catalogue: dict[str, Template],
    instant: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = submit(
        django_capture_on_commit_callbacks, catalogue["32"], requester_a, request_data("32")
    )
    assert request.state == State.WAITING_APPROVAL
    client = client_for(requester_a)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Approval in Point" in page
    assert 'aria-current="step"' in page and "Waiting here" in page
    instant.control(f"requests/{request.upstream_id}/approve", by=NESTOR, comment="Fine")
    make_due(request)
    poll(django_capture_on_commit_callbacks)
    request = drive(django_capture_on_commit_callbacks, request)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f"by {NESTOR}" in page and "“Fine”" in page
    assert "Waiting here" not in page

"""The poller: per-request back-off, bounded batches, resuming sends."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from core.scheduling import all_specs
from portal.models import User
from provisioning import services, tasks
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.services import following
from provisioning.states import State
from tenants import upstream as tenant_upstream
from tenants.models import Tenant
from tests.provisioning.lifecycle import (
    make_due,
    poll,
    request_data,
    submit,
)
from tests.provisioning.ui_fixtures import make_template
from upstreams.contract import RequestStatus, Status, Throttled, WorkspaceSpec
from upstreams.point import wire

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

Capture = DjangoCaptureOnCommitCallbacks


def status(status: str, **extra: Any) -> RequestStatus:
    """What Point would answer, read by Point's own reader."""
    return wire.request_status({"id": "u-1", "status": status, **extra})


class FakeUpstream:
    """Answers status checks from a dict and records them."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.asked: list[str] = []
        self.posted: list[str] = []

    def get_request(self, request_id: str) -> RequestStatus:
        self.asked.append(request_id)
        answer = self.answers.get(request_id, status("Pending"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def submit(self, spec: WorkspaceSpec) -> RequestStatus:
        self.posted.append(spec.display_name)
        return RequestStatus(id=f"new-{len(self.posted)}", status=Status.APPROVED)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    fake = FakeUpstream()
    monkeypatch.setattr(tenant_upstream, "provider_for", lambda tenant: fake)
    return fake


def in_flight(
    template: Template, user: User, upstream_id: str, *, due_ago: int = 1, **extra: Any
) -> ProvisioningRequest:
    now = timezone.now()
    values: dict[str, Any] = {
        "tenant": template.tenant,
        "template": template,
        "requested_by": user,
        "workload": template.workload,
        "display_name": upstream_id,
        "final_name": upstream_id,
        "state": State.WAITING_APPROVAL,
        "upstream_id": upstream_id,
        "poll_interval": 10,
        "next_poll_at": now - timedelta(seconds=due_ago),
        **extra,
    }
    return ProvisioningRequest.objects.create(**values)


def test_the_interval_starts_small_doubles_and_is_capped(settings: Settings) -> None:
    settings.PROVISIONING_POLL_MIN_INTERVAL = 10
    settings.PROVISIONING_POLL_MAX_INTERVAL = 300
    intervals = [0]
    for _ in range(7):
        intervals.append(services.next_poll_interval(intervals[-1], changed=False))
    assert intervals[1:] == [10, 20, 40, 80, 160, 300, 300]
    assert services.next_poll_interval(300, changed=True) == 10


def test_back_off_grows_while_nothing_changes_and_resets_on_a_change(
    catalogue: dict[str, Template],
    emulator: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    emulator.control("timing", approval=0, approved=600, in_progress=600)
    request = submit(
        django_capture_on_commit_callbacks, catalogue["32"], requester_a, request_data("32")
    )
    assert request.state == State.WAITING_APPROVAL
    intervals = [request.poll_interval]
    for _ in range(6):
        make_due(request)
        poll(django_capture_on_commit_callbacks)
        request.refresh_from_db()
        intervals.append(request.poll_interval)
        assert request.next_poll_at is not None and request.last_polled_at is not None
        assert request.next_poll_at >= request.last_polled_at + timedelta(
            seconds=request.poll_interval
        )
    assert intervals == [10, 20, 40, 80, 160, 300, 300]
    emulator.control(
        f"requests/{request.upstream_id}/approve", by="nestor.wilke@contoso.onmicrosoft.com"
    )
    make_due(request)
    poll(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == State.APPROVED
    assert request.poll_interval == 10


def test_a_due_request_is_checked_and_one_not_due_is_left_alone(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    due = in_flight(template, requester_a, "due")
    later = in_flight(template, requester_a, "later", due_ago=-60)
    tasks.poll_requests()
    assert upstream.asked == ["due"]
    later.refresh_from_db()
    assert later.last_polled_at is None
    due.refresh_from_db()
    assert due.last_polled_at is not None


def test_the_poller_checks_every_due_request_once_most_overdue_first(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    in_flight(template, requester_a, "recent", due_ago=5)
    in_flight(template, requester_a, "oldest", due_ago=300)
    in_flight(template, requester_a, "older", due_ago=100)
    report = services.poll_due()
    assert upstream.asked == ["oldest", "older", "recent"]
    assert (report.due, report.refreshed, report.left) == (3, 3, 0)
    services.poll_due()
    assert len(upstream.asked) == 3  # none due again yet


def test_a_spent_budget_leaves_the_rest_first_in_line_for_the_next_pass(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream, settings: Settings
) -> None:
    settings.PROVISIONING_POLL_BUDGET = 0
    template = make_template(tenant_a, 32)
    waiting = in_flight(template, requester_a, "waiting", due_ago=5)
    report = services.poll_due()
    assert (report.due, report.refreshed, report.left) == (1, 0, 1)
    assert upstream.asked == []
    waiting.refresh_from_db()
    assert waiting.next_poll_at is not None and waiting.next_poll_at <= timezone.now()
    settings.PROVISIONING_POLL_BUDGET = 40
    services.poll_due()
    assert upstream.asked == ["waiting"]


def test_a_tenant_answering_429_is_left_alone_for_the_rest_of_the_pass(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    first = in_flight(template, requester_a, "first", due_ago=60)
    second = in_flight(template, requester_a, "second", due_ago=30)
    upstream.answers["first"] = Throttled("Too many requests", retry_after=120)
    report = services.poll_due()
    assert upstream.asked == ["first"]
    assert report.throttled == 1
    for item in (first, second):
        item.refresh_from_db()
        assert item.next_poll_at is not None
        assert item.next_poll_at >= timezone.now() + timedelta(seconds=110)


def test_one_failing_request_does_not_stop_the_batch(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    in_flight(template, requester_a, "broken", due_ago=60)
    fine = in_flight(template, requester_a, "fine", due_ago=30)
    upstream.answers["broken"] = RuntimeError("a bug")
    upstream.answers["fine"] = status("Approved")
    report = services.poll_due()
    assert report.errors == 1
    fine.refresh_from_db()
    assert fine.state == State.APPROVED


def test_an_upstream_error_keeps_the_state_and_backs_off(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    request = in_flight(template, requester_a, "u-1", poll_interval=40)
    upstream.answers["u-1"] = Throttled("slow down", retry_after=200)
    assert services.request_refresh(request_id=request.pk) is False
    request.refresh_from_db()
    assert request.state == State.WAITING_APPROVAL
    assert request.poll_interval == 200  # Retry-After beats the back-off (80)
    assert not request.events.exists()


def test_progress_is_kept_and_a_final_state_stops_polling(
    tenant_a: Tenant,
    requester_a: User,
    upstream: FakeUpstream,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    template = make_template(tenant_a, 32)
    request = in_flight(template, requester_a, "u-1", state=State.APPROVED)
    upstream.answers["u-1"] = status("InProgress", progress=40)
    assert services.request_refresh(request_id=request.pk)
    request.refresh_from_db()
    assert (request.state, request.progress) == (State.IN_PROGRESS, 40)
    upstream.answers["u-1"] = status("InProgress", progress=40)
    assert services.request_refresh(request_id=request.pk) is False
    upstream.answers["u-1"] = status(
        "Failed",
        error="Team with group id 1 was not created. 3 attempts made.",
        correlationId="c-42",
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.request_refresh(request_id=request.pk)
    request.refresh_from_db()
    assert request.state == State.FAILED
    assert request.next_poll_at is None
    assert request.correlation_id == "c-42"
    assert "was not created" in request.error_message
    event = request.events.last()
    assert event is not None and event.source == RequestEvent.Source.POLL
    assert "c-42" in event.detail


def test_a_status_that_cannot_follow_the_current_state_is_ignored(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    request = in_flight(template, requester_a, "u-1", state=State.IN_PROGRESS)
    upstream.answers["u-1"] = status("Pending")
    services.request_refresh(request_id=request.pk)
    request.refresh_from_db()
    assert request.state == State.IN_PROGRESS
    assert request.next_poll_at is not None


def test_the_poller_resumes_a_send_whose_retry_time_came(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 3)
    request = in_flight(
        template,
        requester_a,
        "",
        state=State.SUBMITTED,
        form_data={"display_name": "Kite"},
    )
    report = services.poll_due()
    assert report.sends_resumed == 1
    assert upstream.posted == ["Kite"]
    request.refresh_from_db()
    assert request.state == State.APPROVED


def test_the_poller_resumes_a_send_whose_task_was_lost(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream, settings: Settings
) -> None:
    template = make_template(tenant_a, 3)
    request = in_flight(
        template,
        requester_a,
        "",
        state=State.SUBMITTED,
        next_poll_at=None,
        form_data={"display_name": "Kite"},
    )
    services.poll_due()
    assert upstream.posted == [], "a just-submitted request is left to its own task"
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SEND_LEASE + 1)
    )
    services.poll_due()
    assert upstream.posted == ["Kite"]


def test_the_poller_runs_every_minute() -> None:
    specs = {spec.name: spec for spec in all_specs()}
    assert specs["provisioning.poll_requests"].func == "provisioning.tasks.poll_requests"
    assert specs["provisioning.poll_requests"].minutes == 1


def test_a_watched_page_checks_a_due_request_once_however_many_watch(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    due = in_flight(template, requester_a, "due")
    upstream.answers["due"] = status("Approved")
    assert services.request_watched(item=due) is True
    # A second viewer holding the same (stale) copy: the claim is gone, no second check.
    assert services.request_watched(item=due) is False
    assert upstream.asked == ["due"]
    due.refresh_from_db()
    assert due.state == State.APPROVED


def test_a_watched_page_leaves_a_request_that_is_not_due_alone(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    template = make_template(tenant_a, 32)
    later = in_flight(template, requester_a, "later", due_ago=-60)
    assert services.request_watched(item=later) is False
    assert upstream.asked == []


def test_watching_brings_a_backed_off_check_near(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream, settings: Settings
) -> None:
    settings.PROVISIONING_POLL_MIN_INTERVAL = 10
    template = make_template(tenant_a, 32)
    waiting = in_flight(template, requester_a, "waiting", due_ago=-280, poll_interval=300)
    assert services.request_watched(item=waiting) is False  # not due: no check now
    waiting.refresh_from_db()
    assert waiting.next_poll_at is not None
    assert waiting.next_poll_at <= timezone.now() + timedelta(seconds=10)
    assert waiting.poll_interval == 10
    assert upstream.asked == []


def test_a_request_another_pass_holds_is_not_taken_back_by_the_webhook_reset(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    # A pass that started a moment after this one holds its claim beyond this pass's own hold;
    # only unclaimed requests pushed far out by trusted webhooks are brought back.
    template = make_template(tenant_a, 32)
    held = in_flight(template, requester_a, "held", due_ago=-400, poll_claim=uuid.uuid4())
    far = in_flight(template, requester_a, "far", due_ago=-1800)
    report = services.poll_due()
    assert upstream.asked == ["far"]
    assert report.refreshed == 1
    held.refresh_from_db()
    assert held.last_polled_at is None
    assert held.next_poll_at is not None and held.next_poll_at > timezone.now()
    far.refresh_from_db()
    assert far.poll_claim is None  # a check clears the claim it was made under


def test_tenants_take_turns_so_one_backlog_does_not_hold_the_others_back(
    tenant_a: Tenant, tenant_b: Tenant, requester_a: User, upstream: FakeUpstream
) -> None:
    backlog, other = make_template(tenant_a, 32), make_template(tenant_b, 32)
    for n in range(6):
        in_flight(backlog, requester_a, f"a{n}", due_ago=600 - n)
    for n in range(2):
        in_flight(other, requester_a, f"b{n}", due_ago=10 - n)
    services.poll_due()
    assert upstream.asked[:4] == ["a0", "b0", "a1", "b1"]
    assert sorted(upstream.asked) == [*(f"a{n}" for n in range(6)), "b0", "b1"]


def test_a_watched_request_is_checked_once_however_long_its_task_waits(
    tenant_a: Tenant, requester_a: User, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(following, "async_task", lambda *args: queued.append(args))
    template = make_template(tenant_a, 32)
    item = in_flight(template, requester_a, "slow-queue")
    assert services.request_watched(item=item) is True
    # The task has not run; the page reloads after its 10 s hold, many times: nothing more.
    ProvisioningRequest.objects.filter(pk=item.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=1)
    )
    for _ in range(3):
        item.refresh_from_db()
        assert services.request_watched(item=item) is False
    assert len(queued) == 1
    # A poller pass takes it over meanwhile; the late task then asks nothing.
    services.poll_due()
    assert upstream.asked == ["slow-queue"]
    _, pk, claim = queued[0]
    assert tasks.refresh_request(pk, claim) is False
    assert upstream.asked == ["slow-queue"]

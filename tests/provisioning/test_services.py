"""Submit, retry, cancel and the one place that changes state (no upstream needed)."""

from __future__ import annotations

import pytest
from django.core import mail
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from audit.models import AuditAction, AuditEvent
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.payload import RequestData
from provisioning.states import State, TransitionRefused
from tenants.models import Tenant
from tests.provisioning.ui_fixtures import make_template

ADELE = "adele.vance@contoso.onmicrosoft.com"


@pytest.fixture
def team_template(tenant_a: Tenant) -> Template:
    return make_template(tenant_a, 1)


def project(name: str = "Falcon") -> RequestData:
    return RequestData(
        display_name=name,
        description="Launch",
        desired_url="falcon",
        is_private=True,
        owners=[ADELE, "alex.wilber@contoso.onmicrosoft.com"],
        metadata={"Cost Center": "CC-1", "Project Manager": ADELE, "Department": "Finance"},
    )


def submit(template: Template, user: User, data: RequestData | None = None) -> ProvisioningRequest:
    return services.request_submit(
        tenant=template.tenant, template=template, requested_by=user, data=data or project()
    )


def test_submit_stores_the_request_with_its_final_name_and_what_to_send(
    team_template: Template,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        request = submit(team_template, requester_a)
    request.refresh_from_db()
    assert request.state == State.SUBMITTED
    assert request.final_name == "PRJ - Falcon"
    assert request.workload == team_template.workload
    assert request.form_data["display_name"] == "Falcon"
    spec = services.workspace_spec(request)
    assert (spec.template_id, spec.desired_url) == ("1", "falcon")
    assert spec.metadata["Department"] == "Finance"
    assert request.idempotency_key is not None
    event = request.events.get()
    assert (event.from_state, event.to_state, event.source, event.actor) == (
        "",
        State.SUBMITTED,
        RequestEvent.Source.PORTAL,
        requester_a,
    )
    audit = AuditEvent.objects.get(action=AuditAction.REQUEST_SUBMITTED)
    assert audit.user == requester_a and audit.tenant == team_template.tenant
    # The send task is queued only once the row is committed.
    assert len(callbacks) == 1


def test_two_submits_get_different_idempotency_keys(
    team_template: Template, requester_a: User
) -> None:
    first = submit(team_template, requester_a)
    second = submit(team_template, requester_a, project("Eagle"))
    assert first.idempotency_key != second.idempotency_key


@pytest.mark.parametrize("change", ["hidden", "removed_upstream"])
def test_submit_refuses_a_template_that_is_not_offered(
    team_template: Template, requester_a: User, change: str
) -> None:
    setattr(team_template, change, True)
    team_template.save()
    with pytest.raises(services.SubmitRefused):
        submit(team_template, requester_a)
    assert not ProvisioningRequest.objects.exists()


def test_submit_refuses_another_tenants_template(
    tenant_b: Tenant, requester_a: User, team_template: Template
) -> None:
    with pytest.raises(services.SubmitRefused):
        services.request_submit(
            tenant=tenant_b, template=team_template, requested_by=requester_a, data=project()
        )
    assert not ProvisioningRequest.objects.exists()


def test_cancel_before_sending_is_recorded_and_audited(
    team_template: Template, requester_a: User
) -> None:
    request = submit(team_template, requester_a)
    services.request_cancel(item=request, actor=requester_a)
    request.refresh_from_db()
    assert request.state == State.CANCELLED
    assert request.finished_at is not None
    assert request.events.last().actor == requester_a  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_CANCELLED).count() == 1


def test_cancel_is_refused_once_the_send_task_claimed_the_request(
    team_template: Template, requester_a: User
) -> None:
    request = submit(team_template, requester_a)
    stale = ProvisioningRequest.objects.get(pk=request.pk)  # the page the person looked at
    ProvisioningRequest.objects.filter(pk=request.pk).update(state=State.SENDING)
    with pytest.raises(TransitionRefused, match="already being sent"):
        services.request_cancel(item=stale, actor=requester_a)
    request.refresh_from_db()
    assert request.state == State.SENDING
    assert not AuditEvent.objects.filter(action=AuditAction.REQUEST_CANCELLED).exists()


@pytest.mark.parametrize("state", [State.SENDING, State.WAITING_APPROVAL, State.COMPLETED])
def test_cancel_is_refused_after_submitted(
    team_template: Template, requester_a: User, state: State
) -> None:
    request = submit(team_template, requester_a)
    request.state = state
    request.save()
    with pytest.raises(TransitionRefused):
        services.request_cancel(item=request, actor=requester_a)


def test_retry_of_a_failed_request_sends_it_again_with_a_new_key(
    team_template: Template,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    request = submit(team_template, requester_a)
    old_key = request.idempotency_key
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        state=State.FAILED,
        upstream_id="u-1",
        error_message="boom",
        correlation_id="c-1",
        field_errors={"owners": ["x"]},
        send_attempts=3,
    )
    request.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks:
        services.request_retry(item=request, actor=requester_a)
    request.refresh_from_db()
    assert request.state == State.SUBMITTED
    assert request.idempotency_key != old_key
    assert (request.upstream_id, request.error_message, request.correlation_id) == ("", "", "")
    assert request.field_errors == {} and request.send_attempts == 0
    assert request.finished_at is None
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_RETRIED).count() == 1
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    "state", [State.SUBMITTED, State.IN_PROGRESS, State.COMPLETED, State.REJECTED]
)
def test_retry_is_refused_unless_failed(
    team_template: Template, requester_a: User, state: State
) -> None:
    request = submit(team_template, requester_a)
    request.state = state
    request.save()
    with pytest.raises(TransitionRefused, match="Only a failed request"):
        services.request_retry(item=request, actor=requester_a)


def test_retry_is_refused_when_the_template_was_removed(
    team_template: Template, requester_a: User
) -> None:
    request = submit(team_template, requester_a)
    ProvisioningRequest.objects.filter(pk=request.pk).update(state=State.FAILED)
    Template.objects.filter(pk=team_template.pk).update(removed_upstream=True)
    request = ProvisioningRequest.objects.get(pk=request.pk)
    with pytest.raises(TransitionRefused, match="clone"):
        services.request_retry(item=request, actor=requester_a)


def test_a_transition_two_workers_race_for_is_applied_once(
    team_template: Template,
    requester_a: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    request = submit(team_template, requester_a)
    ProvisioningRequest.objects.filter(pk=request.pk).update(state=State.IN_PROGRESS)
    worker_one = ProvisioningRequest.objects.get(pk=request.pk)
    worker_two = ProvisioningRequest.objects.get(pk=request.pk)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.record_transition(
            item=worker_one,
            to_state=State.COMPLETED,
            source=RequestEvent.Source.POLL,
            workspace_url="https://contoso.sharepoint.com/sites/prj-falcon",
        )
        second = services.record_transition(
            item=worker_two, to_state=State.COMPLETED, source=RequestEvent.Source.WEBHOOK
        )
    assert (first, second) == (True, False)
    assert request.events.filter(to_state=State.COMPLETED).count() == 1
    assert len(mail.outbox) == 1


def test_a_transition_the_life_cycle_forbids_is_refused(
    team_template: Template, requester_a: User
) -> None:
    request = submit(team_template, requester_a)
    with pytest.raises(TransitionRefused):
        services.record_transition(
            item=request, to_state=State.COMPLETED, source=RequestEvent.Source.POLL
        )
    request.refresh_from_db()
    assert request.state == State.SUBMITTED
    assert request.events.count() == 1


def test_a_final_state_stamps_finished_at_and_stops_polling(
    team_template: Template, requester_a: User
) -> None:
    request = submit(team_template, requester_a)
    ProvisioningRequest.objects.filter(pk=request.pk).update(state=State.IN_PROGRESS)
    request.refresh_from_db()
    request.next_poll_at = request.created_at
    request.save()
    assert services.record_transition(
        item=request, to_state=State.FAILED, source=RequestEvent.Source.POLL, detail="boom"
    )
    request.refresh_from_db()
    assert request.finished_at is not None
    assert request.next_poll_at is None
    assert request.events.last().detail == "boom"

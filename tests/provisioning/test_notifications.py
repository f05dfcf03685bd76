"""E-mail to the requester on completed, failed and rejected; once each."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from portal.models import User
from provisioning import notifications, services, tasks
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from provisioning.states import State
from tenants import upstream as tenant_upstream
from tenants.models import Tenant
from tests.provisioning.ui_fixtures import make_template
from upstreams.contract import RequestStatus
from upstreams.point import wire

Capture = DjangoCaptureOnCommitCallbacks


@pytest.fixture
def template(tenant_a: Tenant) -> Template:
    return make_template(tenant_a, 1)


def request_in(template: Template, user: User, state: State, **extra: Any) -> ProvisioningRequest:
    return ProvisioningRequest.objects.create(
        tenant=template.tenant,
        template=template,
        requested_by=user,
        workload=template.workload,
        display_name="Falcon",
        final_name="PRJ - Falcon",
        state=state,
        upstream_id="u-1",
        **extra,
    )


def answer(status: str, **extra: Any) -> RequestStatus:
    """What Point would answer, read by Point's own reader."""
    return wire.request_status({"id": "u-1", "status": status, **extra})


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> dict[str, RequestStatus]:
    answers: dict[str, RequestStatus] = {}

    class Fake:
        def get_request(self, request_id: str) -> RequestStatus:
            return answers["now"]

    monkeypatch.setattr(tenant_upstream, "provider_for", lambda tenant: Fake())
    return answers


def refresh(capture: Capture, request: ProvisioningRequest) -> None:
    with capture(execute=True):
        services.request_refresh(request_id=request.pk)


def test_completed_mail_links_the_workspace_and_the_request(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
    settings: Settings,
) -> None:
    settings.PORTAL_BASE_URL = "https://portal.contoso.example"
    request = request_in(template, requester_a, State.IN_PROGRESS)
    upstream["now"] = answer(
        "Completed",
        result={"url": "https://contoso.sharepoint.com/sites/prj-falcon", "microsoftId": "m-1"},
    )
    refresh(django_capture_on_commit_callbacks, request)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [requester_a.email]
    assert "PRJ - Falcon" in sent.subject and "ready" in sent.subject
    assert "https://contoso.sharepoint.com/sites/prj-falcon" in sent.body
    assert f"https://portal.contoso.example/requests/{request.pk}/" in sent.body
    html = sent.alternatives[0].content  # type: ignore[attr-defined]
    assert 'href="https://contoso.sharepoint.com/sites/prj-falcon"' in html


def test_failed_mail_gives_the_error_and_the_correlation_id(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = request_in(template, requester_a, State.IN_PROGRESS)
    upstream["now"] = answer(
        "Failed", error="Exceeded changed links limit(20)", correlationId="c-77"
    )
    refresh(django_capture_on_commit_callbacks, request)
    assert len(mail.outbox) == 1
    assert "failed" in mail.outbox[0].subject
    assert "Exceeded changed links limit(20)" in mail.outbox[0].body
    assert "c-77" in mail.outbox[0].body


def test_rejected_mail_quotes_the_approver(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = request_in(template, requester_a, State.WAITING_APPROVAL)
    upstream["now"] = answer(
        "Rejected",
        approval={
            "stages": [
                {
                    "stage": 1,
                    "status": "Rejected",
                    "resolvedBy": "nestor.wilke@contoso.onmicrosoft.com",
                    "comment": "Use the existing Falcon team",
                },
            ]
        },
    )
    refresh(django_capture_on_commit_callbacks, request)
    assert len(mail.outbox) == 1
    assert "rejected" in mail.outbox[0].subject
    assert "The approver wrote: Use the existing Falcon team" in mail.outbox[0].body


def test_a_request_moving_on_without_an_outcome_sends_nothing(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = request_in(template, requester_a, State.WAITING_APPROVAL)
    upstream["now"] = answer("Approved")
    refresh(django_capture_on_commit_callbacks, request)
    upstream["now"] = answer("InProgress", progress=10)
    refresh(django_capture_on_commit_callbacks, request)
    assert mail.outbox == []


def test_the_outcome_is_mailed_once_however_often_it_is_seen(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = request_in(template, requester_a, State.IN_PROGRESS)
    stale_copy = ProvisioningRequest.objects.get(pk=request.pk)  # e.g. a webhook's view of it
    upstream["now"] = answer("Completed", result={"url": "https://contoso.sharepoint.com/sites/x"})
    refresh(django_capture_on_commit_callbacks, request)
    refresh(django_capture_on_commit_callbacks, request)  # final: not polled again
    with django_capture_on_commit_callbacks(execute=True):
        applied = services.record_transition(
            item=stale_copy, to_state=State.COMPLETED, source=RequestEvent.Source.WEBHOOK
        )
    assert applied is False
    assert len(mail.outbox) == 1


def test_no_mail_for_a_failure_already_retried(template: Template, requester_a: User) -> None:
    request = request_in(template, requester_a, State.SUBMITTED)
    assert tasks.notify_requester(request.pk, State.FAILED) is False
    assert mail.outbox == []


def test_no_mail_for_a_cancelled_request(template: Template, requester_a: User) -> None:
    request = request_in(template, requester_a, State.CANCELLED)
    assert notifications.send_outcome(request_id=request.pk, state=State.CANCELLED) is False
    assert mail.outbox == []


def test_a_redelivered_mail_task_does_not_mail_twice(
    template: Template,
    requester_a: User,
    upstream: dict[str, RequestStatus],
    django_capture_on_commit_callbacks: Capture,
) -> None:
    request = request_in(template, requester_a, State.IN_PROGRESS)
    upstream["now"] = answer("Failed", error="Exceeded changed links limit(20)")
    refresh(django_capture_on_commit_callbacks, request)
    # django-q redelivers a task whose worker died after sending: the claim stops a second mail.
    assert tasks.notify_requester(request.pk, State.FAILED) is False
    assert len(mail.outbox) == 1


def test_a_mail_that_could_not_be_sent_is_sent_on_the_retry(
    template: Template, requester_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = request_in(template, requester_a, State.FAILED, error_message="boom")
    RequestEvent.objects.create(
        request=request,
        source=RequestEvent.Source.POLL,
        from_state=State.IN_PROGRESS,
        to_state=State.FAILED,
    )
    real_send = notifications.EmailMultiAlternatives.send

    def smtp_down(self: Any, fail_silently: bool = False) -> int:
        raise OSError("SMTP unreachable")

    monkeypatch.setattr(notifications.EmailMultiAlternatives, "send", smtp_down)
    with pytest.raises(OSError):
        tasks.notify_requester(request.pk, State.FAILED)
    monkeypatch.setattr(notifications.EmailMultiAlternatives, "send", real_send)
    assert tasks.notify_requester(request.pk, State.FAILED) is True
    assert len(mail.outbox) == 1

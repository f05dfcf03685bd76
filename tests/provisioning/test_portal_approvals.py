"""Approval stages run in the portal before anything is sent upstream: the approver's queue,
approve or reject with a comment, stages in order, reminders, timeline and audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from portal.models import User
from provisioning import services
from provisioning.admin import TemplateStagesForm
from provisioning.models import PortalApproval, ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import State
from tenants.models import Tenant
from tests.conftest import client_for
from tests.provisioning.ui_fixtures import make_template


@pytest.fixture
def two_stage(tenant_a: Tenant, requester_b: User) -> Template:
    """Stage 1: a named approver (requester_b, by e-mail); stage 2: IT staff."""
    template = make_template(tenant_a, 3)
    template.portal_stages = [
        {"kind": "group", "approvers": [requester_b.email]},
        {"kind": "it_staff", "approvers": []},
    ]
    template.save()
    return template


def submit(template: Template, user: User) -> ProvisioningRequest:
    with patch("provisioning.services.requests.enqueue_send") as send:
        item = services.request_submit(
            tenant=template.tenant,
            template=template,
            requested_by=user,
            data=RequestData(display_name="Approved Falcon", owners=[user.email]),
        )
    assert send.call_count == 0  # nothing goes upstream before the stages
    item.refresh_from_db()
    return item


def decide(client: Any, approval: PortalApproval, decision: str, comment: str = "") -> str:
    response = client.post(
        f"/requests/approvals/{approval.pk}/decide",
        {"decision": decision, "comment": comment, "next": "queue"},
        follow=True,
    )
    return str(response.content.decode())


def test_two_stages_through_the_approvers_queue_then_the_request_is_sent(
    two_stage: Template, requester_a: User, requester_b: User, it_staff: User
) -> None:
    item = submit(two_stage, requester_a)
    assert item.state == State.PORTAL_APPROVAL
    first, second = item.portal_approvals.order_by("stage")
    assert (first.decision, second.decision) == ("waiting", "pending")
    approver, staff = client_for(requester_b), client_for(it_staff)
    assert "Approved Falcon" in approver.get("/requests/approvals/").content.decode()
    assert "Approved Falcon" not in staff.get("/requests/approvals/").content.decode()
    assert "Nothing waits" in client_for(requester_a).get("/requests/approvals/").content.decode()
    # The named approver may open the request, and decide there too.
    assert approver.get(f"/requests/{item.pk}/").status_code == 200
    page = decide(approver, first, "approve", "Fine by me")
    assert "Stage 1 of “Approved Falcon” approved" in page
    assert "Approved Falcon" in staff.get("/requests/approvals/").content.decode()
    with patch("provisioning.services.approvals.enqueue_send") as send:
        decide(staff, second, "approve")
    assert send.call_count == 1
    item.refresh_from_db()
    assert item.state == State.SUBMITTED  # on its way upstream
    timeline = list(item.events.values_list("detail", flat=True))
    assert any("Stage 1 approved by" in d and "Fine by me" in d for d in timeline)
    assert any("Every portal stage is approved" in d for d in timeline)
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_APPROVED).count() == 2


def test_a_rejection_needs_a_comment_and_ends_the_request(
    two_stage: Template, requester_a: User, requester_b: User
) -> None:
    item = submit(two_stage, requester_a)
    first = item.portal_approvals.get(stage=1)
    approver = client_for(requester_b)
    assert "Say why you reject it" in decide(approver, first, "reject")
    decide(approver, first, "reject", "Use the existing team")
    item.refresh_from_db()
    assert item.state == State.REJECTED
    assert item.error_message == "Use the existing team"
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_REJECTED).exists()
    page = client_for(requester_a).get(f"/requests/{item.pk}/").content.decode()
    assert "Use the existing team" in page


def test_nobody_decides_twice_nor_their_own_request(
    two_stage: Template, requester_a: User, requester_b: User
) -> None:
    item = submit(two_stage, requester_a)
    first = item.portal_approvals.get(stage=1)
    assert "not waiting for your decision" in decide(client_for(requester_a), first, "approve")
    decide(client_for(requester_b), first, "approve")
    assert "not waiting for your decision" in decide(client_for(requester_b), first, "approve")
    assert item.portal_approvals.get(stage=1).decision == "approved"


def test_the_requester_may_cancel_while_it_waits_for_approval(
    two_stage: Template, requester_a: User
) -> None:
    item = submit(two_stage, requester_a)
    client_for(requester_a).post(f"/requests/{item.pk}/cancel")
    item.refresh_from_db()
    assert item.state == State.CANCELLED


def test_approvers_of_a_stage_waiting_too_long_are_reminded_once_in_a_while(
    two_stage: Template, requester_a: User, requester_b: User
) -> None:
    item = submit(two_stage, requester_a)
    PortalApproval.objects.filter(request=item, stage=1).update(
        waiting_since=timezone.now() - timedelta(days=2)
    )
    assert services.approvals_remind() == 1
    assert services.approvals_remind() == 0  # not again before another day
    assert [m.to for m in mail.outbox] == [[requester_b.email]]
    assert "/requests/approvals/" in mail.outbox[0].body
    assert item.events.filter(detail__startswith="Reminder sent").count() == 1


def test_a_template_without_stages_is_sent_at_once(tenant_a: Tenant, requester_a: User) -> None:
    template = make_template(tenant_a, 3)
    with patch("provisioning.services.requests.enqueue_send") as send:
        services.request_submit(
            tenant=tenant_a,
            template=template,
            requested_by=requester_a,
            data=RequestData(display_name="Straight", owners=[requester_a.email]),
        )
    assert send.call_count == 1


def test_the_admin_form_refuses_a_manager_stage_on_point_and_unnamed_approvers(
    tenant_a: Tenant,
) -> None:
    template = make_template(tenant_a, 3)
    form = TemplateStagesForm(
        data={"stage_1_kind": "manager", "stage_2_kind": "group", "stage_2_approvers": ""},
        instance=template,
    )
    assert not form.is_valid()
    assert "cannot tell who a requester's manager is" in form.errors["stage_1_kind"][0]
    assert "Name at least one approver" in form.errors["stage_2_approvers"][0]
    ok = TemplateStagesForm(
        data={"stage_1_kind": "group", "stage_1_approvers": "Nestor@Contoso.example"},
        instance=template,
    )
    assert ok.is_valid(), ok.errors
    ok.save()
    template.refresh_from_db()
    assert template.portal_stages == [{"kind": "group", "approvers": ["nestor@contoso.example"]}]

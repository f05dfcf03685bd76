"""Approval stages run in the portal before a request is sent upstream.

An admin gives a template one to three stages (`Template.portal_stages`): named approvers, or
the tenant's IT staff. (The requester's manager needs an upstream that can tell who that is;
Point cannot, so the admin form refuses it for Point tenants.) A request of such a template
waits in `portal_approval`: stage 1 waits for a decision, the others follow in order. Any one
approver of the waiting stage approves or rejects it, with a comment; approving the last stage
sends the request, rejecting any stage rejects it. Nobody approves their own request. Every
decision is in the timeline and the audit log; approvers of a stage waiting longer than
APPROVAL_REMIND_AFTER are reminded by e-mail (`approvals_remind`, scheduled).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from core.roles import is_staff
from provisioning.models import PortalApproval, ProvisioningRequest, RequestEvent
from provisioning.services.transitions import add_event, enqueue_send, record_transition
from provisioning.states import State, TransitionRefused
from tenants import people
from tenants.selectors import scope_to_user, tenants_for_user

if TYPE_CHECKING:
    from portal.models import User

logger = logging.getLogger(__name__)

MAX_STAGES = 3
Kind = PortalApproval.Kind
Decision = PortalApproval.Decision


def stage_text(approval: PortalApproval) -> str:
    if approval.kind == Kind.IT_STAFF:
        return "IT staff"
    return ", ".join(approval.approvers) or "nobody named"


def approvals_start(item: ProvisioningRequest) -> bool:
    """At submit (in its transaction): create the request's stages from its template and wait
    for the first. False when the template has none (send at once)."""
    stages = [s for s in item.template.portal_stages or [] if isinstance(s, dict)][:MAX_STAGES]
    if not stages:
        return False
    now = timezone.now()
    rows = [
        PortalApproval(
            request=item,
            stage=number,
            kind=stage.get("kind", Kind.IT_STAFF),
            approvers=[str(a).lower() for a in stage.get("approvers") or []],
            decision=Decision.WAITING if number == 1 else Decision.PENDING,
            waiting_since=now if number == 1 else None,
        )
        for number, stage in enumerate(stages, start=1)
    ]
    PortalApproval.objects.bulk_create(rows)
    record_transition(
        item=item,
        to_state=State.PORTAL_APPROVAL,
        source=RequestEvent.Source.PORTAL,
        detail=f"Waiting for approval in the portal before it is sent: stage 1 of {len(rows)} "
        f"({stage_text(rows[0])}).",
    )
    return True


def may_decide(user: User, approval: PortalApproval) -> bool:
    """Is the stage waiting, and is the person one of its approvers (never the requester)?"""
    item = approval.request
    if approval.decision != Decision.WAITING or item.requested_by_id == user.pk:
        return False
    if approval.kind == Kind.IT_STAFF:
        return is_staff(user) and tenants_for_user(user).filter(pk=item.tenant_id).exists()
    return bool(people.names_of(user) & set(approval.approvers))


def waiting_on(user: User) -> list[PortalApproval]:
    """The stages waiting for the person's decision, oldest first ("waiting on me")."""
    # Only in the tenants the person serves: a named approver's address is vouched for by
    # their own organisation's Entra, never another's (issue 19: listed across tenants).
    waiting = (
        scope_to_user(
            PortalApproval.objects.filter(decision=Decision.WAITING), user, "request__tenant"
        )
        .select_related("request__tenant", "request__template", "request__requested_by")
        .order_by("waiting_since", "pk")
    )
    return [a for a in waiting[:500] if may_decide(user, a)]


def approval_decide(
    *, approval: PortalApproval, user: User, approve: bool, comment: str = ""
) -> ProvisioningRequest:
    """Approve or reject the waiting stage (once: a second decision is refused)."""
    item = approval.request
    if not may_decide(user, approval):
        raise TransitionRefused("This stage is not waiting for your decision.")
    comment = comment.strip()[:2000]
    now = timezone.now()
    word = "approved" if approve else "rejected"
    who = user.get_full_name() or user.email
    said = f" Comment: {comment}" if comment else ""
    with transaction.atomic():
        taken = PortalApproval.objects.filter(pk=approval.pk, decision=Decision.WAITING).update(
            decision=Decision.APPROVED if approve else Decision.REJECTED,
            decided_by=user,
            comment=comment,
            decided_at=now,
        )
        if not taken:
            raise TransitionRefused("Someone decided this stage already.")
        detail = f"Stage {approval.stage} {word} by {who}.{said}"
        audit_record(
            action=AuditAction.REQUEST_APPROVED if approve else AuditAction.REQUEST_REJECTED,
            user=user,
            tenant=item.tenant,
            detail=f"Request {item.pk} ({item.final_name}): {detail}",
        )
        if not approve:
            record_transition(
                item=item,
                to_state=State.REJECTED,
                source=RequestEvent.Source.PERSON,
                detail=f"Rejected in the portal: {detail}",
                actor=user,
                error_message=comment,
            )
            return item
        following = (
            PortalApproval.objects.filter(request=item, decision=Decision.PENDING)
            .order_by("stage")
            .first()
        )
        if following is not None:
            PortalApproval.objects.filter(pk=following.pk).update(
                decision=Decision.WAITING, waiting_since=now
            )
            add_event(
                item,
                source=RequestEvent.Source.PERSON,
                from_state=State.PORTAL_APPROVAL,
                to_state=State.PORTAL_APPROVAL,
                detail=f"{detail} Now stage {following.stage} ({stage_text(following)}).",
                actor=user,
            )
            return item
        record_transition(
            item=item,
            to_state=State.SUBMITTED,
            source=RequestEvent.Source.PERSON,
            detail=f"{detail} Every portal stage is approved: sending to "
            f"{item.tenant.upstream_label}.",
            actor=user,
        )
        enqueue_send(item)
    return item


def _addresses(approval: PortalApproval) -> list[str]:
    if approval.kind == Kind.GROUP:
        return list(approval.approvers)
    staff = (
        get_user_model()
        .objects.filter(is_active=True, role__in=("it_staff", "admin"))
        .filter(home_tenant_id=approval.request.tenant_id)
    )
    return [u.email for u in staff if u.email]


def approvals_remind(now: datetime | None = None) -> int:
    """E-mail the approvers of stages waiting longer than APPROVAL_REMIND_AFTER (again after as
    long); each reminder is in the timeline. The number of reminders sent."""
    now = now or timezone.now()
    due = now - timedelta(seconds=settings.APPROVAL_REMIND_AFTER)
    waiting = PortalApproval.objects.filter(
        decision=Decision.WAITING, waiting_since__lt=due
    ).select_related("request__tenant")
    sent = 0
    for approval in waiting[:200]:
        if approval.reminded_at is not None and approval.reminded_at >= due:
            continue
        claimed = PortalApproval.objects.filter(
            pk=approval.pk, reminded_at=approval.reminded_at
        ).update(reminded_at=now)
        if not claimed:
            continue  # another worker reminds them
        item = approval.request
        link = settings.PORTAL_BASE_URL + reverse("provisioning:approvals")
        to = _addresses(approval)
        body = (
            f"The request “{item.final_name}” ({item.get_workload_display()}) has waited for "
            f"stage {approval.stage} since "
            f"{timezone.localtime(approval.waiting_since or now):%Y-%m-%d %H:%M %Z}. Approve or "
            f"reject it here: {link}"
        )
        if to:
            try:
                EmailMessage(f"Waiting for your approval: {item.final_name}", body, to=to).send()
            except Exception:  # a mail outage must not stop the other reminders
                logger.exception("Request %s: approval reminder not sent", item.pk)
        add_event(
            item,
            source=RequestEvent.Source.PORTAL,
            from_state=State.PORTAL_APPROVAL,
            to_state=State.PORTAL_APPROVAL,
            detail=f"Reminder sent to the approvers of stage {approval.stage} "
            f"({stage_text(approval)}).",
        )
        sent += 1
    return sent

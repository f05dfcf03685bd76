"""A person's side of a request: submit (once per form), retry, cancel."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from provisioning.models import (
    FailureKind,
    ProvisioningRequest,
    RequestEvent,
    RequestPerson,
    Template,
)
from provisioning.naming import final_names
from provisioning.payload import RequestData
from provisioning.services.approvals import approvals_start
from provisioning.services.sending import waited_long
from provisioning.services.transitions import add_event, enqueue_send, record_transition
from provisioning.states import State, TransitionRefused
from tenants.models import Tenant

if TYPE_CHECKING:
    from portal.models import User


class SubmitRefused(TransitionRefused):
    """The template cannot take a new request (hidden, removed upstream or another tenant's)."""


def request_submit(
    *,
    tenant: Tenant,
    template: Template,
    requested_by: User,
    data: RequestData,
    cloned_from: ProvisioningRequest | None = None,
    submission_key: str = "",
    via: str = "",
) -> ProvisioningRequest:
    """Store a new request and queue its send (on commit). Raises SubmitRefused.

    ``submission_key`` names the form (or API call) it comes from: a second submission with the
    same key by the same person raises IntegrityError (see ``request_submit_once``). ``via``
    names the API client it came through (the timeline and the audit log say so).
    """
    if template.tenant_id != tenant.pk:
        raise SubmitRefused("This template belongs to another tenant.")
    if template.removed_upstream:
        raise SubmitRefused(
            f"This template no longer exists in {tenant.upstream_label}; choose another one."
        )
    if template.hidden:
        raise SubmitRefused("This template is not offered any more; choose another one.")
    names = final_names(template.template_rules, data.display_name, data.desired_url)
    with transaction.atomic():
        item = ProvisioningRequest.objects.create(
            tenant=tenant,
            template=template,
            requested_by=requested_by,
            workload=template.workload,
            display_name=data.display_name,
            final_name=names.display_name,
            form_data=data.as_dict(),
            idempotency_key=uuid.uuid4(),
            submission_key=submission_key,
            state=State.SUBMITTED,
            cloned_from=cloned_from,
        )
        RequestPerson.objects.bulk_create(_people(item, data))
        source, through = _channel(via)
        add_event(
            item,
            source=source,
            to_state=State.SUBMITTED,
            detail=f"Submitted{through} with the template {template.name}.",
            actor=requested_by,
        )
        audit_record(
            action=AuditAction.REQUEST_SUBMITTED,
            user=requested_by,
            tenant=tenant,
            detail=f"Request {item.pk}: {names.display_name} ({template.name}){through}",
        )
        if not approvals_start(item):
            enqueue_send(item)
    return item


def _channel(via: str) -> tuple[str, str]:
    """The event source and the words saying how an action came: the portal, or the API
    (``via``: the API client's name)."""
    if via:
        return RequestEvent.Source.API, f" through the API ({via})"
    return RequestEvent.Source.PORTAL, ""


def _people(item: ProvisioningRequest, data: RequestData) -> list[RequestPerson]:
    """The owners and members the request names (lower-cased, each once per role)."""
    rows: dict[tuple[str, str], RequestPerson] = {}
    for role, upns in (
        (RequestPerson.Role.OWNER, data.owners),
        (RequestPerson.Role.MEMBER, data.members),
    ):
        for upn in upns:
            key = (upn.strip().lower()[:254], role)
            if key[0]:
                rows.setdefault(key, RequestPerson(request=item, upn=key[0], role=role))
    return list(rows.values())


def submitted_with(*, requested_by: User, submission_key: str) -> ProvisioningRequest | None:
    """The request this person already made with this form (or API) key, if any."""
    if not submission_key:
        return None
    return ProvisioningRequest.objects.filter(
        requested_by=requested_by, submission_key=submission_key
    ).first()


def request_submit_once(*, submission_key: str, **kwargs: Any) -> tuple[ProvisioningRequest, bool]:
    """``request_submit`` at most once per key and person: (request, created).

    A double click, a resubmit after Back, or many concurrent POSTs of one form all get the
    same request; the unique constraint on (requested_by, submission_key) settles races.
    """
    requested_by: User = kwargs["requested_by"]
    existing = submitted_with(requested_by=requested_by, submission_key=submission_key)
    if existing is not None:
        return existing, False
    try:
        return request_submit(submission_key=submission_key, **kwargs), True
    except IntegrityError:
        existing = submitted_with(requested_by=requested_by, submission_key=submission_key)
        if existing is None:
            raise
        return existing, False


def request_retry(*, item: ProvisioningRequest, actor: User, via: str = "") -> ProvisioningRequest:
    """Send a failed request again, as a new attempt with a new idempotency key.

    Not when the upstream refused what was asked: sending the same again cannot help; the
    person fixes it and resubmits (a new request linked to this one).
    """
    if item.state != State.FAILED:
        raise TransitionRefused("Only a failed request can be retried.")
    if item.failure_kind == FailureKind.INVALID:
        raise TransitionRefused(
            f"{item.tenant.upstream_label} refused what was asked: sending it again cannot "
            "help. Use “Fix and resubmit”."
        )
    template = item.template
    if template.removed_upstream or template.hidden:
        raise TransitionRefused(
            "Its template is no longer offered; clone the request and choose another template."
        )
    source, through = _channel(via)
    with transaction.atomic():
        applied = record_transition(
            item=item,
            to_state=State.SUBMITTED,
            source=source,
            detail=f"Retried{through}.",
            actor=actor,
            idempotency_key=uuid.uuid4(),
            upstream_id="",
            upstream_status="",
            progress=None,
            workspace_url="",
            workspace_id="",
            error_message="",
            field_errors={},
            correlation_id="",
            failure_kind="",
            maybe_sent=False,
            accepted_at=None,
            resend_approved=False,
            workspaces_before=None,
            send_attempts=0,
            send_started_at=None,
            next_poll_at=None,
            poll_interval=0,
            finished_at=None,
        )
        if not applied:
            raise TransitionRefused("The request changed in the meantime; reload the page.")
        audit_record(
            action=AuditAction.REQUEST_RETRIED,
            user=actor,
            tenant=item.tenant,
            detail=f"Request {item.pk}: {item.final_name}{through}",
        )
        enqueue_send(item)
    return item


def request_cancel(*, item: ProvisioningRequest, actor: User, via: str = "") -> ProvisioningRequest:
    """Cancel a request that has not been sent yet (submitted, or waiting for a portal
    approval)."""
    label = item.tenant.upstream_label
    if item.state not in (State.SUBMITTED, State.PORTAL_APPROVAL):
        raise TransitionRefused(
            f"Only a request that has not been sent to {label} yet can be cancelled."
        )
    source, through = _channel(via)
    with transaction.atomic():
        applied = record_transition(
            item=item,
            to_state=State.CANCELLED,
            source=source,
            detail=f"Cancelled before it was sent{through}.",
            actor=actor,
        )
        if not applied:
            # The send task claimed it between the page and the click.
            raise TransitionRefused(
                f"The request is already being sent to {label} and can no longer be cancelled."
            )
        audit_record(
            action=AuditAction.REQUEST_CANCELLED,
            user=actor,
            tenant=item.tenant,
            detail=f"Request {item.pk}: {item.final_name}{through}",
        )
    return item


def may_send_again(item: ProvisioningRequest) -> bool:
    """Whether IT staff may say "not upstream: send it again" for a confirming request: only
    when nothing says it arrived (no accepted answer) and the portal has been looking long
    enough to ask a person (PROVISIONING_CONFIRM_ESCALATE_AFTER)."""
    if item.state != State.CONFIRMING or item.accepted_at is not None or item.resend_approved:
        return False
    return waited_long(item)


def request_send_again(*, item: ProvisioningRequest, actor: User) -> ProvisioningRequest:
    """A person checked the upstream and found nothing: send the confirming request again.

    Safe because an "already exists" answer to it is then adopted as our own request.
    """
    label = item.tenant.upstream_label
    if not may_send_again(item):
        raise TransitionRefused(
            f"This request cannot be sent again now: it is not waiting for {label} to confirm, "
            f"or {label} said it received it."
        )
    now = timezone.now()
    with transaction.atomic():
        changed = ProvisioningRequest.objects.filter(
            pk=item.pk, state=State.CONFIRMING, accepted_at__isnull=True, resend_approved=False
        ).update(resend_approved=True, next_poll_at=now, updated_at=now)
        if not changed:
            raise TransitionRefused("The request changed in the meantime; reload the page.")
        add_event(
            item,
            source=RequestEvent.Source.PERSON,
            from_state=State.CONFIRMING,
            to_state=State.CONFIRMING,
            detail=f"Checked {label} and found nothing: send it again.",
            actor=actor,
        )
        audit_record(
            action=AuditAction.REQUEST_RETRIED,
            user=actor,
            tenant=item.tenant,
            detail=f"Request {item.pk}: {item.final_name}: not found in {label}, sent again.",
        )
        enqueue_send(item)
    return item

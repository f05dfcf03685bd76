"""E-mail to the requester when a request ends: completed, failed or rejected.

Queued by services.record_transition on commit of the transition (which happens once per
outcome: the conditional update makes sure of it), sent with Django's mail API (the default
mailer: console in development, SMTP in production, locmem in tests).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from provisioning.models import ProvisioningRequest
from provisioning.states import State

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, str] = {
    State.COMPLETED: "Your workspace {name} is ready",
    State.FAILED: "Your request for {name} failed",
    State.REJECTED: "Your request for {name} was rejected",
}
TEMPLATES: dict[str, str] = {
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.REJECTED: "rejected",
}


def request_url(item: ProvisioningRequest) -> str:
    """The absolute address of the request's page (PORTAL_BASE_URL + its path)."""
    path = reverse("provisioning:request_detail", args=[item.pk])
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def send_outcome(*, request_id: int, state: str) -> bool:
    """E-mail the requester about `state`; False when there is nothing to send.

    Sends nothing when the request has since moved on (a failed request already retried),
    when the state is not one people are told about, or when the requester has no address.
    """
    item = (
        ProvisioningRequest.objects.select_related("requested_by", "template", "tenant")
        .filter(pk=request_id)
        .first()
    )
    if item is None or state not in TEMPLATES or item.state != state:
        return False
    person = item.requested_by
    if not person.email:
        logger.info("Request %s: requester has no e-mail address; not notified", item.pk)
        return False
    event = item.events.filter(to_state=state).order_by("-at", "-id").first()
    context = {
        "item": item,
        "person_name": person.get_full_name() or person.email,
        "request_url": request_url(item),
        "detail": event.detail if event is not None else "",
        "approver_comment": _approver_comment(event.detail if event is not None else ""),
    }
    if event is None or not _claim(item, event.pk):
        return False  # already told (a redelivered task), or nothing to tell
    name = TEMPLATES[state]
    subject = SUBJECTS[state].format(name=item.final_name or item.display_name)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split())[:200],
        body=render_to_string(f"provisioning/email/{name}.txt", context),
        to=[person.email],
    )
    message.attach_alternative(
        render_to_string(f"provisioning/email/{name}.html", context), "text/html"
    )
    try:
        message.send()
    except Exception:
        # Give the claim back so the task's retry can send it.
        ProvisioningRequest.objects.filter(pk=item.pk, notified_event_id=event.pk).update(
            notified_event_id=item.notified_event_id
        )
        raise
    logger.info("Request %s: requester told it is %s", item.pk, state)
    return True


def _claim(item: ProvisioningRequest, event_id: int) -> bool:
    """Win the right to mail about this event (one conditional update; False if taken)."""
    return bool(
        ProvisioningRequest.objects.filter(pk=item.pk)
        .exclude(notified_event_id=event_id)
        .update(notified_event_id=event_id)
    )


def _approver_comment(detail: str) -> str:
    """The approver's words, from the rejection event ("... Comment: <text>")."""
    marker = "Comment: "
    return detail.split(marker, 1)[1].strip() if marker in detail else ""

"""Following a sent request upstream: fetch its status, apply it, schedule the next check.

Fetching (`request_refresh`, the poller, a watched page) is separate from applying
(`apply_status`), so that a pushed status (webhooks) goes through the same function.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from provisioning.models import ProvisioningRequest, RequestEvent
from provisioning.services import webhook_health
from provisioning.services.transitions import REFRESH_TASK, SEND_TASK, record_transition
from provisioning.states import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    State,
    can_transition,
    state_from_upstream,
)
from tenants import services as tenant_services
from tenants import upstream
from upstreams.contract import RequestStatus, Status, Throttled, UpstreamError

logger = logging.getLogger(__name__)

# Poll back-off: the interval grows by this factor while nothing changes upstream.
POLL_BACKOFF_FACTOR = 2


def next_poll_interval(current: int, *, changed: bool) -> int:
    """Seconds to the next poll: the minimum after a change, else growing to the maximum."""
    low = settings.PROVISIONING_POLL_MIN_INTERVAL
    high = max(low, settings.PROVISIONING_POLL_MAX_INTERVAL)
    if changed or current <= 0:
        return low
    return min(high, max(low, current * POLL_BACKOFF_FACTOR))


def followed_interval(item: ProvisioningRequest, interval: int) -> int:
    """The poll interval of an in-flight request: at least WEBHOOK_POLL_INTERVAL while its
    tenant's webhooks are trusted to bring changes (webhook_health)."""
    if item.tenant_id in webhook_health.trusted_tenant_ids():
        return max(interval, settings.WEBHOOK_POLL_INTERVAL)
    return interval


def capped_retry_after(seconds: float) -> float:
    """An upstream's Retry-After, within 0..RETRY_AFTER_MAX: a huge or broken value must
    neither park a request for hours nor overflow a date."""
    if seconds != seconds:  # NaN
        return 0.0
    return min(max(0.0, seconds), float(settings.RETRY_AFTER_MAX))


def status_fields(found: RequestStatus) -> dict[str, Any]:
    """The columns a status answer sets (clipped to what the columns hold). The approval
    process only when the answer carries one (an answer without keeps what was said)."""
    fields: dict[str, Any] = {
        "upstream_status": (found.status_text or found.status.value)[:50],
        "progress": found.progress if found.progress is None else min(max(found.progress, 0), 100),
        "workspace_url": found.workspace_url[:500],
        "workspace_id": found.workspace_id[:100],
        "correlation_id": found.correlation_id[:100],
        "error_message": found.error,
    }
    if found.stages or found.approval_process:
        fields["upstream_approval"] = approval_json(found)
    return fields


def approval_json(found: RequestStatus) -> dict[str, Any]:
    """The upstream's approval process as stored on the request (what the page shows)."""
    return {
        "process": found.approval_process[:200],
        "stages": [
            {
                "number": stage.number or position,
                "status": stage.status.value,
                "approvers": list(stage.approvers)[:50],
                "resolved_by": stage.resolved_by[:300],
                "resolved_at": stage.resolved_at.isoformat() if stage.resolved_at else "",
                "comment": stage.comment[:2000],
            }
            for position, stage in enumerate(found.stages[:10], start=1)
        ],
    }


def _stage_note(found: RequestStatus, status: Status) -> str:
    """Who decided (and what they said) at the last stage with ``status``."""
    for stage in reversed(found.stages):
        if stage.status == status:
            parts = [f"by {stage.resolved_by}" if stage.resolved_by else ""]
            parts.append(f"Comment: {stage.comment}" if stage.comment else "")
            return " ".join(p for p in parts if p)
    return ""


def status_detail(prefix: str, target: str, found: RequestStatus, label: str) -> str:
    """The timeline's words for a status answer: what the upstream said, and why."""
    parts = [prefix] if prefix else []
    parts.append(f"{label}: {found.status_text or State(target).label}.")
    if target == State.REJECTED:
        said = _stage_note(found, Status.REJECTED)
        if said:
            parts.append(f"Rejected {said}")
    elif target == State.APPROVED:
        said = _stage_note(found, Status.APPROVED)
        if said:
            parts.append(f"Approved {said}")
    elif target == State.FAILED:
        if found.error:
            parts.append(found.error)
        if found.correlation_id:
            parts.append(f"Correlation ID: {found.correlation_id}")
    elif target == State.COMPLETED and found.workspace_url:
        parts.append(found.workspace_url)
    return " ".join(parts)


def note_unknown_status(item: ProvisioningRequest, found: RequestStatus) -> None:
    """A status word the upstream's adapter does not know: shown raw, flagged for IT staff."""
    if found.status == Status.UNKNOWN and found.status_text:
        tenant_services.note_unknown_value(
            tenant=item.tenant,
            what="request status",
            value=found.status_text,
            example=f"request {item.pk} ({item.final_name})",
        )


def apply_status(*, item: ProvisioningRequest, found: RequestStatus, source: str) -> bool:
    """Apply an upstream status (polled, or pushed) to an in-flight request and schedule its
    next check; True if anything changed. A status the life cycle does not allow after the
    current state is logged and ignored; racing appliers change the request once, and a final
    status still lands when another applier moved the request on meanwhile."""
    now = timezone.now()
    fields = status_fields(found)
    if found.display_name.strip():
        # The upstream's own name wins: where a template publishes no naming rule, the name
        # the portal computed is only the typed one.
        fields["final_name"] = found.display_name.strip()[:300]
    target = state_from_upstream(found.status)
    if target is None:
        note_unknown_status(item, found)
    if target is not None and target != item.state:
        if can_transition(item.state, target):
            interval = followed_interval(item, next_poll_interval(item.poll_interval, changed=True))
            # False: someone else applied a change first and scheduled the next poll.
            won = record_transition(
                item=item,
                to_state=target,
                source=source,
                detail=status_detail("", target, found, item.tenant.upstream_label),
                last_polled_at=now,
                poll_claim=None,
                poll_interval=interval,
                next_poll_at=None if target in FINAL_STATES else now + timedelta(seconds=interval),
                **fields,
            )
            if won or target not in FINAL_STATES or not _moved_on_in_flight(item):
                return won
            # An end upstream is never stale (it is absorbing there): a change another applier
            # made meanwhile (a Started event while a poll read Completed) must not swallow it.
            return apply_status(item=item, found=found, source=source)
        logger.warning(
            "Request %s: upstream says %s, which cannot follow %s; ignored",
            item.pk,
            found.status_text or found.status,
            item.state,
        )
    changed = any(getattr(item, name) != value for name, value in fields.items())
    interval = followed_interval(item, next_poll_interval(item.poll_interval, changed=changed))
    ProvisioningRequest.objects.filter(pk=item.pk, state=item.state).update(
        **fields,
        poll_interval=interval,
        next_poll_at=now + timedelta(seconds=interval),
        last_polled_at=now,
        poll_claim=None,
        updated_at=now,
    )
    return changed


def _moved_on_in_flight(item: ProvisioningRequest) -> bool:
    """Whether the request another applier just moved is still the same attempt in flight, in
    another state (``item`` then takes it); not once it ended or was sent again."""
    fresh = ProvisioningRequest.objects.filter(pk=item.pk).values("state", "upstream_id").first()
    if fresh is None or fresh["upstream_id"] != item.upstream_id:
        return False
    if fresh["state"] == item.state or fresh["state"] not in IN_FLIGHT_STATES:
        return False
    item.state = fresh["state"]
    return True


@dataclass(frozen=True)
class Checked:
    """What one status check did: asked the upstream at all, changed anything, and how long
    the upstream asked to be left alone (a 429's Retry-After; None when it did not)."""

    asked: bool = False
    changed: bool = False
    throttled_for: float | None = None


def request_refresh(
    *, request_id: int, source: str = RequestEvent.Source.POLL, claim: uuid.UUID | None = None
) -> bool:
    """Read the upstream status of an in-flight request and apply it; True if anything changed."""
    return status_check(request_id=request_id, source=source, claim=claim).changed


def status_check(
    *, request_id: int, source: str = RequestEvent.Source.POLL, claim: uuid.UUID | None = None
) -> Checked:
    """Read the upstream status of an in-flight request, apply it, and say what happened.

    ``claim``: the check was queued under this claim (a watched page's); when the request no
    longer carries it, a poller pass or an earlier check took over and this one asks nothing.

    Schedules the next poll: PROVISIONING_POLL_MIN_INTERVAL after a change, growing by
    POLL_BACKOFF_FACTOR to PROVISIONING_POLL_MAX_INTERVAL while nothing changes. Final states
    clear next_poll_at. Upstream errors keep the state and back off (Retry-After honoured).
    """
    item = (
        ProvisioningRequest.objects.select_related("tenant", "template")
        .filter(pk=request_id)
        .first()
    )
    if item is None or item.state not in IN_FLIGHT_STATES or not item.upstream_id:
        return Checked()
    if claim is not None and item.poll_claim != claim:
        return Checked()
    try:
        found = upstream.provider_for(item.tenant).get_request(item.upstream_id)
    except UpstreamError as error:
        logger.warning("Request %s: status check failed: %s", item.pk, error.message)
        now = timezone.now()
        interval = next_poll_interval(item.poll_interval, changed=False)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            interval = max(interval, int(capped_retry_after(retry_after)))
        ProvisioningRequest.objects.filter(pk=item.pk, state=item.state).update(
            poll_interval=interval,
            next_poll_at=now + timedelta(seconds=interval),
            last_polled_at=now,
            poll_claim=None,
            updated_at=now,
        )
        throttled = capped_retry_after(retry_after or 0) if isinstance(error, Throttled) else None
        return Checked(asked=True, throttled_for=throttled)
    return Checked(asked=True, changed=apply_status(item=item, found=found, source=source))


def request_watched(*, item: ProvisioningRequest) -> bool:
    """Someone is watching the request's page: check upstream now if its next poll is due.

    The scheduled poller runs once a minute; while a page is open its request is checked about
    every PROVISIONING_POLL_MIN_INTERVAL seconds. The conditional claim makes many viewers
    cause one check, and none while a poller pass or an earlier watched check holds it.
    """
    now = timezone.now()
    if item.state not in IN_FLIGHT_STATES and item.state != State.CONFIRMING:
        return False
    hold = now + timedelta(seconds=settings.PROVISIONING_POLL_MIN_INTERVAL)
    if item.poll_claim is not None and item.state != State.CONFIRMING:
        # A poller pass holds it and checks it within its budget: a second check from here
        # would ask the upstream twice within seconds.
        return False
    if item.next_poll_at is not None and item.next_poll_at > now:
        # Not due. While someone watches, the back-off grown during a long approval must not
        # leave the page minutes behind: bring the next check to the shortest interval.
        if item.next_poll_at > hold:
            ProvisioningRequest.objects.filter(
                pk=item.pk, state=item.state, next_poll_at=item.next_poll_at, poll_claim=None
            ).update(next_poll_at=hold, poll_interval=settings.PROVISIONING_POLL_MIN_INTERVAL)
        return False
    if item.state == State.CONFIRMING:
        # Due: the send task looks for it (it claims the row itself).
        async_task(SEND_TASK, item.pk)
        return True
    # The claim stays until the check clears it, so the page's next loads queue nothing more
    # however long the task waits in a busy queue; a poller pass takes it over once due again.
    claim = uuid.uuid4()
    claimed = ProvisioningRequest.objects.filter(
        pk=item.pk, state=item.state, next_poll_at=item.next_poll_at, poll_claim=None
    ).update(next_poll_at=hold, poll_claim=claim)
    if claimed:
        async_task(REFRESH_TASK, item.pk, str(claim))
    return bool(claimed)

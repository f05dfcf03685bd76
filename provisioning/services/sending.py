"""Sending a request to its upstream, exactly once.

An upstream may have no idempotency key and a POST's answer can be lost (timeout, reset, crash
of the worker between the POST and saving its answer). So:

1. A send attempt first claims the row with a conditional UPDATE: submitted -> sending, or
   sending -> sending when the previous attempt's outcome is unknown (it said so by setting
   next_poll_at, or it died: its lease, send_started_at + PROVISIONING_SEND_LEASE, is over;
   the lease is longer than the task timeout, so a live attempt is never overtaken). Only the
   winner of the UPDATE talks to the upstream.
2. An attempt that took over an unknown outcome looks the request up upstream (by URL and
   name, created by us since this send round began) and adopts what it finds. Only when the
   lookup proves absence does it submit again.
3. The answer (the upstream id) is saved in the same conditional UPDATE that moves the state
   on, so there is no moment where the upstream has the request and we believe we never sent.
4. Errors that prove the request was not received (connection refused, 429, no token) put the
   row back to submitted with a retry time; an unknown outcome keeps it in sending. Either way
   the poller resumes it when due. Invariant: a submitted row has nothing upstream, which is
   why cancelling it is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from provisioning.models import ProvisioningRequest, RequestEvent
from provisioning.naming import final_names
from provisioning.payload import RequestData, form_errors
from provisioning.services.following import capped_retry_after, status_detail, status_fields
from provisioning.services.transitions import add_event, record_transition
from provisioning.states import State, state_from_upstream
from tenants import upstream
from upstreams.contract import (
    Invalid,
    OutcomeUnknown,
    RequestStatus,
    Status,
    Throttled,
    UpstreamError,
    WorkspaceSpec,
)

logger = logging.getLogger(__name__)

# Clocks differ: an upstream request created this long before our send round began still
# counts as ours when we look for what an unanswered POST created.
LOOKUP_CLOCK_SKEW = timedelta(seconds=60)
# After an unknown outcome, attempts beyond PROVISIONING_SEND_MAX_ATTEMPTS that may still
# look the request up (never submit) before the portal gives up and asks a person to check.
UNKNOWN_EXTRA_ATTEMPTS = 3


@dataclass(frozen=True)
class SendResult:
    outcome: str  # skipped | sent | adopted | unknown | retry | failed
    detail: str = ""


def _lease() -> timedelta:
    return timedelta(seconds=settings.PROVISIONING_SEND_LEASE)


def _claim(request_id: int) -> tuple[ProvisioningRequest, bool] | None:
    """Win the right to send. Returns (request, previous outcome unknown) or None."""
    item = (
        ProvisioningRequest.objects.select_related("tenant", "template")
        .filter(pk=request_id)
        .first()
    )
    if item is None:
        return None
    now = timezone.now()
    label = item.tenant.upstream_label
    if item.state == State.SUBMITTED:
        if item.next_poll_at is not None and item.next_poll_at > now:
            return None  # a retry time was set; the poller resumes it then
        attempt = item.send_attempts + 1
        won = record_transition(
            item=item,
            to_state=State.SENDING,
            source=RequestEvent.Source.PORTAL,
            detail=f"Sending to {label} (attempt {attempt}).",
            send_attempts=F("send_attempts") + 1,
            send_started_at=now,
            next_poll_at=None,
        )
        return (item, False) if won else None
    if item.state == State.SENDING:
        started = item.send_started_at
        handed_back = item.next_poll_at is not None and item.next_poll_at <= now
        died = started is None or started < now - _lease()
        if not (handed_back or died):
            return None  # another attempt is still within its lease
        taken = ProvisioningRequest.objects.filter(
            pk=item.pk,
            state=State.SENDING,
            send_started_at=started,
            next_poll_at=item.next_poll_at,
        ).update(
            send_attempts=F("send_attempts") + 1,
            send_started_at=now,
            next_poll_at=None,
            updated_at=now,
        )
        if not taken:
            return None
        item.refresh_from_db(fields=["send_attempts", "send_started_at", "next_poll_at"])
        why = "got no answer" if handed_back else "stopped without finishing"
        add_event(
            item,
            source=RequestEvent.Source.PORTAL,
            from_state=State.SENDING,
            to_state=State.SENDING,
            detail=f"The previous attempt {why}; checking {label} before sending again "
            f"(attempt {item.send_attempts}).",
        )
        return item, True
    return None


def _data(item: ProvisioningRequest) -> RequestData:
    return RequestData.from_dict(item.form_data if isinstance(item.form_data, dict) else {})


def workspace_spec(item: ProvisioningRequest) -> WorkspaceSpec:
    """What the request asks the upstream for (its adapter renders the wire body)."""
    return _data(item).to_spec(template_id=item.template.upstream_id, workload=item.workload)


def _round_started_at(item: ProvisioningRequest) -> datetime:
    """When this send round began: the submit, or the latest retry of a failed request."""
    event = (
        item.events.filter(to_state=State.SUBMITTED)
        .exclude(from_state=State.SENDING)
        .order_by("-at", "-id")
        .first()
    )
    return event.at if event is not None else item.created_at


def _find_earlier(item: ProvisioningRequest) -> RequestStatus | None:
    """The upstream request an earlier, unanswered attempt of this round created, if any."""
    data = _data(item)
    names = final_names(item.template.template_rules, data.display_name, data.desired_url)
    candidates = upstream.provider_for(item.tenant).find_requests(
        display_name=data.display_name or item.display_name,
        desired_url=data.desired_url,
    )
    since = _round_started_at(item) - LOOKUP_CLOCK_SKEW
    retried = item.events.filter(from_state=State.FAILED, to_state=State.SUBMITTED).exists()
    taken = set(
        ProvisioningRequest.objects.filter(
            tenant=item.tenant, upstream_id__in=[c.id for c in candidates if c.id]
        )
        .exclude(pk=item.pk)
        .values_list("upstream_id", flat=True)
    )
    wanted_names = {item.final_name.lower(), data.display_name.lower()}
    matches = []
    for found in candidates:
        if not found.id or found.id in taken:
            continue
        if found.display_name and found.display_name.lower() not in wanted_names:
            continue
        if names.url_slug and found.desired_url and found.desired_url.lower() != names.url_slug:
            continue
        if found.requested_at is not None and found.requested_at < since:
            continue
        # A retried request: the previous round's upstream request failed; it is not ours now.
        if retried and found.status in (Status.FAILED, Status.REJECTED, Status.CANCELLED):
            continue
        matches.append((found.requested_at or since, found))
    if not matches:
        return None
    matches.sort(key=lambda pair: pair[0])
    if len(matches) > 1:
        logger.warning(
            "Request %s: %d upstream requests match; adopting the earliest",
            item.pk,
            len(matches),
        )
    return matches[0][1]


def _record_sent(item: ProvisioningRequest, found: RequestStatus, detail: str) -> bool:
    """Save the upstream id and move on from sending, in one conditional UPDATE."""
    target = state_from_upstream(found.status)
    if target is None:
        logger.warning("Request %s: unknown upstream status %r", item.pk, found.status_text)
        target = State.APPROVED
    now = timezone.now()
    interval = settings.PROVISIONING_POLL_MIN_INTERVAL
    fields = {
        **status_fields(found),
        "upstream_id": found.id[:100],
        "poll_interval": interval,
        "next_poll_at": now + timedelta(seconds=interval),
        "last_polled_at": now,
    }
    applied = record_transition(
        item=item,
        to_state=target,
        source=RequestEvent.Source.PORTAL,
        detail=status_detail(detail, target, found, item.tenant.upstream_label),
        # Still our claim: the same attempt that sent it.
        only_if={"send_started_at": item.send_started_at},
        **fields,
    )
    if not applied:
        logger.error(
            "Request %s: the upstream accepted it as %s but the row was taken over meanwhile",
            item.pk,
            found.id,
        )
    return applied


def _retry_delay(item: ProvisioningRequest, retry_after: float | None) -> timedelta:
    base = settings.PROVISIONING_SEND_RETRY_DELAY * (2 ** max(0, item.send_attempts - 1))
    seconds = min(base, settings.PROVISIONING_SEND_RETRY_MAX)
    if retry_after is not None:
        seconds = max(seconds, capped_retry_after(retry_after))
    return timedelta(seconds=seconds)


def _hand_back_unknown(item: ProvisioningRequest, why: str) -> SendResult:
    """Keep the row in sending; the next attempt (when next_poll_at is due) looks up first."""
    next_at = timezone.now() + _retry_delay(item, None)
    ProvisioningRequest.objects.filter(
        pk=item.pk, state=State.SENDING, send_started_at=item.send_started_at
    ).update(next_poll_at=next_at, updated_at=timezone.now())
    add_event(
        item,
        source=RequestEvent.Source.PORTAL,
        from_state=State.SENDING,
        to_state=State.SENDING,
        detail=f"{why} The portal will check {item.tenant.upstream_label} before it sends again.",
    )
    return SendResult("unknown", why)


def _fail(item: ProvisioningRequest, message: str, **fields: Any) -> SendResult:
    record_transition(
        item=item,
        to_state=State.FAILED,
        source=RequestEvent.Source.PORTAL,
        detail=message,
        only_if={"send_started_at": item.send_started_at},
        error_message=message,
        **fields,
    )
    return SendResult("failed", message)


def _retry_later(
    item: ProvisioningRequest, problem: str, retry_after: float | None, *, unknown: bool
) -> SendResult:
    """A retryable problem. `unknown`: a submission of this round may have arrived."""
    attempts = item.send_attempts
    label = item.tenant.upstream_label
    if unknown:
        # The row must stay in sending so the next attempt looks the request up first. An
        # unknown outcome is always followed by one more attempt (the lookup settles it); only
        # when the lookup itself keeps failing do we give up, and say what to check.
        if attempts >= settings.PROVISIONING_SEND_MAX_ATTEMPTS + UNKNOWN_EXTRA_ATTEMPTS:
            return _fail(
                item,
                f"{problem} The portal could not confirm with {label} whether the request "
                f'arrived ({attempts} attempts). Check {label} for "{item.final_name}" before '
                "you retry.",
            )
        return _hand_back_unknown(item, problem)
    if attempts >= settings.PROVISIONING_SEND_MAX_ATTEMPTS:
        return _fail(
            item,
            f"{problem} The portal gave up after {attempts} attempts; nothing was created in "
            f"{label}. Retry the request later.",
        )
    next_at = timezone.now() + _retry_delay(item, retry_after)
    record_transition(
        item=item,
        to_state=State.SUBMITTED,
        source=RequestEvent.Source.PORTAL,
        detail=f"{problem} {label} did not receive it; the portal tries again after "
        f"{timezone.localtime(next_at):%H:%M:%S}.",
        only_if={"send_started_at": item.send_started_at},
        next_poll_at=next_at,
    )
    return SendResult("retry", problem)


def request_send(*, request_id: int) -> SendResult:
    """Send one request to its upstream, exactly once (see the module docstring)."""
    claimed = _claim(request_id)
    if claimed is None:
        return SendResult("skipped")
    item, unknown = claimed
    label = item.tenant.upstream_label
    try:
        if unknown:
            # Never submit again before knowing what the unanswered attempt did.
            found = _find_earlier(item)
            if found is not None:
                _record_sent(
                    item,
                    found,
                    f"Found the request the earlier attempt sent ({label} request {found.id}).",
                )
                return SendResult("adopted", found.id)
            unknown = False  # the lookup proved that nothing of this round arrived
            if item.send_attempts > settings.PROVISIONING_SEND_MAX_ATTEMPTS:
                return _fail(
                    item,
                    f"{label} did not receive the request after {item.send_attempts - 1} "
                    "attempts; nothing was created. Retry the request later.",
                )
        answer = upstream.provider_for(item.tenant).submit(workspace_spec(item))
    except OutcomeUnknown as error:
        logger.warning("Request %s: send outcome unknown", item.pk)
        return _retry_later(item, error.message, None, unknown=True)
    except Invalid as error:
        summary = f"{label} refused the request: " + "; ".join(
            " ".join(messages) for messages in error.field_errors.values()
        )
        return _fail(item, summary, field_errors=form_errors(error.field_errors))
    except Throttled as error:
        return _retry_later(item, error.message, error.retry_after, unknown=unknown)
    except UpstreamError as error:
        text = error.text
        if error.retryable:
            return _retry_later(item, text, None, unknown=unknown)
        if unknown:
            text += (
                f' An earlier attempt may have reached {label}: check for "{item.final_name}" '
                "there before you retry."
            )
        return _fail(item, text)
    _record_sent(item, answer, f"Sent to {label} (request {answer.id}).")
    return SendResult("sent", answer.id)

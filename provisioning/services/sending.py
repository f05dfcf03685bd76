"""Sending a request to its upstream, exactly once, on documented reads only.

An upstream may have no idempotency key, and a POST's answer can be lost (timeout, reset, crash
of the worker between the POST and saving its answer). An answer that is lost, or a 2xx that
names no request, proves nothing about what the upstream did. So:

1. A send attempt first claims the row with a conditional UPDATE: submitted -> sending; or a
   confirming row whose next check is due; or a sending row whose attempt died (its lease,
   send_started_at + PROVISIONING_SEND_LEASE, is over: longer than the task timeout, so a live
   attempt is never overtaken). Only the winner of the UPDATE talks to the upstream.
2. A row that may already be upstream (`maybe_sent`: an answer was lost or an attempt died;
   `accepted_at`: a 2xx named no request) is looked for before anything is sent again
   (`_confirm`): through the upstream's request lookup when it has one (an optional fast path:
   "not supported" proves nothing), then through the workspace itself (the group by its name,
   the site by its URL: reads the upstream documents). Found, it is adopted. A request the
   upstream accepted is never sent again, unless the upstream refuses a second one of that
   workload (`duplicates_refused`: the refusal is adopted); a lost answer is sent again only
   when the lookup proved that nothing arrived (for such an upstream: when the workload's
   duplicates are refused), or when a person checked the upstream and found nothing. Until
   then the request waits in `confirming`, is looked for again with back-off, and after
   PROVISIONING_CONFIRM_ESCALATE_AFTER IT staff are asked to check. Never Failed on a guess.
3. The answer (the upstream id) is saved in the same conditional UPDATE that moves the state
   on. An answer without a status follows the template's approval mode. "Already exists" for
   our own name, after an attempt of this round may have arrived, is adopted, not failed.
4. Errors that prove the request was not received (connection refused, 429, no token) put the
   row back to submitted with a retry time when nothing of this round may be upstream, else
   back to confirming. Invariant: a submitted row has nothing upstream, which is why
   cancelling it is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from provisioning.models import FailureKind, ProvisioningRequest, RequestEvent, Template
from provisioning.naming import final_names, slugify
from provisioning.payload import RequestData, form_errors
from provisioning.services.following import (
    capped_retry_after,
    next_poll_interval,
    note_unknown_status,
    status_detail,
    status_fields,
)
from provisioning.services.transitions import add_event, record_transition
from provisioning.states import State, state_from_upstream
from tenants import upstream
from upstreams.contract import (
    AlreadyExists,
    Invalid,
    NotSupported,
    OutcomeUnknown,
    RequestStatus,
    Status,
    Throttled,
    Upstream,
    UpstreamError,
    Workload,
    Workspace,
    WorkspaceSpec,
    mentions,
)

logger = logging.getLogger(__name__)

# Clocks differ: an upstream request or workspace created this long before our send round
# began still counts as ours when we look for what an unanswered attempt created.
LOOKUP_CLOCK_SKEW = timedelta(seconds=60)
# At most this many workspaces holding a typed name are remembered before a send (naming rule
# unpublished); with more, a lost answer waits for a person instead of being matched.
WORKSPACES_BEFORE_LIMIT = 500
# States of other requests whose typed names may claim a workspace: they may be upstream.
_MAY_BE_UPSTREAM = (
    State.SENDING,
    State.CONFIRMING,
    State.WAITING_APPROVAL,
    State.APPROVED,
    State.IN_PROGRESS,
    State.COMPLETED,
)


@dataclass(frozen=True)
class SendResult:
    outcome: str  # skipped | sent | adopted | confirming | retry | failed
    detail: str = ""


def _lease() -> timedelta:
    return timedelta(seconds=settings.PROVISIONING_SEND_LEASE)


def _claim(request_id: int) -> ProvisioningRequest | None:
    """Win the right to work on the request's send (see the module docstring, point 1)."""
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
        won = record_transition(
            item=item,
            to_state=State.SENDING,
            source=RequestEvent.Source.PORTAL,
            detail=f"Sending to {label} (attempt {item.send_attempts + 1}).",
            send_attempts=F("send_attempts") + 1,
            send_started_at=now,
            next_poll_at=None,
        )
        return item if won else None
    if item.state == State.CONFIRMING:
        if item.next_poll_at is not None and item.next_poll_at > now:
            return None
        taken = ProvisioningRequest.objects.filter(
            pk=item.pk, state=State.CONFIRMING, next_poll_at=item.next_poll_at
        ).update(send_started_at=now, next_poll_at=None, updated_at=now)
        if not taken:
            return None
        item.refresh_from_db(fields=["send_started_at", "next_poll_at"])
        return item
    if item.state == State.SENDING:
        started = item.send_started_at
        if started is not None and started >= now - _lease():
            return None  # another attempt is still within its lease
        # The attempt died, maybe after its POST reached the upstream: look before sending.
        taken = ProvisioningRequest.objects.filter(
            pk=item.pk, state=State.SENDING, send_started_at=started
        ).update(send_started_at=now, maybe_sent=True, updated_at=now)
        if not taken:
            return None
        item.refresh_from_db(fields=["send_started_at", "maybe_sent"])
        add_event(
            item,
            source=RequestEvent.Source.PORTAL,
            from_state=State.SENDING,
            to_state=State.SENDING,
            detail=f"The previous attempt stopped without finishing; checking {label} before "
            "sending again.",
        )
        return item
    return None


def _data(item: ProvisioningRequest) -> RequestData:
    return RequestData.from_dict(item.form_data if isinstance(item.form_data, dict) else {})


def workspace_spec(item: ProvisioningRequest) -> WorkspaceSpec:
    """What the request asks the upstream for (its adapter renders the wire body). Where the
    requester may shape the URL and typed none, the portal's (ASCII, naming.slugify) is sent,
    as if typed, so the workspace gets the URL the form showed. A URL the template does not
    let the requester shape is never sent: an upstream may refuse it."""
    data = _data(item)
    rules = item.template.template_rules
    if item.template.portal_defined:
        # The upstream has no catalogue and so knows nothing of the template: the portal
        # applies its naming and sends the final names (the alias is the URL's slug).
        names = final_names(rules, data.display_name, data.desired_url)
        data = replace(
            data,
            display_name=names.display_name,
            desired_url=names.url_slug or names.email_alias or slugify(data.display_name),
        )
    elif not data.desired_url and rules.url is not None and rules.url.editable:
        data = replace(data, desired_url=slugify(data.display_name))
    return data.to_spec(template_id=item.template.upstream_id, workload=item.workload)


def round_started_at(item: ProvisioningRequest) -> datetime:
    """When this send round began: the submit, or the latest retry of a failed request."""
    event = (
        item.events.filter(to_state=State.SUBMITTED)
        .exclude(from_state__in=(State.SENDING, State.CONFIRMING))
        .order_by("-at", "-id")
        .first()
    )
    return event.at if event is not None else item.created_at


# --- Finding what an earlier attempt did -------------------------------------------------------


@dataclass(frozen=True)
class _Looked:
    found: RequestStatus | None = None  # our request, by the upstream's request lookup
    workspace_url: str = ""  # our workspace, which exists
    workspace_id: str = ""
    workspace_name: str = ""
    absent: bool = False  # the request lookup proved that nothing of this round arrived


def _lookup_request(item: ProvisioningRequest, provider: Upstream) -> _Looked:
    """The optional fast path: the upstream's own request lookup, by final name and URL."""
    data = _data(item)
    try:
        candidates = provider.find_requests(
            display_name=item.final_name or data.display_name, desired_url=data.desired_url
        )
    except NotSupported:
        return _Looked()
    names = final_names(item.template.template_rules, data.display_name, data.desired_url)
    since = round_started_at(item) - LOOKUP_CLOCK_SKEW
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
        return _Looked(absent=True)
    matches.sort(key=lambda pair: pair[0])
    if len(matches) > 1:
        logger.warning(
            "Request %s: %d upstream requests match; adopting the earliest", item.pk, len(matches)
        )
    return _Looked(found=matches[0][1])


def _lookup_workspace(item: ProvisioningRequest, provider: Upstream) -> _Looked:
    """The documented path: does the workspace itself exist (made in this round)?"""
    data = _data(item)
    names = final_names(item.template.template_rules, data.display_name, data.desired_url)
    workspace = provider.find_workspace(
        workload=Workload(item.workload), name=names.display_name, url_slug=names.url_slug or ""
    )
    if workspace is None:
        return _Looked()
    since = round_started_at(item) - LOOKUP_CLOCK_SKEW
    if workspace.created_at is not None and workspace.created_at < since:
        return _Looked()  # someone's older workspace of that name: not what we made
    return _Looked(workspace_url=workspace.url, workspace_id=workspace.id)


def _workspace_key(workspace: Workspace) -> str:
    """What tells workspaces apart: the id, else the URL, else the name (an id may be all)."""
    return workspace.id or workspace.url or workspace.name.casefold()


def _remember_workspaces_before(item: ProvisioningRequest, provider: Upstream) -> None:
    """The naming rule is not published: before the round's first send, note which workspaces
    already hold the typed name, so that a lost answer is matched only to a new one. When they
    cannot be read, or are too many, nothing is noted and a lost answer waits for a person."""
    try:
        found = provider.find_workspaces(
            workload=Workload(item.workload),
            containing=_data(item).display_name,
            limit=WORKSPACES_BEFORE_LIMIT,
        )
    except UpstreamError as error:
        logger.info("Request %s: workspaces before the send not read: %s", item.pk, error.text)
        return
    if found.has_more:
        return
    keys = sorted({_workspace_key(w) for w in found.items})
    ProvisioningRequest.objects.filter(pk=item.pk, send_started_at=item.send_started_at).update(
        workspaces_before=keys
    )
    item.workspaces_before = keys


def _rival_names(item: ProvisioningRequest, typed: str, since: datetime) -> list[str]:
    """Typed names, holding ours, of this tenant's other requests that may have made a
    workspace since ``since`` (one completed before then made it before our send)."""
    names = (
        ProvisioningRequest.objects.filter(
            tenant=item.tenant,
            state__in=_MAY_BE_UPSTREAM,
            display_name__icontains=typed,
        )
        .exclude(pk=item.pk)
        .exclude(state=State.COMPLETED, finished_at__lt=since)
        .values_list("display_name", flat=True)
    )
    return [str(n) for n in names if n]


def _lookup_new_workspace(item: ProvisioningRequest, provider: Upstream) -> _Looked:
    """The naming rule is not published, so the final name is unknown: ours is the one
    workspace holding the typed name that did not exist before the round's first send, that no
    other request of the portal claims. Two or more candidates: a person decides."""
    before = item.workspaces_before
    if not isinstance(before, list):
        return _Looked()
    typed = _data(item).display_name.strip()
    found = provider.find_workspaces(
        workload=Workload(item.workload), containing=typed, limit=len(before) + 20
    )
    if found.has_more:
        return _Looked()
    since = round_started_at(item) - LOOKUP_CLOCK_SKEW
    rivals = _rival_names(item, typed, since)
    if any(rival.strip().casefold() == typed.casefold() for rival in rivals):
        logger.warning("Request %s: another request typed the same name; a person decides", item.pk)
        return _Looked()
    claimed = ProvisioningRequest.objects.filter(tenant=item.tenant).exclude(pk=item.pk)
    new = []
    for workspace in found.items:
        if _workspace_key(workspace) in before:
            continue
        if workspace.created_at is not None and workspace.created_at < since:
            continue
        if any(mentions((workspace.name, workspace.url), rival) for rival in rivals):
            continue  # "Falcon Ops" is another request's, not the one typed "Falcon"
        if (workspace.id and claimed.filter(workspace_id=workspace.id).exists()) or (
            workspace.url and claimed.filter(workspace_url=workspace.url).exists()
        ):
            continue
        new.append(workspace)
    if len(new) != 1:
        if new:
            logger.warning(
                "Request %s: %d new workspaces hold the typed name; a person decides",
                item.pk,
                len(new),
            )
        return _Looked()
    return _Looked(
        workspace_url=new[0].url,
        workspace_id=new[0].id,
        workspace_name=new[0].name,
    )


def _proven_absent(item: ProvisioningRequest, provider: Upstream, looked: _Looked) -> bool:
    """Whether finding nothing of this send round is proof enough to send it again.

    An upstream that refuses a second workspace of the same alias or URL proves by that refusal
    that an earlier attempt arrived: for those workloads sending again is safe, also after it
    accepted one without naming it (the refusal is then adopted). For its other workloads
    (Graph's communities: no unique key, and not listed while being made) finding nothing proves
    nothing. An upstream that refuses nothing lists its requests: not listed is proof, unless
    it accepted one (that one is on its way)."""
    refused = provider.capabilities.duplicates_refused
    if refused:
        return looked.absent and Workload(item.workload) in refused
    return looked.absent and item.accepted_at is None


def _look(item: ProvisioningRequest, provider: Upstream) -> _Looked:
    by_request = _lookup_request(item, provider)
    if by_request.found is not None:
        return by_request
    if not item.template.template_rules.naming_published:
        by_workspace = _lookup_new_workspace(item, provider)
        return (
            by_workspace if by_workspace.workspace_id or by_workspace.workspace_url else by_request
        )
    try:
        by_workspace = _lookup_workspace(item, provider)
    except NotSupported:
        if Workload(item.workload) in provider.capabilities.duplicates_refused:
            # Nothing can be looked up, but a second submit is refused as a duplicate: sending
            # again is safe, and its refusal proves the first one arrived.
            return _Looked(absent=True)
        raise
    if by_workspace.workspace_url or by_workspace.workspace_id:
        return by_workspace
    return by_request


# --- Recording what happened -------------------------------------------------------------------


def _target(item: ProvisioningRequest, found: RequestStatus) -> State:
    """The state an answer means; without a status, the template's approval mode decides."""
    target = state_from_upstream(found.status)
    if target is not None:
        return target
    note_unknown_status(item, found)
    if item.template.approval == Template.Approval.AUTOMATIC:
        return State.APPROVED
    return State.WAITING_APPROVAL


def _record_sent(item: ProvisioningRequest, found: RequestStatus, detail: str) -> bool:
    """Save the upstream's answer and move on, in one conditional UPDATE."""
    now = timezone.now()
    interval = settings.PROVISIONING_POLL_MIN_INTERVAL
    if not found.id:
        # Accepted, but not named: it arrived. Look for it until it is found; never resend.
        return record_transition(
            item=item,
            to_state=State.CONFIRMING,
            source=RequestEvent.Source.PORTAL,
            detail=f"{detail} {item.tenant.upstream_label} accepted it without naming it; the "
            "portal looks it up to follow it.",
            only_if={"send_started_at": item.send_started_at},
            accepted_at=now,
            next_poll_at=now + timedelta(seconds=interval),
            poll_interval=interval,
        )
    target = _target(item, found)
    applied = record_transition(
        item=item,
        to_state=target,
        source=RequestEvent.Source.PORTAL,
        detail=status_detail(detail, target, found, item.tenant.upstream_label),
        # Still our claim: the same attempt that sent it.
        only_if={"send_started_at": item.send_started_at},
        **status_fields(found),
        upstream_id=found.id[:100],
        poll_interval=interval,
        next_poll_at=now + timedelta(seconds=interval),
        last_polled_at=now,
    )
    if not applied:
        logger.error(
            "Request %s: the upstream accepted it as %s but the row was taken over meanwhile",
            item.pk,
            found.id,
        )
    return applied


def _adopt_workspace(item: ProvisioningRequest, looked: _Looked) -> bool:
    label = item.tenant.upstream_label
    named: dict[str, Any] = (
        {"final_name": looked.workspace_name[:300]} if looked.workspace_name else {}
    )
    shown = looked.workspace_name or looked.workspace_url or looked.workspace_id or item.final_name
    return record_transition(
        item=item,
        to_state=State.COMPLETED,
        source=RequestEvent.Source.PORTAL,
        detail=f"The workspace exists in {label}: an earlier attempt created it ({shown}).",
        only_if={"send_started_at": item.send_started_at},
        workspace_url=looked.workspace_url[:500],
        workspace_id=looked.workspace_id[:100],
        **named,
    )


def _ours(item: ProvisioningRequest, error: AlreadyExists) -> bool:
    """After an attempt of this round may have arrived, is what holds the name ours? Yes,
    unless the upstream says it was made before the round began (someone else's)."""
    made = error.existing.requested_at if error.existing is not None else None
    return made is None or made >= round_started_at(item) - LOOKUP_CLOCK_SKEW


def _adopt_existing(item: ProvisioningRequest, error: AlreadyExists) -> SendResult:
    """Our own earlier attempt of this round holds the name: adopt it, by its id when named;
    an upstream that creates at once and names nothing (GT365) made the workspace itself."""
    label = item.tenant.upstream_label
    existing = error.existing or RequestStatus(id=error.existing_id)
    if not existing.id and existing.status == Status.COMPLETED:
        _adopt_workspace(
            item, _Looked(workspace_id=existing.workspace_id, workspace_url=existing.workspace_url)
        )
        return SendResult("adopted", existing.workspace_id)
    _record_sent(item, existing, f"{label} already has this request: {error.message}")
    return SendResult("adopted", existing.id)


def _retry_delay(item: ProvisioningRequest, retry_after: float | None) -> timedelta:
    base = settings.PROVISIONING_SEND_RETRY_DELAY * (2 ** max(0, item.send_attempts - 1))
    seconds = min(base, settings.PROVISIONING_SEND_RETRY_MAX)
    if retry_after is not None:
        seconds = max(seconds, capped_retry_after(retry_after))
    return timedelta(seconds=seconds)


def _confirming(item: ProvisioningRequest, why: str, *, maybe_sent: bool = False) -> SendResult:
    """Wait in confirming: look for it again after a back-off; ask a person after a while."""
    now = timezone.now()
    interval = next_poll_interval(item.poll_interval, changed=False)
    fields: dict[str, Any] = {"next_poll_at": now + timedelta(seconds=interval)}
    fields["poll_interval"] = interval
    if maybe_sent:
        fields["maybe_sent"] = True
    if item.state == State.CONFIRMING:
        ProvisioningRequest.objects.filter(
            pk=item.pk, state=State.CONFIRMING, send_started_at=item.send_started_at
        ).update(updated_at=now, **fields)
        if why:
            add_event(
                item,
                source=RequestEvent.Source.PORTAL,
                from_state=State.CONFIRMING,
                to_state=State.CONFIRMING,
                detail=why,
            )
    else:
        record_transition(
            item=item,
            to_state=State.CONFIRMING,
            source=RequestEvent.Source.PORTAL,
            detail=f"{why} The portal looks for it in {item.tenant.upstream_label} before it "
            "sends anything again.".strip(),
            only_if={"send_started_at": item.send_started_at},
            **fields,
        )
    _escalate_if_long(item)
    return SendResult("confirming", why)


def confirming_since(item: ProvisioningRequest) -> datetime:
    """When the request began to wait in confirming (in this send round)."""
    event = (
        item.events.filter(to_state=State.CONFIRMING, at__gte=round_started_at(item))
        .exclude(from_state=State.CONFIRMING)
        .order_by("at", "id")
        .first()
    )
    return event.at if event is not None else timezone.now()


def waited_long(item: ProvisioningRequest) -> bool:
    """Confirming for longer than PROVISIONING_CONFIRM_ESCALATE_AFTER: time to ask a person."""
    waited = timezone.now() - confirming_since(item)
    return waited >= timedelta(seconds=settings.PROVISIONING_CONFIRM_ESCALATE_AFTER)


def _escalate_if_long(item: ProvisioningRequest) -> None:
    """After PROVISIONING_CONFIRM_ESCALATE_AFTER, say once that a person should look."""
    if not waited_long(item):
        return
    marker = "IT staff: please check"
    if item.events.filter(detail__startswith=marker).exists():
        return
    label = item.tenant.upstream_label
    if item.accepted_at is not None:
        detail = (
            f'{marker} {label} for "{item.final_name}". {label} accepted the request but the '
            "portal has not found it since; it keeps looking."
        )
    else:
        detail = (
            f'{marker} {label} for "{item.final_name}". The portal cannot tell whether an '
            "earlier attempt reached it. If it is not there, use \u201cNot in "
            f"{label}: send again\u201d on this page; the portal never sends it again on a guess."
        )
    add_event(
        item,
        source=RequestEvent.Source.PORTAL,
        from_state=State.CONFIRMING,
        to_state=State.CONFIRMING,
        detail=detail,
    )


def _fail(item: ProvisioningRequest, message: str, kind: FailureKind, **fields: Any) -> SendResult:
    record_transition(
        item=item,
        to_state=State.FAILED,
        source=RequestEvent.Source.PORTAL,
        detail=message,
        only_if={"send_started_at": item.send_started_at},
        error_message=message,
        failure_kind=kind,
        **fields,
    )
    return SendResult("failed", message)


def _not_received(item: ProvisioningRequest, problem: str, retry_after: float | None) -> SendResult:
    """This attempt certainly did not arrive (or failed before sending)."""
    if item.maybe_sent or item.accepted_at is not None:
        # An earlier attempt of this round may be upstream: look for it, never guess.
        return _confirming(item, problem)
    attempts = item.send_attempts
    label = item.tenant.upstream_label
    if attempts >= settings.PROVISIONING_SEND_MAX_ATTEMPTS:
        return _fail(
            item,
            f"{problem} The portal gave up after {attempts} attempts; nothing was created in "
            f"{label}. Retry the request later.",
            FailureKind.NOT_RECEIVED,
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


# --- The send task -----------------------------------------------------------------------------


def request_send(*, request_id: int) -> SendResult:
    """Send one request to its upstream, exactly once (see the module docstring)."""
    item = _claim(request_id)
    if item is None:
        return SendResult("skipped")
    provider = upstream.provider_for(item.tenant)
    label = item.tenant.upstream_label
    may_be_upstream = item.maybe_sent or item.accepted_at is not None
    if may_be_upstream:
        try:
            looked = _look(item, provider)
        except UpstreamError as error:
            return _confirming(item, f"Could not look in {label} yet: {error.text}")
        if looked.found is not None:
            _record_sent(
                item,
                looked.found,
                f"Found the request an earlier attempt sent ({label} request {looked.found.id}).",
            )
            return SendResult("adopted", looked.found.id)
        if looked.workspace_url or looked.workspace_id:
            _adopt_workspace(item, looked)
            return SendResult("adopted", looked.workspace_id)
        proven_absent = _proven_absent(item, provider, looked)
        if not (proven_absent or (item.resend_approved and item.accepted_at is None)):
            return _confirming(item, "")
        if item.state == State.CONFIRMING:
            # Nothing arrived (the lookup proved it, or a person checked), or a second one
            # would be refused (duplicates_refused): send it again.
            why = "nothing of this request is there" if proven_absent else "a person checked"
            if proven_absent and provider.capabilities.duplicates_refused:
                why = (
                    f"{label} refuses a second one with the same address, so it is never made twice"
                )
            won = record_transition(
                item=item,
                to_state=State.SENDING,
                source=RequestEvent.Source.PORTAL,
                detail=f"Sending to {label} again: {why}.",
                only_if={"send_started_at": item.send_started_at},
                send_attempts=F("send_attempts") + 1,
                resend_approved=False,
            )
            if not won:
                return SendResult("skipped")
    if not item.template.template_rules.naming_published and item.workspaces_before is None:
        _remember_workspaces_before(item, provider)
    try:
        answer = provider.submit(workspace_spec(item))
    except OutcomeUnknown as error:
        logger.warning("Request %s: send outcome unknown", item.pk)
        return _confirming(item, error.message, maybe_sent=True)
    except AlreadyExists as error:
        if may_be_upstream and _ours(item, error):
            return _adopt_existing(item, error)
        message = f"{label} refused the request: {error.message}"
        return _fail(
            item,
            message,
            FailureKind.INVALID,
            field_errors=form_errors({error.field or "display_name": [error.message]}),
        )
    except Invalid as error:
        summary = f"{label} refused the request: " + "; ".join(
            " ".join(messages) for messages in error.field_errors.values()
        )
        return _fail(
            item, summary, FailureKind.INVALID, field_errors=form_errors(error.field_errors)
        )
    except Throttled as error:
        return _not_received(item, error.message, error.retry_after)
    except UpstreamError as error:
        if error.retryable:
            return _not_received(item, error.text, None)
        if may_be_upstream:
            return _confirming(item, error.text)
        return _fail(item, error.text, FailureKind.REFUSED)
    _record_sent(
        item, answer, f"Sent to {label}" + (f" (request {answer.id})." if answer.id else ".")
    )
    return SendResult("sent", answer.id)

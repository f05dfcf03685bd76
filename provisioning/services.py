"""Writes of the provisioning app: submit, send, refresh, retry, cancel, and state changes.

The life cycle is in provisioning/states.py and docs/provisioning.md. The rules here:

- `record_transition` is the only code that changes a request's state. It is a conditional
  UPDATE on the state the caller saw, so two workers (or a webhook racing a poll) never apply
  one transition twice, and it writes the timeline event and queues the e-mail in the same
  transaction.
- Sending is exactly-once as far as Point allows: see `request_send`. Point has no idempotency
  key, so "what happened to a POST that got no answer" is settled by looking the request up
  upstream before ever posting again.
- Tasks take ids and call these functions; nothing here runs inside a view's HTTP call to Point
  except `catalogue_sync` (the refresh button) and `request_refresh` (if a view wants it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.expressions import Combinable
from django.utils import timezone
from django_q.tasks import async_task

from audit.models import AuditAction
from audit.services import audit_record
from portal.models import User
from provisioning import point
from provisioning.models import (
    POINT_ENDPOINT,
    ProvisioningRequest,
    RequestEvent,
    RequestPerson,
    Template,
    Workload,
    workload_from_point,
)
from provisioning.naming import final_names
from provisioning.payload import RequestData, form_field_for, metadata_form_field
from provisioning.providers import provider_for
from provisioning.states import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    State,
    TransitionRefused,
    can_transition,
    check_transition,
    state_from_upstream,
)
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SEND_TASK = "provisioning.tasks.send_request"
NOTIFY_TASK = "provisioning.tasks.notify_requester"
REFRESH_TASK = "provisioning.tasks.refresh_request"
# The requester hears about these (provisioning/notifications.py).
NOTIFIED_STATES = frozenset({State.COMPLETED, State.FAILED, State.REJECTED})
# Poll back-off: the interval grows by this factor while nothing changes upstream.
POLL_BACKOFF_FACTOR = 2
# Clocks differ: an upstream request created this long before our send round began still
# counts as ours when we look for what an unanswered POST created.
LOOKUP_CLOCK_SKEW = timedelta(seconds=60)
# After an unknown outcome, attempts beyond PROVISIONING_SEND_MAX_ATTEMPTS that may still
# look the request up (never post) before the portal gives up and asks a person to check.
UNKNOWN_EXTRA_ATTEMPTS = 3


class SubmitRefused(TransitionRefused):
    """The template cannot take a new request (hidden, removed upstream or another tenant's)."""


# --- State changes -----------------------------------------------------------------------------


def record_transition(
    *,
    request: ProvisioningRequest,
    to_state: str,
    source: str,
    detail: str = "",
    actor: User | None = None,
    only_if: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move `request` from the state it holds in memory to `to_state`; False if it had moved on.

    The UPDATE is conditional on that state (and on `only_if`, extra column values the caller
    relies on), so of two processes that saw the same state only one gets True; the loser
    changes nothing, writes no event and sends no e-mail. `fields` are saved in the same
    UPDATE (F() expressions allowed). Raises TransitionRefused for a move the life cycle does
    not allow.
    """
    from_state = request.state
    check_transition(from_state, to_state)
    now = timezone.now()
    values: dict[str, Any] = {**fields, "state": to_state, "updated_at": now}
    if to_state in FINAL_STATES:
        values["finished_at"] = now
        values["next_poll_at"] = None
    with transaction.atomic():
        changed = ProvisioningRequest.objects.filter(
            pk=request.pk, state=from_state, **(only_if or {})
        ).update(**values)
        if not changed:
            logger.info(
                "Request %s: %s -> %s not applied, it is no longer %s",
                request.pk,
                from_state,
                to_state,
                from_state,
            )
            return False
        RequestEvent.objects.create(
            request=request,
            source=source,
            from_state=from_state,
            to_state=to_state,
            detail=detail,
            actor=actor,
        )
        expressions = [name for name, value in values.items() if isinstance(value, Combinable)]
        for name, value in values.items():
            if name not in expressions:
                setattr(request, name, value)
        if expressions:
            request.refresh_from_db(fields=expressions)
        if to_state in NOTIFIED_STATES:
            request_id = request.pk
            transaction.on_commit(lambda: async_task(NOTIFY_TASK, request_id, to_state))
    return True


def _enqueue_send(request: ProvisioningRequest) -> None:
    # On commit: the task must never see a row (or a state) that may still be rolled back.
    request_id = request.pk
    transaction.on_commit(lambda: async_task(SEND_TASK, request_id))


# --- Catalogue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def content_hash(definition: dict[str, Any]) -> str:
    """SHA-256 of the definition as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def catalogue_sync(*, tenant: Tenant) -> SyncReport:
    """Upsert the tenant's templates from its upstream. Raises point.PointError.

    hidden and help_text belong to the admins and are never touched; changed_at moves only
    when the definition's hash does; templates gone upstream are marked removed_upstream and
    kept (requests point at them).
    """
    upstream = provider_for(tenant).list_templates(tenant)
    return _apply_catalogue(tenant, upstream)


@transaction.atomic
def _apply_catalogue(tenant: Tenant, upstream: list[point.Template]) -> SyncReport:
    now = timezone.now()
    existing = {
        t.upstream_id: t for t in Template.objects.select_for_update().filter(tenant=tenant)
    }
    created = updated = unchanged = removed = 0
    seen: set[str] = set()
    for item in upstream:
        workload = workload_from_point(item.workspace_type)
        if workload is None or not item.id:
            logger.warning(
                "Tenant %s: template %r has an unknown workspace type %r; skipped",
                tenant.slug,
                item.id,
                item.workspace_type,
            )
            continue
        seen.add(item.id)
        wanted = {
            "workload": workload,
            "name": item.name[:200],
            "description": item.description,
            "approval": Template.Approval.MANUAL
            if item.is_automatic is False
            else Template.Approval.AUTOMATIC,
            "definition": item.raw,
            "content_hash": content_hash(item.raw),
            "removed_upstream": False,
        }
        current = existing.get(item.id)
        if current is None:
            Template.objects.create(
                tenant=tenant, upstream_id=item.id, synced_at=now, changed_at=now, **wanted
            )
            created += 1
            continue
        differs = [name for name, value in wanted.items() if getattr(current, name) != value]
        if differs:
            if current.content_hash != wanted["content_hash"]:
                current.changed_at = now
            for name, value in wanted.items():
                setattr(current, name, value)
            current.synced_at = now
            current.save()
            updated += 1
        else:
            unchanged += 1
    Template.objects.filter(tenant=tenant, upstream_id__in=seen).update(synced_at=now)
    gone = [t.pk for uid, t in existing.items() if uid not in seen and not t.removed_upstream]
    if gone:
        removed = Template.objects.filter(pk__in=gone).update(removed_upstream=True, synced_at=now)
    report = SyncReport(created, updated, unchanged, removed)
    logger.info("Tenant %s: catalogue synced: %s", tenant.slug, report)
    return report


# --- Submit, retry, cancel ---------------------------------------------------------------------


def request_submit(
    *,
    tenant: Tenant,
    template: Template,
    requested_by: User,
    data: RequestData,
    cloned_from: ProvisioningRequest | None = None,
    submission_key: str = "",
) -> ProvisioningRequest:
    """Store a new request and queue its send (on commit). Raises SubmitRefused.

    ``submission_key`` names the form (or API call) it comes from: a second submission with the
    same key by the same person raises IntegrityError (see ``request_submit_once``).
    """
    if template.tenant_id != tenant.pk:
        raise SubmitRefused("This template belongs to another tenant.")
    if template.removed_upstream:
        raise SubmitRefused("This template no longer exists in Point; choose another one.")
    if template.hidden:
        raise SubmitRefused("This template is not offered any more; choose another one.")
    names = final_names(template.definition, data.display_name, data.desired_url)
    with transaction.atomic():
        request = ProvisioningRequest.objects.create(
            tenant=tenant,
            template=template,
            requested_by=requested_by,
            workload=template.workload,
            display_name=data.display_name,
            final_name=names.display_name,
            form_data=data.as_dict(),
            payload=data.point_body(template.upstream_id),
            idempotency_key=uuid.uuid4(),
            submission_key=submission_key,
            state=State.SUBMITTED,
            cloned_from=cloned_from,
        )
        RequestPerson.objects.bulk_create(_people(request, data))
        RequestEvent.objects.create(
            request=request,
            source=RequestEvent.Source.PORTAL,
            from_state="",
            to_state=State.SUBMITTED,
            detail=f"Submitted with the template {template.name}.",
            actor=requested_by,
        )
        audit_record(
            action=AuditAction.REQUEST_SUBMITTED,
            user=requested_by,
            tenant=tenant,
            detail=f"Request {request.pk}: {names.display_name} ({template.name})",
        )
        _enqueue_send(request)
    return request


def _people(request: ProvisioningRequest, data: RequestData) -> list[RequestPerson]:
    """The owners and members the request names (lower-cased, each once per role)."""
    rows: dict[tuple[str, str], RequestPerson] = {}
    for role, upns in (
        (RequestPerson.Role.OWNER, data.owners),
        (RequestPerson.Role.MEMBER, data.members),
    ):
        for upn in upns:
            key = (upn.strip().lower()[:254], role)
            if key[0]:
                rows.setdefault(key, RequestPerson(request=request, upn=key[0], role=role))
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


def request_retry(*, request: ProvisioningRequest, actor: User) -> ProvisioningRequest:
    """Send a failed request again, as a new attempt with a new idempotency key."""
    if request.state != State.FAILED:
        raise TransitionRefused("Only a failed request can be retried.")
    template = request.template
    if template.removed_upstream or template.hidden:
        raise TransitionRefused(
            "Its template is no longer offered; clone the request and choose another template."
        )
    with transaction.atomic():
        applied = record_transition(
            request=request,
            to_state=State.SUBMITTED,
            source=RequestEvent.Source.PORTAL,
            detail="Retried.",
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
            tenant=request.tenant,
            detail=f"Request {request.pk}: {request.final_name}",
        )
        _enqueue_send(request)
    return request


def request_cancel(*, request: ProvisioningRequest, actor: User) -> ProvisioningRequest:
    """Cancel a request that has not been sent yet (only from submitted)."""
    if request.state != State.SUBMITTED:
        raise TransitionRefused(
            "Only a request that has not been sent to Point yet can be cancelled."
        )
    with transaction.atomic():
        applied = record_transition(
            request=request,
            to_state=State.CANCELLED,
            source=RequestEvent.Source.PORTAL,
            detail="Cancelled before it was sent.",
            actor=actor,
        )
        if not applied:
            # The send task claimed it between the page and the click.
            raise TransitionRefused(
                "The request is already being sent to Point and can no longer be cancelled."
            )
        audit_record(
            action=AuditAction.REQUEST_CANCELLED,
            user=actor,
            tenant=request.tenant,
            detail=f"Request {request.pk}: {request.final_name}",
        )
    return request


# --- Sending: exactly once ---------------------------------------------------------------------
#
# Point has no idempotency key and a POST's answer can be lost (timeout, reset, crash of the
# worker between the POST and saving its answer). So:
# 1. A send attempt first claims the row with a conditional UPDATE: submitted -> sending, or
#    sending -> sending when the previous attempt's outcome is unknown (it said so by setting
#    next_poll_at, or it died: its lease, send_started_at + PROVISIONING_SEND_LEASE, is over;
#    the lease is longer than the task timeout, so a live attempt is never overtaken). Only the
#    winner of the UPDATE talks to Point.
# 2. An attempt that took over an unknown outcome looks the request up upstream (by URL and
#    name, created by us since this send round began) and adopts what it finds. Only when
#    the lookup proves absence does it POST again.
# 3. The POST's answer (the upstream id) is saved in the same conditional UPDATE that moves the
#    state on, so there is no moment where Point has the request and we believe we never sent.
# 4. Errors that prove the POST was not received (connection refused, 429, no token) put the
#    row back to submitted with a retry time; an unknown outcome keeps it in sending. Either
#    way the poller resumes it when due. Invariant: a submitted row has nothing at Point,
#    which is why cancelling it is safe.


@dataclass(frozen=True)
class SendResult:
    outcome: str  # skipped | sent | adopted | unknown | retry | failed
    detail: str = ""


def _lease() -> timedelta:
    return timedelta(seconds=settings.PROVISIONING_SEND_LEASE)


def _claim(request_id: int) -> tuple[ProvisioningRequest, bool] | None:
    """Win the right to send. Returns (request, previous outcome unknown) or None."""
    request = (
        ProvisioningRequest.objects.select_related("tenant", "template")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        return None
    now = timezone.now()
    if request.state == State.SUBMITTED:
        if request.next_poll_at is not None and request.next_poll_at > now:
            return None  # a retry time was set; the poller resumes it then
        attempt = request.send_attempts + 1
        won = record_transition(
            request=request,
            to_state=State.SENDING,
            source=RequestEvent.Source.PORTAL,
            detail=f"Sending to Point (attempt {attempt}).",
            send_attempts=F("send_attempts") + 1,
            send_started_at=now,
            next_poll_at=None,
        )
        return (request, False) if won else None
    if request.state == State.SENDING:
        started = request.send_started_at
        handed_back = request.next_poll_at is not None and request.next_poll_at <= now
        died = started is None or started < now - _lease()
        if not (handed_back or died):
            return None  # another attempt is still within its lease
        taken = ProvisioningRequest.objects.filter(
            pk=request.pk,
            state=State.SENDING,
            send_started_at=started,
            next_poll_at=request.next_poll_at,
        ).update(
            send_attempts=F("send_attempts") + 1,
            send_started_at=now,
            next_poll_at=None,
            updated_at=now,
        )
        if not taken:
            return None
        request.refresh_from_db(fields=["send_attempts", "send_started_at", "next_poll_at"])
        why = "got no answer" if handed_back else "stopped without finishing"
        RequestEvent.objects.create(
            request=request,
            source=RequestEvent.Source.PORTAL,
            from_state=State.SENDING,
            to_state=State.SENDING,
            detail=f"The previous attempt {why}; checking Point before sending again "
            f"(attempt {request.send_attempts}).",
        )
        return request, True
    return None


def _new_workspace(request: ProvisioningRequest) -> point.NewWorkspace:
    body = request.payload
    template_id = body.get("templateId", request.template.upstream_id)
    return point.NewWorkspace(
        template_id=int(template_id),
        display_name=str(body.get("displayName") or request.display_name),
        owners=list(body.get("owners") or []),
        members=list(body.get("members") or []),
        desired_url=body.get("desiredUrl") or None,
        description=body.get("description") or None,
        comment=body.get("comment") or None,
        metadata=body.get("metadata") or None,
        is_private=body.get("isPrivate"),
        desired_email=body.get("desiredEmail") or None,
    )


def _round_started_at(request: ProvisioningRequest) -> datetime:
    """When this send round began: the submit, or the latest retry of a failed request."""
    event = (
        request.events.filter(to_state=State.SUBMITTED)
        .exclude(from_state=State.SENDING)
        .order_by("-at", "-id")
        .first()
    )
    return event.at if event is not None else request.created_at


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _find_earlier(request: ProvisioningRequest) -> point.ProvisionRequest | None:
    """The upstream request an earlier, unanswered attempt of this round created, if any."""
    body = request.payload
    names = final_names(
        request.template.definition, request.display_name, str(body.get("desiredUrl") or "")
    )
    candidates = provider_for(request.tenant).find_requests(
        request.tenant,
        desired_url=str(body.get("desiredUrl") or "") or None,
        display_name=str(body.get("displayName") or request.display_name),
    )
    since = _round_started_at(request) - LOOKUP_CLOCK_SKEW
    retried = request.events.filter(from_state=State.FAILED, to_state=State.SUBMITTED).exists()
    taken = set(
        ProvisioningRequest.objects.filter(
            tenant=request.tenant, upstream_id__in=[c.id for c in candidates if c.id]
        )
        .exclude(pk=request.pk)
        .values_list("upstream_id", flat=True)
    )
    wanted_names = {request.final_name.lower(), str(body.get("displayName") or "").lower()}
    matches = []
    for found in candidates:
        if not found.id or found.id in taken:
            continue
        if found.display_name and found.display_name.lower() not in wanted_names:
            continue
        if names.url_slug and found.desired_url and found.desired_url.lower() != names.url_slug:
            continue
        requested_on = _parse_time(found.raw.get("requestedOn"))
        if requested_on is not None and requested_on < since:
            continue
        # A retried request: the previous round's upstream request failed; it is not ours now.
        if retried and state_from_upstream(found.status) in (
            State.FAILED,
            State.REJECTED,
            State.CANCELLED,
        ):
            continue
        matches.append((requested_on or since, found))
    if not matches:
        return None
    matches.sort(key=lambda pair: pair[0])
    if len(matches) > 1:
        logger.warning(
            "Request %s: %d upstream requests match; adopting the earliest",
            request.pk,
            len(matches),
        )
    return matches[0][1]


def _status_fields(found: point.ProvisionRequest) -> dict[str, Any]:
    return {
        "upstream_status": found.status[:50],
        "progress": found.progress,
        "workspace_url": (found.result_url or "")[:500],
        "workspace_id": (found.microsoft_id or "")[:100],
        "correlation_id": (found.correlation_id or "")[:100],
        "error_message": found.error or "",
    }


def _record_sent(request: ProvisioningRequest, found: point.ProvisionRequest, detail: str) -> bool:
    """Save the upstream id and move on from sending, in one conditional UPDATE."""
    target = state_from_upstream(found.status)
    if target is None or target == State.SUBMITTED:
        logger.warning("Request %s: unknown upstream status %r", request.pk, found.status)
        target = State.APPROVED
    now = timezone.now()
    interval = settings.PROVISIONING_POLL_MIN_INTERVAL
    fields = {
        **_status_fields(found),
        "upstream_id": found.id[:100],
        "poll_interval": interval,
        "next_poll_at": now + timedelta(seconds=interval),
        "last_polled_at": now,
    }
    applied = record_transition(
        request=request,
        to_state=target,
        source=RequestEvent.Source.PORTAL,
        detail=_with_status_detail(detail, target, found),
        # Still our claim: the same attempt that sent it.
        only_if={"send_started_at": request.send_started_at},
        **fields,
    )
    if not applied:
        logger.error(
            "Request %s: Point accepted it as %s but the row was taken over meanwhile",
            request.pk,
            found.id,
        )
    return applied


def _retry_delay(request: ProvisioningRequest, retry_after: float | None) -> timedelta:
    base = settings.PROVISIONING_SEND_RETRY_DELAY * (2 ** max(0, request.send_attempts - 1))
    seconds = min(base, settings.PROVISIONING_SEND_RETRY_MAX)
    if retry_after is not None:
        seconds = max(seconds, capped_retry_after(retry_after))
    return timedelta(seconds=seconds)


def capped_retry_after(seconds: float) -> float:
    """An upstream's Retry-After, within 0..RETRY_AFTER_MAX: a huge or broken value must
    neither park a request for hours nor overflow a date."""
    if seconds != seconds:  # NaN
        return 0.0
    return min(max(0.0, seconds), float(settings.RETRY_AFTER_MAX))


def _hand_back_unknown(request: ProvisioningRequest, why: str) -> SendResult:
    """Keep the row in sending; the next attempt (when next_poll_at is due) looks up first."""
    next_at = timezone.now() + _retry_delay(request, None)
    ProvisioningRequest.objects.filter(
        pk=request.pk, state=State.SENDING, send_started_at=request.send_started_at
    ).update(next_poll_at=next_at, updated_at=timezone.now())
    RequestEvent.objects.create(
        request=request,
        source=RequestEvent.Source.PORTAL,
        from_state=State.SENDING,
        to_state=State.SENDING,
        detail=f"{why} The portal will check Point before it sends again.",
    )
    return SendResult("unknown", why)


def _fail(request: ProvisioningRequest, message: str, **fields: Any) -> SendResult:
    record_transition(
        request=request,
        to_state=State.FAILED,
        source=RequestEvent.Source.PORTAL,
        detail=message,
        only_if={"send_started_at": request.send_started_at},
        error_message=message,
        **fields,
    )
    return SendResult("failed", message)


def _retry_later(
    request: ProvisioningRequest, problem: str, retry_after: float | None, *, unknown: bool
) -> SendResult:
    """A retryable problem. `unknown`: a POST of this round may have reached Point."""
    attempts = request.send_attempts
    if unknown:
        # The row must stay in sending so the next attempt looks the request up first. An
        # unknown outcome is always followed by one more attempt (the lookup settles it); only
        # when the lookup itself keeps failing do we give up, and say what to check.
        if attempts >= settings.PROVISIONING_SEND_MAX_ATTEMPTS + UNKNOWN_EXTRA_ATTEMPTS:
            return _fail(
                request,
                f"{problem} The portal could not confirm with Point whether the request arrived "
                f'({attempts} attempts). Check Point for "{request.final_name}" before you retry.',
            )
        return _hand_back_unknown(request, problem)
    if attempts >= settings.PROVISIONING_SEND_MAX_ATTEMPTS:
        return _fail(
            request,
            f"{problem} The portal gave up after {attempts} attempts; nothing was created in "
            "Point. Retry the request later.",
        )
    next_at = timezone.now() + _retry_delay(request, retry_after)
    record_transition(
        request=request,
        to_state=State.SUBMITTED,
        source=RequestEvent.Source.PORTAL,
        detail=f"{problem} Point did not receive it; the portal tries again after "
        f"{timezone.localtime(next_at):%H:%M:%S}.",
        only_if={"send_started_at": request.send_started_at},
        next_poll_at=next_at,
    )
    return SendResult("retry", problem)


def _field_errors(
    request: ProvisioningRequest, errors: dict[str, list[str]]
) -> dict[str, list[str]]:
    """Point's field names ("owners", "metadata.Cost Center") to the form's ("meta__cost_center")."""
    metadata = request.payload.get("metadata") or {}
    names = {str(name) for name in metadata}
    for field in request.template.definition.get("customMetadata") or []:
        if isinstance(field, dict) and field.get("name"):
            names.add(str(field["name"]))
    for key in errors:
        if key.startswith("metadata."):
            names.add(key.removeprefix("metadata."))
    metadata_fields = {name: metadata_form_field(name) for name in names}
    mapped: dict[str, list[str]] = {}
    for key, messages in errors.items():
        mapped.setdefault(form_field_for(key or "$", metadata_fields), []).extend(messages)
    return mapped


def request_send(*, request_id: int) -> SendResult:
    """Send one request to its upstream, exactly once (see the comment above)."""
    claimed = _claim(request_id)
    if claimed is None:
        return SendResult("skipped")
    request, unknown = claimed
    provider = provider_for(request.tenant)
    try:
        if unknown:
            # Never POST again before knowing what the unanswered attempt did.
            found = _find_earlier(request)
            if found is not None:
                _record_sent(
                    request,
                    found,
                    f"Found the request the earlier attempt sent (Point request {found.id}).",
                )
                return SendResult("adopted", found.id)
            unknown = False  # the lookup proved that nothing of this round reached Point
            if request.send_attempts > settings.PROVISIONING_SEND_MAX_ATTEMPTS:
                return _fail(
                    request,
                    f"Point did not receive the request after {request.send_attempts - 1} "
                    "attempts; nothing was created. Retry the request later.",
                )
        answer = provider.provision(
            request.tenant, POINT_ENDPOINT[Workload(request.workload)], _new_workspace(request)
        )
    except point.OutcomeUnknown as error:
        logger.warning("Request %s: send outcome unknown", request.pk)
        return _retry_later(request, error.message, None, unknown=True)
    except point.ValidationFailed as error:
        summary = "Point refused the request: " + "; ".join(
            " ".join(messages) for messages in error.errors.values()
        )
        return _fail(request, summary, field_errors=_field_errors(request, error.errors))
    except point.Throttled as error:
        return _retry_later(request, error.message, error.retry_after, unknown=unknown)
    except point.PointError as error:
        text = point.problem_text(error)
        if error.retryable:
            return _retry_later(request, text, None, unknown=unknown)
        if unknown:
            text += (
                f' An earlier attempt may have reached Point: check for "{request.final_name}" '
                "there before you retry."
            )
        return _fail(request, text)
    _record_sent(request, answer, f"Sent to Point (request {answer.id}).")
    return SendResult("sent", answer.id)


# --- Following a request upstream --------------------------------------------------------------


def next_poll_interval(current: int, *, changed: bool) -> int:
    """Seconds to the next poll: the minimum after a change, else growing to the maximum."""
    low = settings.PROVISIONING_POLL_MIN_INTERVAL
    high = max(low, settings.PROVISIONING_POLL_MAX_INTERVAL)
    if changed or current <= 0:
        return low
    return min(high, max(low, current * POLL_BACKOFF_FACTOR))


def _approval_comment(found: point.ProvisionRequest, status: str) -> str:
    approval = found.raw.get("approval")
    stages = approval.get("stages") if isinstance(approval, dict) else None
    for stage in reversed(stages if isinstance(stages, list) else []):
        if isinstance(stage, dict) and str(stage.get("status", "")).lower() == status.lower():
            by = stage.get("resolvedBy")
            comment = stage.get("comment")
            parts = [f"by {by}" if by else "", f"Comment: {comment}" if comment else ""]
            return " ".join(p for p in parts if p)
    return ""


def _with_status_detail(prefix: str, target: str, found: point.ProvisionRequest) -> str:
    parts = [prefix] if prefix else []
    parts.append(f"Point: {found.status or target}.")
    if target == State.REJECTED:
        said = _approval_comment(found, "Rejected")
        if said:
            parts.append(f"Rejected {said}")
    elif target == State.APPROVED:
        said = _approval_comment(found, "Approved")
        if said:
            parts.append(f"Approved {said}")
    elif target == State.FAILED:
        if found.error:
            parts.append(found.error)
        if found.correlation_id:
            parts.append(f"Correlation ID: {found.correlation_id}")
    elif target == State.COMPLETED and found.result_url:
        parts.append(found.result_url)
    return " ".join(parts)


def request_refresh(*, request_id: int, source: str = RequestEvent.Source.POLL) -> bool:
    """Read the upstream status of an in-flight request and apply it; True if anything changed.

    Schedules the next poll: PROVISIONING_POLL_MIN_INTERVAL after a change, growing by
    POLL_BACKOFF_FACTOR to PROVISIONING_POLL_MAX_INTERVAL while nothing changes. Final states
    clear next_poll_at. Upstream errors keep the state and back off.
    """
    request = (
        ProvisioningRequest.objects.select_related("tenant", "template")
        .filter(pk=request_id)
        .first()
    )
    if request is None or request.state not in IN_FLIGHT_STATES or not request.upstream_id:
        return False
    now = timezone.now()
    try:
        found = provider_for(request.tenant).get_request(request.tenant, request.upstream_id)
    except point.PointError as error:
        logger.warning("Request %s: status check failed: %s", request.pk, error.message)
        interval = next_poll_interval(request.poll_interval, changed=False)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            interval = max(interval, int(capped_retry_after(retry_after)))
        ProvisioningRequest.objects.filter(pk=request.pk, state=request.state).update(
            poll_interval=interval,
            next_poll_at=now + timedelta(seconds=interval),
            last_polled_at=now,
            updated_at=now,
        )
        return False
    fields = _status_fields(found)
    target = state_from_upstream(found.status)
    moved = False
    if target is not None and target != request.state:
        if can_transition(request.state, target):
            interval = next_poll_interval(request.poll_interval, changed=True)
            moved = record_transition(
                request=request,
                to_state=target,
                source=source,
                detail=_with_status_detail("", target, found),
                last_polled_at=now,
                poll_interval=interval,
                next_poll_at=None if target in FINAL_STATES else now + timedelta(seconds=interval),
                **fields,
            )
            # False: someone else applied a change first and scheduled the next poll.
            return moved
        logger.warning(
            "Request %s: upstream says %s, which cannot follow %s; ignored",
            request.pk,
            found.status,
            request.state,
        )
    changed = any(getattr(request, name) != value for name, value in fields.items())
    interval = next_poll_interval(request.poll_interval, changed=changed)
    ProvisioningRequest.objects.filter(pk=request.pk, state=request.state).update(
        **fields,
        poll_interval=interval,
        next_poll_at=now + timedelta(seconds=interval),
        last_polled_at=now,
        updated_at=now,
    )
    return changed


def request_watched(*, request: ProvisioningRequest) -> bool:
    """Someone is watching the request's page: check upstream now if its next poll is due.

    The scheduled poller runs once a minute; while a page is open its request is checked about
    every PROVISIONING_POLL_MIN_INTERVAL seconds. The conditional claim makes many viewers
    cause one check.
    """
    now = timezone.now()
    if request.state not in IN_FLIGHT_STATES:
        return False
    hold = now + timedelta(seconds=settings.PROVISIONING_POLL_MIN_INTERVAL)
    if request.next_poll_at is not None and request.next_poll_at > now:
        # Not due. While someone watches, the back-off grown during a long approval must not
        # leave the page minutes behind: bring the next check to the shortest interval.
        if request.next_poll_at > hold:
            ProvisioningRequest.objects.filter(
                pk=request.pk, state=request.state, next_poll_at=request.next_poll_at
            ).update(next_poll_at=hold, poll_interval=settings.PROVISIONING_POLL_MIN_INTERVAL)
        return False
    claimed = ProvisioningRequest.objects.filter(
        pk=request.pk, state=request.state, next_poll_at=request.next_poll_at
    ).update(next_poll_at=hold)
    if claimed:
        async_task(REFRESH_TASK, request.pk)
    return bool(claimed)


@dataclass(frozen=True)
class PollReport:
    refreshed: int = 0
    changed: int = 0
    errors: int = 0
    sends_resumed: int = 0


def poll_due() -> PollReport:
    """One poller pass: refresh due in-flight requests, resume sends that are due.

    Bounded by PROVISIONING_POLL_BATCH. Each due request's next_poll_at is first pushed forward
    with a conditional UPDATE (a claim), so a second poller running at the same time skips it
    and a request whose check crashes the task is not first in line again next minute.
    """
    now = timezone.now()
    batch = settings.PROVISIONING_POLL_BATCH
    due = list(
        ProvisioningRequest.objects.filter(state__in=IN_FLIGHT_STATES)
        .filter(Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True))
        .order_by(F("next_poll_at").asc(nulls_first=True), "id")
        .values_list("pk", "next_poll_at")[:batch]
    )
    refreshed = changed = errors = 0
    hold = now + timedelta(seconds=max(settings.PROVISIONING_POLL_MAX_INTERVAL, 60))
    for pk, next_poll_at in due:
        claimed = ProvisioningRequest.objects.filter(pk=pk, next_poll_at=next_poll_at).update(
            next_poll_at=hold
        )
        if not claimed:
            continue
        try:
            refreshed += 1
            if request_refresh(request_id=pk, source=RequestEvent.Source.POLL):
                changed += 1
        except Exception:
            errors += 1
            logger.exception("Request %s: status check crashed", pk)
    resumed = 0
    for pk in _sends_due(now, batch):
        # Each send in its own task (own timeout); the claim in request_send makes extra
        # deliveries harmless.
        async_task(SEND_TASK, pk)
        resumed += 1
    return PollReport(refreshed, changed, errors, resumed)


def _sends_due(now: datetime, limit: int) -> list[int]:
    stale = now - _lease()
    due = ProvisioningRequest.objects.filter(
        # Retry time reached (a retryable error, or an unknown outcome handed back).
        Q(state__in=(State.SUBMITTED, State.SENDING), next_poll_at__lte=now)
        # The send task was lost (crash between commit and enqueue).
        | Q(state=State.SUBMITTED, next_poll_at__isnull=True, updated_at__lt=stale)
        # The attempt died with its lease (worker killed between POST and saving).
        | Q(state=State.SENDING, next_poll_at__isnull=True, send_started_at__lt=stale)
    )
    return list(due.order_by("updated_at", "id").values_list("pk", flat=True)[:limit])

"""Events an upstream pushes (webhooks): verified, stored once, matched, applied.

The receiver (`receive`) runs in the web request and never calls the upstream: it finds the
tenant by the token in the URL, refuses an oversized body (413) or one whose signature does not
verify (401) before reading it, stores a verified event once per (tenant, idempotency key) and
queues `delivery_process`. The task matches the event to a request and applies it through
`following.apply_status`, the function polling uses. Matching (events name a workspace, not our
request): tenant + workspace type + final name among requests that are being sent, confirming
or in flight; none or several are stored and shown, never applied. docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from provisioning.models import FailureKind, ProvisioningRequest, RequestEvent, WebhookDelivery
from provisioning.services.following import apply_status
from provisioning.services.sending import round_started_at
from provisioning.services.transitions import add_event, record_transition
from provisioning.states import FINAL_STATES, IN_FLIGHT_STATES, State
from tenants import crypto, upstream
from tenants.models import Tenant, WebhookSubscription
from upstreams import registry
from upstreams.contract import (
    EventKind,
    MalformedEvent,
    PushCheck,
    PushedEvent,
    Status,
    UpstreamError,
    Workload,
    mentions,
)

logger = logging.getLogger(__name__)

PROCESS_TASK = "provisioning.tasks.process_delivery"
KEY_TASK = "tenants.tasks.refresh_webhook_key"
# A rejected post is noted at most once per tenant and reason in this many seconds: a flood of
# forged posts costs no more than one row each time.
REJECTION_NOTE_EVERY = 10
# A verified event whose task was lost is queued again after this long.
PENDING_GRACE = timedelta(seconds=60)
# An event waits this long for its request's send to be recorded.
WAITING_LIMIT = timedelta(hours=1)
# Requests an event may be about: sent or being sent, not final.
MATCHABLE = (State.SENDING, State.CONFIRMING, *IN_FLIGHT_STATES)

Verdict = WebhookDelivery.Verdict
Outcome = WebhookDelivery.Outcome

_REJECTED: dict[str, str] = {
    Verdict.NO_SIGNATURE: "No signature: the body was not read.",
    Verdict.BAD_SIGNATURE: "The signature does not match the stored key: the body was not read. "
    "The key is read again from the upstream in case it changed.",
    Verdict.NO_KEY: "No signing key is stored: the key is read again from the upstream.",
}


@dataclass(frozen=True)
class Receipt:
    """The receiver's answer: its HTTP status, and the stored delivery when there is one."""

    status: int
    delivery_id: int | None = None
    duplicate: bool = False


def _note_rejected(sub: WebhookSubscription, verdict: str, size: int) -> None:
    if not cache.add(f"webhook-rejected:{sub.pk}:{verdict}", 1, REJECTION_NOTE_EVERY):
        return
    now = timezone.now()
    WebhookDelivery.objects.create(
        tenant=sub.tenant,
        received_at=now,
        verdict=verdict,
        size=size,
        outcome=Outcome.REJECTED,
        detail=_REJECTED.get(verdict)
        or f"The body is over the limit (WEBHOOK_MAX_BODY, {settings.WEBHOOK_MAX_BODY:,} bytes); "
        "it was not read.",
        processed_at=now,
    )
    WebhookSubscription.objects.filter(pk=sub.pk).update(last_rejected_at=now)
    logger.warning("Webhook for tenant %s rejected: %s", sub.tenant.slug, verdict)


def _reread_key(sub: WebhookSubscription) -> None:
    """The key may have been rotated upstream: read it again (a task, at most every
    WEBHOOK_KEY_REREAD s per tenant)."""
    if cache.add(f"webhook-key:{sub.pk}", 1, settings.WEBHOOK_KEY_REREAD):
        tenant_id = sub.tenant_id
        transaction.on_commit(lambda: async_task(KEY_TASK, tenant_id))


def _store(tenant: Tenant, key: str, fields: dict[str, Any]) -> tuple[WebhookDelivery, bool]:
    """Store a verified delivery once per (tenant, key); a copy only counts. True: a copy."""
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(tenant=tenant, event_key=key, **fields), False
    except IntegrityError:
        copies = WebhookDelivery.objects.filter(tenant=tenant, event_key=key)
        copies.update(copies=F("copies") + 1)
        return copies.get(), True


def receive(
    *, token: uuid.UUID, body: bytes | None, size: int, headers: Mapping[str, str]
) -> Receipt:
    """One POST to the receiver. ``body`` None: it was over WEBHOOK_MAX_BODY (not read)."""
    sub = (
        WebhookSubscription.objects.select_related("tenant")
        .filter(token=token, enabled=True, tenant__is_active=True)
        .first()
    )
    if sub is None:
        return Receipt(404)
    tenant = sub.tenant
    if body is None:
        _note_rejected(sub, Verdict.TOO_LARGE, size)
        return Receipt(413)
    try:
        key = sub.get_signing_key()
    except crypto.SecretUnavailable:
        _note_rejected(sub, Verdict.NO_KEY, size)
        _reread_key(sub)
        return Receipt(503)  # our fault, not the sender's: it may try again later
    reader = registry.push_reader(tenant.provider)
    check = reader.verify_push(body, headers, key)
    if check != PushCheck.VALID:
        missing = check == PushCheck.MISSING
        _note_rejected(sub, Verdict.NO_SIGNATURE if missing else Verdict.BAD_SIGNATURE, size)
        if not missing:
            _reread_key(sub)  # Point may have rotated it
        return Receipt(401)
    now = timezone.now()
    # PostgreSQL refuses NUL in text: kept readable (U+FFFD), and an event naming one is
    # malformed (a 500 here made the upstream send it again and again).
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    try:
        event = reader.read_push(body)
        if any("\x00" in str(getattr(event, f.name)) for f in dataclass_fields(event)):
            raise MalformedEvent("The event holds a NUL character.")
    except MalformedEvent as error:
        # Signed by the upstream but unreadable: kept for IT staff; a retry would not help.
        delivery, copy = _store(
            tenant,
            "sha256:" + hashlib.sha256(body).hexdigest(),
            {
                "received_at": now,
                "verdict": Verdict.MALFORMED,
                "body": text,
                "size": size,
                "outcome": Outcome.IGNORED,
                "detail": str(error),
                "processed_at": now,
            },
        )
        return Receipt(200, delivery.pk, copy)
    delivery, copy = _store(
        tenant,
        event.key,
        {
            "received_at": now,
            "verdict": Verdict.ACCEPTED,
            "event_type": event.kind_text,
            "workload": event.workload or "",
            "workspace_name": event.name[:300],
            "occurred_at": event.occurred_at,
            "body": text,
            "size": size,
        },
    )
    WebhookSubscription.objects.filter(pk=sub.pk).update(last_event_at=now)
    if not copy:
        delivery_id = delivery.pk
        transaction.on_commit(lambda: async_task(PROCESS_TASK, delivery_id))
    return Receipt(200, delivery.pk, copy)


# --- Processing (a task) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    outcome: str
    detail: str
    item: ProvisioningRequest | None = None


def delivery_process(*, delivery_id: int) -> str:
    """Match a stored event to a request and apply it; the outcome. Safe to run twice: a
    processed delivery is skipped, and every state change is conditional."""
    delivery = (
        WebhookDelivery.objects.select_related("tenant")
        .filter(pk=delivery_id, verdict=Verdict.ACCEPTED)
        .filter(outcome__in=(Outcome.PENDING, Outcome.WAITING))
        .first()
    )
    if delivery is None:
        return "skipped"
    tenant = delivery.tenant
    try:
        event = registry.push_reader(tenant.provider).read_push(delivery.body.encode("utf-8"))
        handled = _handle(tenant, event)
    except MalformedEvent as error:  # the tenant moved to an upstream that reads it otherwise
        handled = Handled(Outcome.IGNORED, str(error))
    WebhookDelivery.objects.filter(pk=delivery.pk, outcome=delivery.outcome).update(
        outcome=handled.outcome,
        request=handled.item,
        detail=handled.detail[:2000],
        processed_at=timezone.now(),
    )
    return str(handled.outcome)


def _handle(tenant: Tenant, event: PushedEvent) -> Handled:
    if event.kind == EventKind.UNKNOWN:
        return Handled(Outcome.IGNORED, f"{event.kind_text}: not an event the portal acts on.")
    if not event.name:
        return Handled(Outcome.UNMATCHED, "The event names no workspace.")
    if event.workload is None:
        what = event.workload_text or "no type"
        return Handled(
            Outcome.UNMATCHED, f"The event is about a kind of workspace the portal lacks ({what})."
        )
    found = match(tenant, event)
    if found.item is None or found.outcome:
        return found
    return _apply(found.item, event)


def _named(tenant: Tenant, event: PushedEvent) -> list[ProvisioningRequest]:
    live = ProvisioningRequest.objects.select_related("tenant", "template").filter(
        tenant=tenant, workload=event.workload, state__in=MATCHABLE
    )
    named = list(live.filter(final_name__iexact=event.name))
    if named:
        return named
    # A template that does not publish its naming rule: until the upstream answered, the
    # name held is the one typed, which the upstream's name contains.
    return [
        r
        for r in live.filter(state=State.CONFIRMING)
        if not r.template.template_rules.naming_published and mentions([event.name], r.display_name)
    ]


def match(tenant: Tenant, event: PushedEvent) -> Handled:
    """The one request an event is about (outcome ""), or why there is none."""
    workload = Workload(event.workload).value if event.workload else ""
    named = _named(tenant, event)
    if event.request_id and named:
        # An extra some upstreams send: decisive when it names one of them.
        same = [r for r in named if r.upstream_id == event.request_id]
        named = same or [r for r in named if not r.upstream_id]
        if not named:
            return Handled(
                Outcome.UNMATCHED,
                f"Requests named “{event.name}” are in flight, but the event names another "
                f"upstream request ({event.request_id}).",
            )
    if len(named) == 1:
        return Handled("", "", named[0])
    if named:
        numbers = ", ".join(f"#{r.pk}" for r in named)
        # Polling tells them apart (each has its own upstream id): check them now.
        ProvisioningRequest.objects.filter(
            pk__in=[r.pk for r in named], state__in=IN_FLIGHT_STATES
        ).update(next_poll_at=timezone.now())
        return Handled(
            Outcome.AMBIGUOUS,
            f"{len(named)} requests for a {workload} named “{event.name}” are open ({numbers}): "
            "the event was not applied to any; polling checks each now.",
        )
    done = (
        ProvisioningRequest.objects.filter(
            tenant=tenant, workload=event.workload, final_name__iexact=event.name
        )
        .filter(state__in=FINAL_STATES)
        .order_by("-finished_at", "-id")
        .first()
    )
    if done is not None:
        return Handled(
            Outcome.NO_CHANGE,
            f"Request #{done.pk} of this name is already {done.get_state_display()}: nothing "
            "to apply.",
            done,
        )
    return Handled(
        Outcome.UNMATCHED,
        f"No request for a {workload} named “{event.name}” is being sent or in flight in this "
        "tenant: it may have been requested outside the portal, or not sent yet.",
    )


def _apply(item: ProvisioningRequest, event: PushedEvent) -> Handled:
    label = item.tenant.upstream_label
    if item.state == State.SENDING:
        return Handled(
            Outcome.WAITING,
            f"Request #{item.pk} is still being sent: the event is applied once its answer is "
            "recorded.",
            item,
        )
    since = round_started_at(item) - timedelta(seconds=settings.WEBHOOK_CLOCK_SKEW)
    if event.occurred_at is not None and event.occurred_at < since:
        return Handled(
            Outcome.STALE,
            f"The event is dated {event.occurred_at:%Y-%m-%d %H:%M:%S} UTC, before request "
            f"#{item.pk}'s current attempt began: it is about an earlier attempt.",
            item,
        )
    if item.state == State.CONFIRMING:
        return _settle(item, event)
    before = State(item.state).label
    if event.kind == EventKind.FAILED and item.upstream_id:
        return _confirm_failure(item, event)
    if apply_status(
        item=item, found=event.as_status(item.upstream_id), source=RequestEvent.Source.WEBHOOK
    ):
        now = State(item.state).label
        what = f"{before} → {now}" if now != before else f"still {now}, details updated"
        return Handled(Outcome.APPLIED, f"Applied to request #{item.pk}: {what}.", item)
    return Handled(
        Outcome.NO_CHANGE,
        f"Request #{item.pk} is {before}: {label}'s event changes nothing.",
        item,
    )


def _confirm_failure(item: ProvisioningRequest, event: PushedEvent) -> Handled:
    """A failure is believed only when the upstream's request says so too: a late event of an
    earlier attempt of the same name must never fail the current one."""
    label = item.tenant.upstream_label
    try:
        found = upstream.provider_for(item.tenant).get_request(item.upstream_id)
    except UpstreamError as error:
        ProvisioningRequest.objects.filter(pk=item.pk, state=item.state).update(
            next_poll_at=timezone.now()
        )
        return Handled(
            Outcome.NO_CHANGE,
            f"{label} reports a failure, which could not be confirmed yet ({error.message}): "
            f"request #{item.pk} is checked again by polling.",
            item,
        )
    if found.status == Status.FAILED:
        found = replace(
            found,
            error=found.error or event.error,
            correlation_id=found.correlation_id or event.correlation_id,
        )
        apply_status(item=item, found=found, source=RequestEvent.Source.WEBHOOK)
        return Handled(Outcome.APPLIED, f"Applied to request #{item.pk}: Failed.", item)
    apply_status(item=item, found=found, source=RequestEvent.Source.POLL)
    return Handled(
        Outcome.STALE,
        f"{label} reports a failure, but request #{item.pk} ({label} request "
        f"{item.upstream_id}) is {found.status_text or found.status}: the event is about "
        "another attempt.",
        item,
    )


def _settle(item: ProvisioningRequest, event: PushedEvent) -> Handled:
    """An event for a request whose send answer was lost (confirming): it did arrive."""
    label = item.tenant.upstream_label
    source = RequestEvent.Source.WEBHOOK
    if event.kind == EventKind.COMPLETED:
        shown = event.url or event.name
        won = record_transition(
            item=item,
            to_state=State.COMPLETED,
            source=source,
            detail=f"{label} reports the workspace was created ({shown}): the request whose "
            "answer was lost is settled.",
            final_name=event.name[:300],
            workspace_url=event.url[:500],
            workspace_id=event.workspace_id[:100],
            upstream_status=event.kind_text[:50],
        )
        what = "Completed" if won else "already moved on"
        return Handled(
            Outcome.APPLIED if won else Outcome.NO_CHANGE, f"Settled #{item.pk}: {what}.", item
        )
    if event.kind == EventKind.FAILED:
        won = record_transition(
            item=item,
            to_state=State.FAILED,
            source=source,
            detail=f"{label} reports that creating it failed: {event.error or 'no reason given'}",
            error_message=event.error,
            correlation_id=event.correlation_id[:100],
            failure_kind=FailureKind.UPSTREAM,
            upstream_status=event.kind_text[:50],
        )
        what = "Failed" if won else "already moved on"
        return Handled(
            Outcome.APPLIED if won else Outcome.NO_CHANGE, f"Settled #{item.pk}: {what}.", item
        )
    # Started: it arrived. Never send it again; look for the workspace soon.
    now = timezone.now()
    updated = ProvisioningRequest.objects.filter(pk=item.pk, state=State.CONFIRMING).update(
        accepted_at=Coalesce(F("accepted_at"), now),
        next_poll_at=now + timedelta(seconds=settings.PROVISIONING_POLL_MIN_INTERVAL),
        final_name=event.name[:300],
        updated_at=now,
    )
    if not updated:
        return Handled(Outcome.NO_CHANGE, f"Request #{item.pk} had already moved on.", item)
    add_event(
        item,
        source=source,
        from_state=State.CONFIRMING,
        to_state=State.CONFIRMING,
        detail=f"{label} started creating it, so it did arrive: it is never sent again, and "
        "followed until the workspace exists.",
    )
    return Handled(Outcome.APPLIED, f"Request #{item.pk} did arrive: never sent again.", item)


# --- Housekeeping (the poller's pass) ----------------------------------------------------------


def deliveries_resume(now: datetime | None = None) -> int:
    """Queue again what waits for a send to be recorded, and verified events whose task was
    lost; give up on a wait after WAITING_LIMIT (polling follows the request)."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        outcome=Outcome.WAITING, received_at__lt=now - WAITING_LIMIT
    ).update(
        outcome=Outcome.UNMATCHED,
        detail="The request's send was not recorded within an hour: polling follows it.",
        processed_at=now,
    )
    due = WebhookDelivery.objects.filter(verdict=Verdict.ACCEPTED).filter(
        outcome=Outcome.WAITING
    ) | WebhookDelivery.objects.filter(
        verdict=Verdict.ACCEPTED, outcome=Outcome.PENDING, received_at__lt=now - PENDING_GRACE
    )
    ids = list(due.order_by("received_at").values_list("pk", flat=True)[:200])
    for pk in ids:
        async_task(PROCESS_TASK, pk)
    return len(ids)


def resume_waiting(*, request_id: int) -> None:
    """A request's send was just recorded (and committed): apply the events that waited."""
    ids = list(
        WebhookDelivery.objects.filter(request_id=request_id, outcome=Outcome.WAITING).values_list(
            "pk", flat=True
        )[:50]
    )
    for pk in ids:
        async_task(PROCESS_TASK, pk)


def deliveries_prune(now: datetime | None = None) -> int:
    """Forget deliveries older than WEBHOOK_KEEP_DAYS."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOK_KEEP_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted

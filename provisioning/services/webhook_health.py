"""Whether a tenant's webhooks can be trusted to bring status changes, so polling may slow down.

A tenant's webhooks are *trusted* when they are on, registered, hold a signing key and are not
*quiet*. They are quiet when, for WEBHOOK_QUIET_AFTER seconds, no verified event arrived while
a request has been waiting that long for one (approved or in progress: Point pushes Started,
Completed and Failed, and nothing about approvals), or when polling found such a change in that
time and no event about that request arrived within MISS_GRACE of it. Quiet webhooks put polling back to normal and /healthz warns.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from provisioning.models import ProvisioningRequest, RequestEvent, WebhookDelivery
from provisioning.states import State
from tenants.models import WebhookSubscription

# A request in these states waits for an event (ProvisioningStarted, Completed or Failed).
EXPECTING_EVENT = (State.APPROVED, State.IN_PROGRESS)
# Changes Point pushes an event for.
EVENTED_STATES = (State.IN_PROGRESS, State.COMPLETED, State.FAILED)
# An event may arrive (and be processed) this long after a poll saw the same change.
MISS_GRACE = timedelta(seconds=60)
# Trust is read once per this many seconds per process (the poller and status appliers ask
# for every request).
_TTL = 15.0
_cache: dict[str, tuple[float, frozenset[int]]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class WebhookHealth:
    tenant_id: int
    quiet: bool
    reason: str = ""


def _waiting_for_event(tenant_id: int, cutoff: datetime) -> bool:
    """A request of the tenant has waited for an event since before ``cutoff``."""
    return (
        ProvisioningRequest.objects.filter(tenant_id=tenant_id, state__in=EXPECTING_EVENT)
        .filter(events__to_state=F("state"), events__at__lt=cutoff)
        .exists()
    )


def _missed_event(tenant_id: int, now: datetime, since: datetime) -> RequestEvent | None:
    """A change polling found (since ``since``, at least MISS_GRACE ago) for which no event
    about its request arrived around or after it: events are being lost."""
    found = (
        RequestEvent.objects.filter(
            request__tenant_id=tenant_id,
            source=RequestEvent.Source.POLL,
            to_state__in=EVENTED_STATES,
            at__gte=since,
            at__lte=now - MISS_GRACE,
        )
        .order_by("-at")
        .only("at", "request_id")[:20]
    )
    for event in found:
        heard = WebhookDelivery.objects.filter(
            request_id=event.request_id, received_at__gte=event.at - MISS_GRACE
        ).exists()
        if not heard:
            return event
    return None


def health(now: datetime | None = None) -> list[WebhookHealth]:
    """The health of every tenant that receives webhooks."""
    now = now or timezone.now()
    quiet_after = timedelta(seconds=settings.WEBHOOK_QUIET_AFTER)
    cutoff = now - quiet_after
    minutes = round(settings.WEBHOOK_QUIET_AFTER / 60)
    found = []
    receiving = WebhookSubscription.objects.filter(
        enabled=True, registered_at__isnull=False
    ).exclude(signing_key_encrypted="")
    for sub in receiving:
        assert sub.registered_at is not None
        heard = max(sub.last_event_at or sub.registered_at, sub.registered_at)
        missed = _missed_event(sub.tenant_id, now, max(cutoff, sub.registered_at))
        if missed is not None:
            found.append(
                WebhookHealth(
                    sub.tenant_id,
                    True,
                    f"polling found a change of request #{missed.request_id} that no event "
                    f"brought ({timezone.localtime(missed.at):%H:%M})",
                )
            )
        elif heard < cutoff and _waiting_for_event(sub.tenant_id, cutoff):
            found.append(
                WebhookHealth(
                    sub.tenant_id,
                    True,
                    f"no event for over {minutes} min while requests wait for one",
                )
            )
        else:
            found.append(WebhookHealth(sub.tenant_id, False))
    return found


def trusted_tenant_ids() -> frozenset[int]:
    """Tenants whose in-flight requests are polled at most every WEBHOOK_POLL_INTERVAL s."""
    with _lock:
        cached = _cache.get("trusted")
        if cached and cached[0] > time.monotonic():
            return cached[1]
    trusted = frozenset(h.tenant_id for h in health() if not h.quiet)
    with _lock:
        _cache["trusted"] = (time.monotonic() + _TTL, trusted)
    return trusted


def forget() -> None:
    """Drop the cached trust (tests; a subscription just changed in this process)."""
    with _lock:
        _cache.clear()

"""State changes and the timeline: the one place a request's state and its events are written.

`record_transition` is the only code that changes a request's state. It is a conditional
UPDATE on the state the caller saw, so two workers (or a webhook racing a poll) never apply one
transition twice, and it writes the timeline event and queues the e-mail in the same
transaction. `add_event` is the only code that writes a timeline event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models.expressions import Combinable
from django.utils import timezone
from django_q.tasks import async_task

from provisioning.models import ProvisioningRequest, RequestEvent
from provisioning.states import FINAL_STATES, State, check_transition

if TYPE_CHECKING:
    from portal.models import User

logger = logging.getLogger(__name__)

SEND_TASK = "provisioning.tasks.send_request"
NOTIFY_TASK = "provisioning.tasks.notify_requester"
REFRESH_TASK = "provisioning.tasks.refresh_request"
# The requester hears about these (provisioning/notifications.py).
NOTIFIED_STATES = frozenset({State.COMPLETED, State.FAILED, State.REJECTED})


def add_event(
    item: ProvisioningRequest,
    *,
    source: str,
    to_state: str,
    from_state: str = "",
    detail: str = "",
    actor: User | None = None,
) -> RequestEvent:
    """Write one step of the request's timeline (never changed afterwards)."""
    return RequestEvent.objects.create(
        request=item,
        source=source,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
        actor=actor,
    )


def record_transition(
    *,
    item: ProvisioningRequest,
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
    from_state = item.state
    check_transition(from_state, to_state)
    now = timezone.now()
    values: dict[str, Any] = {**fields, "state": to_state, "updated_at": now}
    if to_state in FINAL_STATES:
        values["finished_at"] = now
        values["next_poll_at"] = None
    with transaction.atomic():
        changed = ProvisioningRequest.objects.filter(
            pk=item.pk, state=from_state, **(only_if or {})
        ).update(**values)
        if not changed:
            logger.info(
                "Request %s: %s -> %s not applied, it is no longer %s",
                item.pk,
                from_state,
                to_state,
                from_state,
            )
            return False
        add_event(
            item,
            source=source,
            from_state=from_state,
            to_state=to_state,
            detail=detail,
            actor=actor,
        )
        expressions = [name for name, value in values.items() if isinstance(value, Combinable)]
        for name, value in values.items():
            if name not in expressions:
                setattr(item, name, value)
        if expressions:
            item.refresh_from_db(fields=expressions)
        if to_state in NOTIFIED_STATES:
            request_id = item.pk
            transaction.on_commit(lambda: async_task(NOTIFY_TASK, request_id, to_state))
    return True


def enqueue_send(item: ProvisioningRequest) -> None:
    """Queue the send task once the current transaction commits."""
    # On commit: the task must never see a row (or a state) that may still be rolled back.
    request_id = item.pk
    transaction.on_commit(lambda: async_task(SEND_TASK, request_id))

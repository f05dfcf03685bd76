"""The life of a provisioning request: states, allowed transitions, upstream status mapping.

submitted -> sending -> waiting_approval <-> approved -> in_progress -> completed
               |   ^          |                 |             |
               |   |          +-> rejected      +-------------+-> failed -> submitted (retry)
               |   +----------------+
               |                    |
               +-> confirming ------+-> (any state the upstream reports, once found)
               +-> submitted (send failed, nothing arrived, retried later)
submitted -> cancelled (by a person, before it is sent)
submitted -> portal_approval -> submitted (every portal stage approved: now it is sent)
                             -> rejected | cancelled

`confirming`: the upstream accepted the request without naming it, or an attempt's answer was
lost; the portal looks for it upstream (docs/provisioning.md, "Exactly-once send") and goes back
to sending only when it proved that nothing arrived, or a person checked and says so.
"""

from __future__ import annotations

from django.db import models

from upstreams.contract import Status


class State(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    # The template's portal approval stages run before anything is sent upstream.
    PORTAL_APPROVAL = "portal_approval", "Waiting for approval in the portal"
    SENDING = "sending", "Sending"
    CONFIRMING = "confirming", "Confirming"
    WAITING_APPROVAL = "waiting_approval", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TRANSITIONS: dict[str, frozenset[str]] = {
    State.SUBMITTED: frozenset({State.SENDING, State.CANCELLED, State.PORTAL_APPROVAL}),
    State.PORTAL_APPROVAL: frozenset({State.SUBMITTED, State.REJECTED, State.CANCELLED}),
    State.SENDING: frozenset(
        {
            State.SUBMITTED,  # nothing arrived: the send task tries again later
            State.CONFIRMING,  # accepted without an id, or the answer was lost
            State.WAITING_APPROVAL,
            State.APPROVED,
            State.IN_PROGRESS,
            State.COMPLETED,
            State.REJECTED,
            State.FAILED,
        }
    ),
    State.CONFIRMING: frozenset(
        {
            State.SENDING,  # proven absent upstream, or a person checked: send again
            State.WAITING_APPROVAL,
            State.APPROVED,
            State.IN_PROGRESS,
            State.COMPLETED,
            State.REJECTED,
            State.FAILED,
        }
    ),
    State.WAITING_APPROVAL: frozenset(
        {
            State.APPROVED,
            State.REJECTED,
            State.IN_PROGRESS,
            State.COMPLETED,
            State.FAILED,
            State.CANCELLED,
        }
    ),
    # Approved may have been our reading of an answer without a status (an automatic
    # template): the upstream saying Pending or Rejected afterwards is believed.
    State.APPROVED: frozenset(
        {
            State.WAITING_APPROVAL,
            State.REJECTED,
            State.IN_PROGRESS,
            State.COMPLETED,
            State.FAILED,
            State.CANCELLED,
        }
    ),
    State.IN_PROGRESS: frozenset({State.COMPLETED, State.FAILED}),
    State.FAILED: frozenset({State.SUBMITTED}),  # a person retries it
    State.REJECTED: frozenset(),
    State.COMPLETED: frozenset(),
    State.CANCELLED: frozenset(),
}

# Nothing more will happen to these without a person (only failed can be retried).
FINAL_STATES = frozenset({State.REJECTED, State.COMPLETED, State.FAILED, State.CANCELLED})
# Sent and not final, with an upstream id: the poller (and webhooks) follow these upstream.
IN_FLIGHT_STATES = frozenset({State.WAITING_APPROVAL, State.APPROVED, State.IN_PROGRESS})
# Not sent for sure, or sent without an upstream id: the send task works on these.
SENDING_STATES = frozenset({State.SUBMITTED, State.SENDING, State.CONFIRMING})

# An upstream request's neutral status (upstreams.contract.Status) to ours; each adapter
# maps its own words to the neutral ones.
UPSTREAM_STATUS = {
    Status.PENDING_APPROVAL: State.WAITING_APPROVAL,
    Status.APPROVED: State.APPROVED,
    Status.REJECTED: State.REJECTED,
    Status.IN_PROGRESS: State.IN_PROGRESS,
    Status.COMPLETED: State.COMPLETED,
    Status.FAILED: State.FAILED,
    Status.CANCELLED: State.CANCELLED,
}


class TransitionRefused(Exception):
    """A change of state that the life cycle does not allow."""


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise TransitionRefused(
            f"A request cannot go from {State(current).label} to {State(target).label}."
        )


def state_from_upstream(status: Status) -> State | None:
    """Our state for an upstream request's status; None when the upstream gave none we know."""
    return UPSTREAM_STATUS.get(status)

"""The request life cycle: every allowed transition, and every other one refused."""

from __future__ import annotations

import itertools

import pytest

from provisioning.states import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    State,
    TransitionRefused,
    can_transition,
    check_transition,
    state_from_upstream,
)
from upstreams.contract import Status

S = State
# The life cycle as the product promises it, written out pair by pair.
ALLOWED = {
    # Portal approval stages run before anything is sent.
    (State.SUBMITTED, State.PORTAL_APPROVAL),
    (State.PORTAL_APPROVAL, State.SUBMITTED),
    (State.PORTAL_APPROVAL, State.REJECTED),
    (State.PORTAL_APPROVAL, State.CANCELLED),
    (S.SUBMITTED, S.SENDING),
    (S.SUBMITTED, S.CANCELLED),
    (S.SENDING, S.SUBMITTED),
    (S.SENDING, S.CONFIRMING),
    (S.SENDING, S.WAITING_APPROVAL),
    (S.SENDING, S.APPROVED),
    (S.SENDING, S.IN_PROGRESS),
    (S.SENDING, S.COMPLETED),
    (S.SENDING, S.REJECTED),
    (S.SENDING, S.FAILED),
    # Accepted without an id, or an answer lost: looked for until found, or sent again once
    # proven absent (or a person checked).
    (S.CONFIRMING, S.SENDING),
    (S.CONFIRMING, S.WAITING_APPROVAL),
    (S.CONFIRMING, S.APPROVED),
    (S.CONFIRMING, S.IN_PROGRESS),
    (S.CONFIRMING, S.COMPLETED),
    (S.CONFIRMING, S.REJECTED),
    (S.CONFIRMING, S.FAILED),
    (S.WAITING_APPROVAL, S.APPROVED),
    (S.WAITING_APPROVAL, S.REJECTED),
    (S.WAITING_APPROVAL, S.IN_PROGRESS),
    (S.WAITING_APPROVAL, S.COMPLETED),
    (S.WAITING_APPROVAL, S.FAILED),
    (S.WAITING_APPROVAL, S.CANCELLED),
    # "Approved" may have been our reading of an answer without a status: the upstream's
    # later Pending (or Rejected) is believed.
    (S.APPROVED, S.WAITING_APPROVAL),
    (S.APPROVED, S.REJECTED),
    (S.APPROVED, S.IN_PROGRESS),
    (S.APPROVED, S.COMPLETED),
    (S.APPROVED, S.FAILED),
    (S.APPROVED, S.CANCELLED),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.IN_PROGRESS, S.FAILED),
    (S.FAILED, S.SUBMITTED),
}


@pytest.mark.parametrize("pair", sorted(ALLOWED))
def test_each_allowed_transition_is_accepted(pair: tuple[State, State]) -> None:
    assert can_transition(*pair)
    check_transition(*pair)


REFUSED = sorted(set(itertools.product(State, State)) - ALLOWED)


@pytest.mark.parametrize("pair", REFUSED)
def test_every_other_transition_is_refused(pair: tuple[State, State]) -> None:
    assert not can_transition(*pair)
    with pytest.raises(TransitionRefused, match="cannot go from"):
        check_transition(*pair)


def test_a_cancelled_request_cannot_be_sent() -> None:
    with pytest.raises(TransitionRefused, match="from Cancelled to Sending"):
        check_transition(S.CANCELLED, S.SENDING)


def test_completed_rejected_and_cancelled_are_the_end() -> None:
    for state in (S.COMPLETED, S.REJECTED, S.CANCELLED):
        assert state in FINAL_STATES
        assert not any(can_transition(state, target) for target in State)


def test_only_sent_unfinished_requests_are_polled() -> None:
    assert {S.WAITING_APPROVAL, S.APPROVED, S.IN_PROGRESS} == IN_FLIGHT_STATES


@pytest.mark.parametrize(
    ("upstream", "ours"),
    [
        (Status.PENDING_APPROVAL, S.WAITING_APPROVAL),
        (Status.APPROVED, S.APPROVED),
        (Status.REJECTED, S.REJECTED),
        (Status.IN_PROGRESS, S.IN_PROGRESS),
        (Status.COMPLETED, S.COMPLETED),
        (Status.FAILED, S.FAILED),
        (Status.CANCELLED, S.CANCELLED),
        (Status.UNKNOWN, None),
    ],
)
def test_upstream_statuses_map_to_our_states(upstream: Status, ours: State | None) -> None:
    assert state_from_upstream(upstream) == ours

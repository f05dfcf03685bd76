"""The fault matrix for GT365 (issue 19, item 1; docs/reliability.md, "Fault matrix").

Every call the GT365 provider (upstreams/gt365/provider.py) makes x every fault the emulator
injects x both GT365 dialects (``documented``, ``plain``), against the emulator over real HTTP,
through the portal's own send task, poller and request page, with the checks and vocabulary of
the Graph matrix (test_fault_matrix_graph.py): the call met its fault; at most one group in the
GT365 ledger; a visible state after the fault and at the end, its page 200 after the fault;
Completed only when the group exists, Failed only when it does not.

GT365 makes two calls: the token request (Entra, Microsoft Graph's scope) and ``POST
ProvisionGroup``, which creates the group (and its team) before it answers. It has no status or
look-up call: a 2xx is done, and a lost answer is settled by sending again, which GT365 refuses
(``ObjectConflict`` on the alias) when the first one made the group.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from django.utils.html import escape
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from provisioning.payload import RequestData
from tests.conftest import client_for
from tests.provisioning.lifecycle import fast_point
from tests.reliability.faults import (
    FAULTS,
    assert_truthful,
    emulator,
    inject,
    module_emulator,
    settle,
    visible_state,
)
from tests.reliability.test_fault_matrix_graph import (
    DONE,
    ENTRA_DOWN,
    LOST,
    READ_TIMEOUT,
    ROUNDS,
    UNNAMED,
    Expect,
    World,
    cells,
    followed,
    meet_the_fault,
    missing,
    token_for,
    world_of,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["emulator", "fast_point", "module_emulator"]

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks

SLUG = "tailspin"
OWNER = "kim.abercrombie@tailspin.onmicrosoft.com"
DIALECTS = ("documented", "plain")
# Call kinds: the token request and ProvisionGroup (a team request: createTeam true).
CALLS = {
    "token": ("POST", "/{tid}/oauth2/v2.0/token"),
    "submit": ("POST", "/gt365/api/ProvisionGroup"),
}

# fmt: off
TABLE: dict[str, tuple[Expect, ...]] = {
    #          500         502         503         429         hang        reset       malformed   401         403                              reset_after hang_after
    "token":  (ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN,                      ENTRA_DOWN, ENTRA_DOWN),
    "submit": (LOST,       LOST,       LOST,       DONE,       LOST,       LOST,       UNNAMED,    DONE,       missing("Group.ReadWrite.All"),  LOST,       LOST),
}
# fmt: on
# No dialect changes an outcome: the wrapped .NET answer and the bare group, Graph-style errors
# and {"Message"} are read alike.
CELLS = cells(list(CALLS), DIALECTS)


@pytest.fixture
def world(emulator: RunningEmulator, fast_point: list[float], settings: Settings) -> World:
    """Tailspin Toys, provisioning through the emulated GT365, and one of its requesters."""
    # GT365's own read timeout (its call may take two minutes) is the longer of it and the
    # upstream one: as short as quick_reads makes the upstream one while a fault fires.
    settings.GT365_READ_TIMEOUT = READ_TIMEOUT
    return world_of(emulator, SLUG, "gt365", "/gt365/api")


def groups(emulator: RunningEmulator, typed: str) -> int:
    """How many groups GT365 made holding the name typed (unique per cell)."""
    made = emulator.control_get(f"gt365/ledger?tenant={SLUG}")["groups"]
    return sum(1 for g in made if typed.lower() in str(g.get("displayName", "")).lower())


@pytest.mark.parametrize(("kind", "fault", "dialect"), CELLS)
def test_each_gt365_call_meets_each_fault_without_duplicate_loss_or_false_outcome(
    kind: str,
    fault: str,
    dialect: str,
    world: World,
    settings: Settings,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    capture = django_capture_on_commit_callbacks
    world.emulator.control("gt365/dialect", tenant=SLUG, dialect=dialect)
    expect = TABLE[kind][FAULTS.index(fault)]
    token_for(kind, world.tenant)
    method, path = CALLS[kind]
    inject(world.emulator, fault, method=method, path=path.format(tid=world.tenant.entra_tenant_id))
    data = RequestData(
        display_name=f"Falcon {uuid.uuid4().hex[:8]}",
        owners=[OWNER],
        metadata={"Classification": "General"},
    )
    template = world.template("team", classifications=("General",))
    item = meet_the_fault(world, settings, capture, template, data)
    followed(item)
    meanwhile, shown = item.state, visible_state(client_for(world.requester), item)
    item = settle(capture, item, rounds=ROUNDS)
    followed(item)
    assert_truthful(item, groups(world.emulator, data.display_name))
    assert meanwhile == expect.state, (meanwhile, item.error_message)
    assert escape(expect.says) in shown
    assert item.state == expect.end, (item.state, item.error_message)


def test_the_gt365_matrix_covers_every_call_kind_fault_and_dialect() -> None:
    assert set(TABLE) == set(CALLS)
    assert all(len(row) == len(FAULTS) for row in TABLE.values())
    assert len(CELLS) == len(CALLS) * len(FAULTS) * len(DIALECTS) == 44
    assert len([c for c in CELLS if not c.marks]) == 22

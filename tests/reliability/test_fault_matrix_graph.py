"""The fault matrix for Microsoft Graph (issue 19, item 1; docs/reliability.md, "Fault matrix").

Every call the Graph provider (upstreams/graph/provider.py) makes in a request's life x every
fault the emulator injects x both Graph dialects (``documented``, ``variant``), against the
emulator over real HTTP, through the portal's own send task, poller and request page. One cell
arms one fault on one call (method + path glob), submits a request whose life makes that call,
and drives it as the worker would. It asserts what ``TABLE`` expects of that call and fault,
and always:

- the call was made and met the fault (else the cell would prove nothing);
- never a duplicate: at most one of each object in the emulator's Graph ledger;
- never a request without a visible state: after the fault its page answers 200 with its
  state, its latest event and the words a person needs; after the fault and at the end it is
  not left in Sending, and one waiting to be sent or looked for has its next time set;
- never a false outcome: Completed only when the workspace exists, Failed only when it does not.

The Graph provider's calls that are not cells: ``GET /sites/root`` (the host, read before a
site's POST), ``GET /teams/{id}`` and ``GET /sites/{id}`` (a finished workspace's URL, an extra
whose failure is ignored), ``$ref`` additions (only beyond 20 owners or members).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from _pytest.mark import ParameterSet
from django.utils.html import escape
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from core.roles import Role
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import FINAL_STATES, State
from tenants import msal_http, tokens
from tenants.models import Tenant, TenantToken
from tests.conftest import client_for, make_tenant, make_user
from tests.provisioning.lifecycle import fast_point, make_due, poll, submit
from tests.reliability.faults import (
    FAULTS,
    assert_truthful,
    emulator,
    inject,
    module_emulator,
    settle,
    visible_state,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["emulator", "fast_point", "module_emulator"]

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks

SLUG = "litware"
OWNER = "nancy.davolio@litware.onmicrosoft.com"
DIALECTS = ("documented", "variant")
# Poller passes after the fault: the longest way to the end (sent again, then a team, site or
# community operation followed) takes two; one still waiting after three waits for Graph or a
# person.
ROUNDS = 3
# The client's read timeout while a fault fires: a hang (faults.HANG_SECONDS) outlasts it, and
# the step's other calls, which must not time out on a busy machine, fit well within it.
READ_TIMEOUT = 0.5
V1 = "/graph/v1.0"


@dataclass(frozen=True)
class Call:
    """A call kind: the workload whose request makes it, the call (method, path glob: ``{tid}``
    is the tenant's directory id), and a fault armed first when only a fault leads to it."""

    workload: str
    method: str
    path: str
    after: tuple[str, str, str] | None = None


CALLS = {
    "token": Call("group", "POST", "/{tid}/oauth2/v2.0/token"),
    # Owners and members resolved by UPN before any write (the directory read of every send).
    "people": Call("group", "GET", f"{V1}/users/*"),
    "group": Call("group", "POST", f"{V1}/groups"),
    # The look-up after a lost answer: GET /groups?$filter=mailNickname eq '...'.
    "lookup": Call("group", "GET", f"{V1}/groups", after=("POST", f"{V1}/groups", "reset_after")),
    "team": Call("team", "POST", f"{V1}/teams"),
    "team_status": Call("team", "GET", f"{V1}/teams/*/operations/*"),
    "site": Call("site", "POST", "/graph/beta/sites"),
    "site_status": Call("site", "GET", "/graph/beta/sites/getOperationStatus*"),
    "community": Call("community", "POST", f"{V1}/employeeExperience/communities"),
    "community_status": Call(
        "community", "GET", f"{V1}/employeeExperience/engagementAsyncOperations/*"
    ),
}

# What each workload leaves in the Graph ledger once made (a team is its group and the team; a
# community brings its own group).
MADE = {
    "group": ("group",),
    "team": ("group", "team"),
    "site": ("site",),
    "community": ("community", "group"),
}

# --- The expectation table ------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """One cell's outcome: once the call met its fault the request rests in ``state`` and its
    page says ``says``; after the poller's passes it ends in ``end``: Completed ("retried and
    succeeded"), Failed ("failed with a clear message": ``says``), or still ``state`` ("waits
    in a visible state")."""

    state: str
    says: str
    end: str


def retried(state: str) -> Expect:
    """The call was repeated at once and answered: the request went on as without a fault."""
    return Expect(state, State(state).label, State.COMPLETED)


def missing(permission: str) -> Expect:
    return Expect(State.FAILED, f"lacks the Microsoft Graph permission {permission}", State.FAILED)


# No token: nothing was sent, so the send is tried again later.
ENTRA_DOWN = Expect(State.SUBMITTED, "Microsoft Entra ID is unavailable", State.COMPLETED)
# The create's answer was lost: looked for; found and adopted, or sent again, which Graph
# refuses as a duplicate alias or URL if the first one arrived (the refusal is adopted).
LOST = Expect(State.CONFIRMING, "was lost on the way", State.COMPLETED)
# A 2xx naming nothing (the emulator's "malformed" answers without acting): looked for, and
# sent again where a second one would be refused.
UNNAMED = Expect(State.CONFIRMING, "did not say under which id", State.COMPLETED)
# A community has no unique key, so a second POST would make a second community: a lost or
# unnamed answer is looked for by name until Graph lists it; IT staff decide if it never does.
ASKS = Expect(State.CONFIRMING, "was lost on the way", State.CONFIRMING)
ASKS_UNNAMED = Expect(State.CONFIRMING, "did not say under which id", State.CONFIRMING)
# A 2xx to a site's POST without its operation: followed by its URL until the site appears.
BY_URL = Expect(State.IN_PROGRESS, "In progress", State.IN_PROGRESS)
# A status check that failed keeps the state; the next one moves on.
AGAIN = Expect(State.IN_PROGRESS, "In progress", State.COMPLETED)
# The look-up failed: the request keeps waiting in Confirming and looks again.
LOOKS = Expect(State.CONFIRMING, "Could not look in Microsoft Graph yet", State.COMPLETED)
DONE = retried(State.COMPLETED)
MAKING = retried(State.IN_PROGRESS)  # a team, site or community being made: followed

# fmt: off
TABLE: dict[str, tuple[Expect, ...]] = {
    #                    500         502         503         429         hang        reset       malformed     401         403                                  reset_after hang_after
    "token":            (ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN, ENTRA_DOWN,   ENTRA_DOWN, ENTRA_DOWN,                          ENTRA_DOWN, ENTRA_DOWN),
    "people":           (DONE,       DONE,       DONE,       DONE,       DONE,       DONE,       DONE,         DONE,       missing("User.Read.All"),            DONE,       DONE),
    "group":            (LOST,       LOST,       LOST,       DONE,       LOST,       LOST,       UNNAMED,      DONE,       missing("Group.ReadWrite.All"),      LOST,       LOST),
    "lookup":           (DONE,       DONE,       DONE,       DONE,       DONE,       DONE,       DONE,         DONE,       LOOKS,                               DONE,       DONE),
    "team":             (MAKING,     MAKING,     MAKING,     MAKING,     MAKING,     MAKING,     MAKING,       MAKING,     MAKING,                              MAKING,     MAKING),
    "team_status":      (DONE,       DONE,       DONE,       DONE,       DONE,       DONE,       DONE,         DONE,       AGAIN,                               DONE,       DONE),
    "site":             (LOST,       LOST,       LOST,       MAKING,     LOST,       LOST,       BY_URL,       MAKING,     missing("Sites.Create.All"),         LOST,       LOST),
    "site_status":      (DONE,       DONE,       DONE,       DONE,       DONE,       DONE,       DONE,         DONE,       AGAIN,                               DONE,       DONE),
    "community":        (ASKS,       ASKS,       ASKS,       MAKING,     ASKS,       ASKS,       ASKS_UNNAMED, MAKING,     missing("Community.ReadWrite.All"),  LOST,       LOST),
    "community_status": (DONE,       DONE,       DONE,       DONE,       DONE,       DONE,       DONE,         DONE,       AGAIN,                               DONE,       DONE),
}
# fmt: on
# No dialect changes an outcome: their differences (status words, an absolute team Location,
# pages of 2, error codes without details) must all be read alike.


def cells(kinds: list[str], dialects: tuple[str, ...]) -> list[ParameterSet]:
    """Every call kind x fault x dialect. make test runs each (call, fault) in one dialect,
    alternating so that each dialect meets every call and every fault; make soak runs the
    rest (docs/reliability.md: the whole matrix would take minutes)."""
    return [
        pytest.param(
            kind,
            fault,
            dialect,
            id=f"{kind}-{fault}-{dialect}",
            marks=() if (k + f + d) % 2 == 0 else pytest.mark.soak,
        )
        for k, kind in enumerate(kinds)
        for f, fault in enumerate(FAULTS)
        for d, dialect in enumerate(dialects)
    ]


CELLS = cells(list(CALLS), DIALECTS)


def expected(kind: str, fault: str) -> Expect:
    return TABLE[kind][FAULTS.index(fault)]


# --- Driving one cell ------------------------------------------------------------------------


@dataclass
class World:
    tenant: Tenant
    requester: User
    emulator: RunningEmulator

    def template(self, workload: str, classifications: tuple[str, ...] = ()) -> Template:
        """A template the portal defines (neither upstream has a catalogue)."""
        definition = services.TemplateDefinition(
            name=f"{workload} template", workload=workload, classifications=classifications
        )
        return services.template_define(user=None, tenant=self.tenant, definition=definition)


def world_of(emulator: RunningEmulator, slug: str, provider: str, path: str) -> World:
    tenant = make_tenant(slug, f"{emulator.url}{path}")
    tenant.provider = provider
    tenant.save()
    return World(tenant, make_user(tenant, "Requester", Role.REQUESTER), emulator)


@pytest.fixture
def world(emulator: RunningEmulator, fast_point: list[float]) -> World:
    """Litware, provisioning through the emulated Graph, and one of its requesters."""
    return world_of(emulator, SLUG, "graph", V1)


def armed(emulator: RunningEmulator) -> int:
    """How many faulted or throttled calls the emulator still has in store."""
    with emulator.state.lock:
        rules = [*emulator.state.runtime["faults"], *emulator.state.runtime["throttles"]]
        return sum(int(rule["remaining"]) for rule in rules)


def made(emulator: RunningEmulator, item: ProvisioningRequest) -> dict[str, int]:
    """The objects Graph made for the request (by the name typed, unique per cell), per kind."""
    typed = str(item.form_data["display_name"]).lower()
    entries = emulator.control_get(f"graph/ledger?tenant={SLUG}")["ledger"]
    return {
        kind: sum(
            1
            for e in entries
            if e.get("kind") == kind
            and e.get("outcome") == "created"
            and typed in str(e.get("name") or "").lower()
        )
        for kind in MADE[item.workload]
    }


def followed(item: ProvisioningRequest) -> None:
    """The request rests in a state a person can read, and the worker comes back to it: a
    send to retry or a request to look for has its time set (an in-flight one without a time
    is due at once)."""
    item.refresh_from_db()
    assert item.state != State.SENDING, "left in sending"
    if item.state in (State.SUBMITTED, State.CONFIRMING):
        assert item.next_poll_at is not None, f"{item.state} with no next step: lost"


@contextmanager
def quick_reads(settings: Settings) -> Iterator[None]:
    """READ_TIMEOUT for the upstream and for Entra, for the step in which the fault fires."""
    read = settings.POINT_READ_TIMEOUT
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(msal_http, "ENTRA_TIMEOUT", (msal_http.ENTRA_TIMEOUT[0], READ_TIMEOUT))
        settings.POINT_READ_TIMEOUT = READ_TIMEOUT
        try:
            yield
        finally:
            settings.POINT_READ_TIMEOUT = read


def token_for(kind: str, tenant: Tenant) -> None:
    """The token request's own cells start with none (kept neither in this process nor in the
    database), so the send asks Entra; the others with one, as a portal mostly has."""
    if kind == "token":
        TenantToken.objects.all().delete()
        tokens.forget()
    else:
        tokens.get_token(tenant)


def meet_the_fault(
    world: World, settings: Settings, capture: Capture, template: Template, data: RequestData
) -> ProvisioningRequest:
    """Submit, then run the poller until the armed call has met its fault (short timeouts only
    meanwhile, so that a hang costs little and nothing else times out on a busy machine)."""
    with quick_reads(settings):
        item = submit(capture, template, world.requester, data)
        for _ in range(4):
            if not armed(world.emulator):
                break
            make_due(item)
            poll(capture)
    assert not armed(world.emulator), "the cell's call was never made"
    item.refresh_from_db()
    return item


def run_cell(
    world: World, settings: Settings, capture: Capture, kind: str, expect: Expect
) -> ProvisioningRequest:
    call = CALLS[kind]
    if call.after is not None:
        method, path, fault = call.after
        inject(world.emulator, fault, method=method, path=path)
    data = RequestData(display_name=f"Falcon {uuid.uuid4().hex[:8]}", owners=[OWNER])
    item = meet_the_fault(world, settings, capture, world.template(call.workload), data)
    followed(item)
    meanwhile, shown = item.state, visible_state(client_for(world.requester), item)
    item = settle(capture, item, rounds=ROUNDS)
    followed(item)
    counts = made(world.emulator, item)
    assert all(n <= 1 for n in counts.values()), f"duplicates: {counts}"
    assert_truthful(item, counts[item.workload])
    if item.state == State.COMPLETED:
        assert set(counts.values()) == {1}, counts
    if item.state == State.FAILED:
        assert set(counts.values()) == {0}, counts
    assert meanwhile == expect.state, (meanwhile, item.error_message)
    assert escape(expect.says) in shown
    assert item.state == expect.end, (item.state, item.error_message)
    return item


@pytest.mark.parametrize(("kind", "fault", "dialect"), CELLS)
def test_each_graph_call_meets_each_fault_without_duplicate_loss_or_false_outcome(
    kind: str,
    fault: str,
    dialect: str,
    world: World,
    settings: Settings,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    world.emulator.control("graph/dialect", tenant=SLUG, dialect=dialect)
    world.emulator.control("graph/timing", tenant=SLUG, seconds=0)
    token_for(kind, world.tenant)
    call = CALLS[kind]
    path = call.path.format(tid=world.tenant.entra_tenant_id)
    inject(world.emulator, fault, method=call.method, path=path)
    run_cell(world, settings, django_capture_on_commit_callbacks, kind, expected(kind, fault))


def test_the_graph_matrix_covers_every_call_kind_fault_and_dialect() -> None:
    assert set(TABLE) == set(CALLS)
    assert all(len(row) == len(FAULTS) for row in TABLE.values())
    assert len(CELLS) == len(CALLS) * len(FAULTS) * len(DIALECTS) == 220
    fast = [c.values for c in CELLS if not c.marks]
    assert len(fast) == 110
    for dialect in DIALECTS:  # each dialect meets every call and every fault in make test
        assert {k for k, _, d in fast if d == dialect} == set(CALLS)
        assert {f for _, f, d in fast if d == dialect} == set(FAULTS)


# --- Found by the matrix ----------------------------------------------------------------------


def test_a_community_whose_answer_was_lost_while_graph_still_makes_it_is_made_once(
    world: World, settings: Settings, django_capture_on_commit_callbacks: Capture
) -> None:
    """Graph makes a community asynchronously and lists it only once made; its name is not
    unique, so a second POST would make a second community. Finding nothing is then no proof:
    the request waits in Confirming and adopts the community once Graph lists it."""
    capture = django_capture_on_commit_callbacks
    world.emulator.control("graph/timing", tenant=SLUG, community=1.5)
    token_for("community", world.tenant)
    inject(world.emulator, "reset_after", method="POST", path=CALLS["community"].path)
    data = RequestData(display_name=f"Falcon {uuid.uuid4().hex[:8]}", owners=[OWNER])
    item = meet_the_fault(world, settings, capture, world.template("community"), data)
    item = settle(capture, item, rounds=1)  # looked for while Graph is still making it
    followed(item)
    waited = item.state
    deadline = time.monotonic() + 5
    while item.state not in FINAL_STATES and time.monotonic() < deadline:
        time.sleep(0.2)
        item = settle(capture, item, rounds=1)
    assert made(world.emulator, item) == {"community": 1, "group": 1}
    assert waited == State.CONFIRMING
    assert item.state == State.COMPLETED, item.error_message

"""Shared pieces of the fault matrices (tests/reliability/test_fault_matrix_*.py): one emulator
per module, a fault injected on one call kind, a request driven until it settles, and the checks
every cell makes (no duplicate, a visible state, no false outcome, no 500 page).

A matrix module imports the two fixtures to replace conftest's function-scoped ``emulator``
(``live_tenant_a``, ``instant``, ``catalogue`` and the rest then get the shared one)::

    from tests.reliability.faults import emulator, module_emulator

    __all__ = ["emulator", "module_emulator"]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils.html import escape
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from provisioning.models import ProvisioningRequest
from provisioning.states import FINAL_STATES, State
from tenants import msal_http
from tests.conftest import wire_to_emulator
from tests.provisioning.lifecycle import make_due, poll

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

# Every fault the emulator injects, by the name the matrices use: "429" is /_control/throttle
# (with Retry-After), the others /_control/faults kinds (docs/emulator.md, "Control API").
FAULTS = (
    "500",
    "502",
    "503",
    "429",
    "hang",
    "reset",
    "malformed",
    "401",
    "403",
    "reset_after",
    "hang_after",
)
HANGS = frozenset({"hang", "hang_after"})

# Inside `short_timeouts`, the client gives up reading after this long, and a hang outlasts it.
# Outside, calls keep the test settings' seconds: a busy machine must not turn an ordinary call
# into a timeout (a POST's timeout is an unknown outcome, which would change a cell's outcome).
SHORT_READ_TIMEOUT = 0.2
HANG_SECONDS = 1.0
RETRY_AFTER = 1  # seconds; the upstream client records its waits instead of sleeping (fast_point)


def inject(
    emulator: RunningEmulator, fault: str, *, method: str, path: str, count: int = 1
) -> None:
    """Make the next ``count`` calls matching ``method`` and the glob ``path`` meet ``fault``."""
    if fault == "429":
        emulator.control("throttle", method=method, path=path, count=count, retry_after=RETRY_AFTER)
        return
    extra = {"seconds": HANG_SECONDS} if fault in HANGS else {}
    emulator.control("faults", method=method, path=path, kind=fault, count=count, **extra)


@contextmanager
def short_timeouts(settings: Settings, *, entra: bool = False) -> Iterator[None]:
    """Read timeouts short enough that a hang costs well under a second, for the one step of a
    cell in which the fault fires: the upstream's, and Entra's too when ``entra`` (a cell that
    faults the token request; elsewhere a cold first token must not time out)."""
    read = settings.POINT_READ_TIMEOUT
    settings.POINT_READ_TIMEOUT = SHORT_READ_TIMEOUT
    try:
        with pytest.MonkeyPatch.context() as patch:
            if entra:
                timeout = (msal_http.ENTRA_TIMEOUT[0], SHORT_READ_TIMEOUT)
                patch.setattr(msal_http, "ENTRA_TIMEOUT", timeout)
            yield
    finally:
        settings.POINT_READ_TIMEOUT = read


def settle(
    capture: DjangoCaptureOnCommitCallbacks, item: ProvisioningRequest, *, rounds: int = 5
) -> ProvisioningRequest:
    """Run the poller (each round making the request due) until the request is final or
    ``rounds`` passes are spent: a request that waits (confirming, say) is left waiting."""
    for _ in range(rounds):
        item.refresh_from_db()
        if item.state in FINAL_STATES:
            break
        make_due(item)
        poll(capture)
    item.refresh_from_db()
    return item


def point_ledger(emulator: RunningEmulator, slug: str) -> list[dict[str, Any]]:
    """Every workspace the emulated Point of tenant ``slug`` created."""
    return list(emulator.control_get(f"ledger?tenant={slug}")["workspaces"])


def assert_truthful(item: ProvisioningRequest, created: int) -> None:
    """The promises every cell keeps, given how many workspaces the upstream made for ``item``:
    never two; Completed only when it exists; Failed only when it does not."""
    assert created <= 1, f"request {item.pk} made {created} workspaces"
    if item.state == State.COMPLETED:
        assert created == 1, "shown Completed, but nothing was created"
    if item.state == State.FAILED:
        assert created == 0, "shown Failed, but the workspace exists"


def page(client: Client, url: str, *words: str) -> str:
    """Load a page as a person would: never a 500, always a 200 that says ``words``."""
    response = client.get(url, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    text = response.content.decode()
    for word in words:
        assert word in text, f"{url} does not say {word!r}"
    return text


def visible_state(client: Client, item: ProvisioningRequest) -> str:
    """The request page shows its state's label and the latest thing that happened to it."""
    item.refresh_from_db()
    latest = item.events.order_by("-at", "-id").first()
    assert latest is not None, "a request without a timeline"
    words = [State(item.state).label]
    if latest.detail:
        words.append(latest.detail[:60])
    return page(client, f"/requests/{item.pk}/", *(str(escape(w)) for w in words))


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[RunningEmulator]:
    """One emulator for a whole module: starting one per cell would cost more than the cell."""
    from emulator.server import start_background

    running = start_background(log_requests=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def emulator(module_emulator: RunningEmulator, settings: Settings) -> RunningEmulator:
    """conftest's ``emulator``, on the module's server, reset to its fixture (state, ledger,
    dialects, timings, rules) before each test."""
    module_emulator.control("reset")
    wire_to_emulator(settings, module_emulator.url)
    return module_emulator

"""The fault matrix for Syskit Point (issue 19, item 1; docs/reliability.md, "Fault matrix").

Every Point call kind x every fault the emulator injects x every Point dialect, against the
emulator over real HTTP, through the portal's own services, tasks and pages. One cell injects
one fault on one call kind, drives the work until it settles, and asserts the outcome that
``TABLE`` expects for that call kind and fault, and always:

- never a duplicate: the emulator's ledger holds at most one workspace per portal request;
- never a request without a visible state: its page answers 200 with its state and the latest
  thing that happened to it (for a report, the directory page; for webhooks, the tenant page);
- never a false outcome: Completed only when the ledger has the workspace, Failed only when it
  does not; a report is Succeeded only with its rows, webhooks On only when Point lists the
  registration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.utils.html import escape
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from directory import services as directory_services
from directory.models import ReportKind, ReportRun
from portal.models import User
from provisioning import notifications
from provisioning.models import ProvisioningRequest, Template
from provisioning.services.catalogue import _apply_catalogue
from provisioning.states import State
from tenants import tokens, upstream, webhooks
from tenants.models import Tenant, TenantToken, WebhookSubscription
from tests.conftest import client_for
from tests.provisioning.lifecycle import (
    POINT_PATH,
    ledger,
    make_due,
    poll,
    quick_point_client,
    request_data,
    submit,
)
from tests.reliability.faults import (
    FAULTS,
    assert_truthful,
    emulator,
    inject,
    module_emulator,
    page,
    point_ledger,
    settle,
    short_timeouts,
    visible_state,
)
from upstreams.contract import CatalogueItem

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

__all__ = ["emulator", "module_emulator"]

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks

DIALECTS = ("today", "documented-minimal", "graph-names", "pascal-problem-details")
TEMPLATE = "11"  # Microsoft 365 group, automatic approval
MEGAN = "megan.bowen@contoso.onmicrosoft.com"

# --- The expectation table ------------------------------------------------------------------

RETRIED = "retried and succeeded"
FAILS = "failed with a clear message"
WAITS = "waits"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Expect:
    """One cell's outcome. RETRIED: the request ends Completed (the report Succeeded, webhooks
    On); ``state`` and ``says`` are what the request showed right after the fault (UNCHANGED:
    the state it had before) and its timeline keeps the words; ``resent``: each lost answer
    was looked for, proven absent and sent again (True), or found and never sent again
    (False). FAILS: it ends Failed (the report failed, webhooks off), its page saying
    ``says``. WAITS: it is still in ``state`` after the poller's passes, its page saying
    ``says``."""

    outcome: str
    says: str = ""
    state: str = ""
    resent: bool | None = None


OK = Expect(RETRIED)
# The token request failed: Entra is "unavailable"; nothing was sent, so it is sent later.
ENTRA_DOWN = Expect(RETRIED, "Microsoft Entra ID is unavailable", State.SUBMITTED)
# Point kept answering 429: nothing arrived; it is sent again after the Retry-After.
THROTTLED = Expect(RETRIED, "is throttling the portal", State.SUBMITTED)
# The POST's answer was lost before Point acted: looked for, proven absent, sent again.
LOST_BEFORE = Expect(RETRIED, "may or may not have been carried out", State.CONFIRMING, True)
# The POST's answer was lost after Point acted: looked for, found, never sent again.
LOST_AFTER = Expect(RETRIED, "may or may not have been carried out", State.CONFIRMING, False)
# A 200 whose body cannot be read: Point accepted it, so it is looked for, never sent again.
ACCEPTED = Expect(WAITS, "Accepted by Point, confirming", State.CONFIRMING)
# Without Point's request lookup (documented-minimal), a lost answer waits for a person.
ASKS_A_PERSON = Expect(WAITS, "Checking whether Point received it", State.CONFIRMING)
# The status check failed past the client's retries: the request keeps its state and the
# next poll completes it.
CHECKED_AGAIN = Expect(RETRIED, state=UNCHANGED)
# The webhook registration met an outage past the client's retries: the admin is told.
GAVE_UP = Expect(FAILS, "giving up")
REFUSED_FOR_NOW = Expect(FAILS, "is throttling the portal")
# Point answered the registration but does not list it: webhooks are not said to be on.
UNLISTED = Expect(FAILS, "does not list it")


def missing(permission: str) -> Expect:
    return Expect(FAILS, f"lacks the Point permission {permission}")


# Call kinds: the token request (Entra, `<Point app id>/.default`); a request's POST
# /provision/*; its status GET /provision/requests/{id}; a report job, whose start (POST
# /users/access/generate) meets the fault once and whose status checks (GET
# /requests/{id}/status) meet it as often as ``count`` says; the webhook registration (POST
# /webhooks/endpoints).
KINDS = ("token", "submit", "status", "report", "webhook")
NO_PROVISIONING = missing("Point.Provisioning")
NO_ASYNC = missing("Point.AsyncRequests")  # the start, the first call to meet the 403
NO_ADMIN = missing("Point.Admin")
# fmt: off
E, T, B, A, C, G, R = ENTRA_DOWN, THROTTLED, LOST_BEFORE, LOST_AFTER, CHECKED_AGAIN, GAVE_UP, REFUSED_FOR_NOW
TABLE: dict[str, tuple[Expect, ...]] = {
    #                 500 502 503 429 hang reset malformed 401 403              reset_after hang_after
    "token":         (E,  E,  E,  E,  E,   E,    E,        E,  E,               E,          E),
    "submit":        (B,  B,  B,  T,  B,   B,    ACCEPTED, OK, NO_PROVISIONING, A,          A),
    "status":        (C,  C,  C,  C,  OK,  C,    C,        OK, C,               OK,         OK),
    "report":        (OK, OK, OK, OK, OK,  OK,   OK,       OK, NO_ASYNC,        OK,         OK),
    "webhook":       (G,  G,  G,  R,  OK,  G,    UNLISTED, OK, NO_ADMIN,        OK,         OK),
}
# fmt: on
# Where a dialect changes the outcome. documented-minimal publishes no naming rule, so before
# its POST the send reads the workspaces that already hold the name: a failed token request
# meets that read, which goes without, and the POST gets a token. It has no request lookup, so
# an answer lost before Point acted cannot be proven absent (never sent again on a guess).
EXCEPTIONS: dict[tuple[str, str, str], Expect] = {
    **{("token", fault, "documented-minimal"): OK for fault in FAULTS},
    **{
        ("submit", fault, "documented-minimal"): ASKS_A_PERSON
        for fault in ("500", "502", "503", "hang", "reset")
    },
}

# How many calls in a row meet the fault. An outage before Point acts meets the call more
# times than the client retries it (POINT_MAX_RETRIES + 1, see `quick`), so that the
# portal's own retry (the next poll, the next send) is what a cell proves, not only the HTTP
# loop's. A hang (each costs a read timeout), a token Point refuses, a missing permission and
# an answer lost after Point acted meet it once, and so does the token request (the send
# leaves it to the next try, whatever the fault).
OUTAGES = frozenset({"500", "502", "503", "429", "reset", "malformed"})
OUTLAST = 3


def count(kind: str, fault: str) -> int:
    return OUTLAST if fault in OUTAGES and kind != "token" else 1


def expected(kind: str, fault: str, dialect: str) -> Expect:
    return EXCEPTIONS.get((kind, fault, dialect), TABLE[kind][FAULTS.index(fault)])


CELLS = [(k, f, d) for k in KINDS for f in FAULTS for d in DIALECTS]


# --- Driving one cell ------------------------------------------------------------------------


@dataclass
class Cell:
    kind: str
    fault: str
    dialect: str
    expect: Expect
    tenant: Tenant
    emulator: RunningEmulator
    capture: Capture
    settings: Settings

    @property
    def count(self) -> int:
        return count(self.kind, self.fault)

    def inject(self, method: str, path: str, *, times: int | None = None) -> None:
        times = self.count if times is None else times
        inject(self.emulator, self.fault, method=method, path=path, count=times)


# The catalogue as each dialect reads it (one read per module: a cell syncs one template).
_catalogue: dict[str, list[CatalogueItem]] = {}


def template(cell: Cell) -> Template:
    if cell.dialect not in _catalogue:
        _catalogue[cell.dialect] = upstream.provider_for(cell.tenant).list_templates()
    item = next(i for i in _catalogue[cell.dialect] if i.id == TEMPLATE)
    _apply_catalogue(cell.tenant, [item])
    return Template.objects.get(tenant=cell.tenant, upstream_id=TEMPLATE)


def run_request(cell: Cell, requester: User) -> None:
    """token, submit, status: a request through send, poller and page."""
    chosen, data = template(cell), request_data(TEMPLATE)
    if cell.kind == "token":
        # No token kept in this process or shared in the database: the send asks Entra.
        TenantToken.objects.all().delete()
        tokens.forget()
        cell.inject("POST", f"/{cell.tenant.entra_tenant_id}/oauth2/v2.0/token")
    if cell.kind == "submit":
        cell.inject("POST", f"{POINT_PATH}/provision/*")
    if cell.kind == "status":
        item = submit(cell.capture, chosen, requester, data)
        before = item.state
        cell.inject("GET", f"{POINT_PATH}/provision/requests/*")
        with short_timeouts(cell.settings):
            make_due(item)
            poll(cell.capture)
    else:
        with short_timeouts(cell.settings, entra=cell.kind == "token"):
            item = submit(cell.capture, chosen, requester, data)
    meanwhile = ProvisioningRequest.objects.get(pk=item.pk)
    # The longest way to Completed (three lost answers, a fourth send, a poll) takes four
    # passes; a request expected to wait shows it over three (each a lookup in Point).
    item = settle(cell.capture, item, rounds=3 if cell.expect.outcome == WAITS else 5)
    made = len(ledger(cell.emulator, item))
    assert_truthful(item, made)
    shown = visible_state(client_for(requester), item)
    expect = cell.expect
    if expect.outcome == RETRIED:
        assert item.state == State.COMPLETED, (item.state, item.error_message)
        if expect.state == UNCHANGED:
            assert meanwhile.state == before
        elif expect.state:
            assert meanwhile.state == expect.state
            assert item.events.filter(detail__contains=expect.says).exists()
        if expect.resent is not None:
            assert item.send_attempts == (cell.count + 1 if expect.resent else 1)
    elif expect.outcome == FAILS:
        assert item.state == State.FAILED
        assert expect.says in item.error_message
        assert escape(expect.says) in shown
    else:
        assert item.state == expect.state
        assert escape(expect.says) in shown


def run_report(cell: Cell, staff: User) -> None:
    """report: a user access report refreshed from the directory page. Its start is a POST
    the client may repeat (it retries it); its status checks, past the client's retries, are
    retried by the report's own poll."""
    cell.inject("POST", f"{POINT_PATH}/users/access/generate", times=1)
    cell.inject("GET", f"{POINT_PATH}/requests/*/status")
    client = client_for(staff)
    with short_timeouts(cell.settings), cell.capture(execute=True):
        client.post(
            "/directory/contoso/reports/refresh",
            {"kind": ReportKind.USER_ACCESS, "subject": MEGAN, "label": MEGAN},
        )
    run = ReportRun.objects.get()
    assert point_ledger(cell.emulator, "contoso") == []
    if cell.expect.outcome == RETRIED:
        assert run.state == ReportRun.State.SUCCEEDED, run.error
        assert run.row_count > 0 and run.rows.count() == run.row_count
        page(client, f"/directory/contoso/access/?upn={MEGAN}", "As of")
    else:
        assert run.state == ReportRun.State.FAILED and run.finished_at is not None
        assert not run.rows.exists()
        said = escape(f"failed: {run.error}")
        page(client, f"/directory/contoso/access/?upn={MEGAN}", said, escape(cell.expect.says))


def run_webhook(cell: Cell, admin: User) -> None:
    """webhook: an admin turns webhooks on from the tenant page."""
    cell.inject("POST", f"{POINT_PATH}/webhooks/endpoints")
    client = client_for(admin)
    with short_timeouts(cell.settings):
        response = client.post("/tenants/contoso/webhooks/on", follow=True)
    assert response.status_code == 200  # the tenant page, where the admin lands
    shown = response.content.decode()
    sub = WebhookSubscription.objects.get(tenant=cell.tenant)
    held = [r.url for r in webhooks.registrations(cell.tenant)]
    if sub.enabled:
        assert sub.receiver_url in held, "On, but Point holds no registration"
    if cell.expect.outcome == RETRIED:
        assert sub.enabled and sub.receiving
        assert "Webhooks are on" in shown
    else:
        assert not sub.enabled
        assert "Webhooks are not on." in shown and escape(cell.expect.says) in shown
        assert cell.expect.says in sub.last_error


# One ciphertext of Contoso's client secret for the module: the app token (and msal's app)
# then carries over from cell to cell, as in a worker that runs for days, instead of costing
# every cell a round trip to Entra. The token cells forget it on purpose.
_ciphertext: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _tokens_stay_in_this_module() -> Iterator[None]:
    tokens.forget()
    yield
    tokens.forget()


@pytest.fixture
def tenant(live_tenant_a: Tenant) -> Tenant:
    cipher = _ciphertext.setdefault(live_tenant_a.slug, live_tenant_a.client_secret_encrypted)
    live_tenant_a.client_secret_encrypted = cipher
    live_tenant_a.save(update_fields=["client_secret_encrypted"])
    return live_tenant_a


@pytest.fixture
def quick(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts, recorded (not slept) back-off waits, reports polled without waiting.
    The e-mail on an outcome is not what the matrix checks (tests/provisioning/
    test_notifications.py does), and rendering it costs a tenth of a cell."""
    quick_point_client(settings, monkeypatch, max_retries=2, backoff_ms=10)
    monkeypatch.setattr(directory_services, "_sleep", lambda seconds: None)
    monkeypatch.setattr(notifications, "send_outcome", lambda **kwargs: False)
    settings.DIRECTORY_POLL_INTERVAL_MS = 10
    assert settings.POINT_MAX_RETRIES < OUTLAST, "an outage must outlast the client's retries"


@pytest.mark.parametrize(("kind", "fault", "dialect"), CELLS, ids=["-".join(c) for c in CELLS])
def test_each_point_call_meets_each_fault_without_duplicate_loss_or_false_outcome(
    kind: str,
    fault: str,
    dialect: str,
    tenant: Tenant,
    emulator: RunningEmulator,
    quick: None,
    settings: Settings,
    django_capture_on_commit_callbacks: Capture,
    request: pytest.FixtureRequest,
) -> None:
    emulator.control("dialect", dialect=dialect, tenant="contoso")
    emulator.control("timing", approval=0, approved=0, in_progress=0, job=0)
    cell = Cell(
        kind,
        fault,
        dialect,
        expected(kind, fault, dialect),
        tenant,
        emulator,
        django_capture_on_commit_callbacks,
        settings,
    )
    # Only the person the call kind needs: each costs a user and a signed-in session.
    if kind in ("token", "submit", "status"):
        run_request(cell, request.getfixturevalue("requester_a"))
    elif kind == "report":
        run_report(cell, request.getfixturevalue("it_staff"))
    else:
        run_webhook(cell, request.getfixturevalue("admin"))


def test_the_matrix_covers_every_point_dialect_and_every_fault_the_emulator_injects() -> None:
    from emulator.control import FAULT_KINDS
    from emulator.point.dialects import NAMES

    # A dialect or a fault added to the emulator must join the table, with its expectations.
    assert set(DIALECTS) == set(NAMES)
    # aadsts is an Entra error body, not a Point fault (tests/tenants/test_entra_outage.py).
    assert set(FAULTS) == (set(FAULT_KINDS) - {"aadsts"}) | {"429"}
    assert set(TABLE) == set(KINDS)
    assert all(len(row) == len(FAULTS) for row in TABLE.values())
    assert len(CELLS) == len(KINDS) * len(FAULTS) * len(DIALECTS) == 220

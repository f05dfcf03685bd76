"""The portal against every dialect of the emulated Point (docs/point-dialects.md): other
faithful readings of the documented contract than the one our emulator and client share.

The request flow, the directory and the connection check run against each dialect; the fault
tests run against `documented-minimal` (no request lookup, answers without status, bare arrays,
no search) and assert on the emulator's ledger: no duplicate, nothing lost, no false Failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from directory.models import ReportKind, ReportRun
from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tenants import services as tenant_services
from tenants.models import ConnectionCheck, Tenant
from tests.conftest import client_for
from tests.provisioning.lifecycle import (
    MEGAN,
    assert_no_task_failures,
    drive,
    ledger,
    make_due,
    poll,
    request_data,
    submit,
)

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db
Capture = DjangoCaptureOnCommitCallbacks
DIALECTS = ["today", "documented-minimal", "graph-names", "pascal-problem-details"]
WORKLOADS = {"1": "team", "11": "group", "21": "site", "31": "community"}


@pytest.fixture(params=DIALECTS)
def dialect(request: Any, live_tenant_a: Tenant, emulator: RunningEmulator) -> str:
    emulator.control("dialect", dialect=request.param, tenant="contoso")
    emulator.control("timing", approval=0, approved=0, in_progress=0, job=0.2)
    return str(request.param)


def templates(tenant: Tenant) -> dict[str, Template]:
    services.catalogue_sync(tenant=tenant)
    return {t.upstream_id: t for t in Template.objects.filter(tenant=tenant)}


# --- The request flow ---------------------------------------------------------------------------


@pytest.mark.parametrize("upstream_id", sorted(WORKLOADS))
def test_each_workload_completes_once_in_every_dialect(
    dialect: str,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
    upstream_id: str,
) -> None:
    template = templates(live_tenant_a)[upstream_id]
    assert template.workload == WORKLOADS[upstream_id]
    item = submit(
        django_capture_on_commit_callbacks, template, requester_a, request_data(upstream_id)
    )
    assert item.state not in (State.FAILED, State.SUBMITTED), item.error_message
    item = drive(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED, (dialect, item.state, item.error_message)
    assert item.workspace_url.startswith("https://")
    assert len(ledger(emulator, item)) == 1
    assert_no_task_failures()


def test_refused_fields_land_on_their_fields_in_every_dialect(
    dialect: str,
    live_tenant_a: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    template = templates(live_tenant_a)["1"]  # needs two owners, a cost center and a manager
    data = request_data("1", owners=["adele.vance@contoso.onmicrosoft.com"], metadata={})
    item = submit(django_capture_on_commit_callbacks, template, requester_a, data)
    assert item.state == State.FAILED
    assert "owners" in item.field_errors, item.field_errors
    assert set(item.field_errors) - {"__all__"}, "at least one message sits on its field"


def test_a_taken_name_is_reported_taken_in_every_dialect(
    dialect: str,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    template = templates(live_tenant_a)["11"]
    first = submit(
        django_capture_on_commit_callbacks, template, requester_a, request_data("11", "Twin")
    )
    first = drive(django_capture_on_commit_callbacks, first)
    assert first.state == State.COMPLETED
    page = client_for(requester_a).get(
        f"/requests/new/{template.pk}/availability",
        {"display_name": "Twin"},
        headers={"HX-Request": "true"},
    )
    said = page.content.decode()
    if dialect == "documented-minimal":  # no naming rule published: the final name is unknown
        assert "already has workspaces whose names contain “Twin”" in said
    else:
        assert "already taken" in said
    second = submit(
        django_capture_on_commit_callbacks, template, requester_a, request_data("11", "Twin")
    )
    assert second.state == State.FAILED and second.field_errors.get("display_name")
    assert len(ledger(emulator, first)) == 1


# --- The directory ------------------------------------------------------------------------------


def test_the_directory_reads_every_dialect(
    dialect: str,
    live_tenant_a: Tenant,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    client = client_for(it_staff)
    groups = client.get("/directory/contoso/groups/")
    assert groups.status_code == 200
    names = [row["group"].name for row in groups.context["rows"]]
    assert "All Company" in names or groups.context["page"].has_next
    found = client.get("/directory/contoso/groups/", {"search": "finance"}).context["rows"]
    assert found and all("finance" in row["group"].name.lower() for row in found)
    group = client.get("/directory/contoso/groups/All Company")
    assert group.status_code == 200 and group.context["group"].id
    sites = client.get("/directory/contoso/sites/", {"search": "finance"})
    assert sites.status_code == 200
    assert sites.context["page"].items
    assert all("finance" in (s.title + s.url).lower() for s in sites.context["page"].items)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/directory/contoso/reports/refresh",
            {"kind": ReportKind.USER_ACCESS, "subject": MEGAN},
        )
    run = ReportRun.objects.get()
    assert run.state == ReportRun.State.SUCCEEDED, run.error
    assert run.row_count > 0 and run.processed
    export = client.get(f"/directory/contoso/reports/{run.pk}/export.csv")
    lines = b"".join(export.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    first_row = lines[1].split(",")
    assert first_row[0] and first_row[1], "workspace and URL are never blank"


# --- The connection check -----------------------------------------------------------------------


def test_the_connection_check_grants_every_permission_in_every_dialect(
    dialect: str,
    live_tenant_a: Tenant,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        check = tenant_services.connection_check_start(tenant=live_tenant_a)
    check = ConnectionCheck.objects.get(pk=check.pk)
    assert check.ok, check.probes


# --- Faults on documented-minimal ---------------------------------------------------------------


@pytest.fixture
def minimal(live_tenant_a: Tenant, emulator: RunningEmulator) -> RunningEmulator:
    emulator.control("dialect", dialect="documented-minimal", tenant="contoso")
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    return emulator


POST = "/point/contoso/v1.0/provision/*"


def test_a_lost_answer_after_point_acted_completes_once_without_a_lookup(
    minimal: RunningEmulator,
    live_tenant_a: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    template = templates(live_tenant_a)["11"]
    minimal.control("faults", method="POST", path=POST, kind="reset_after")
    item = submit(django_capture_on_commit_callbacks, template, requester_a, request_data("11"))
    assert item.state == State.CONFIRMING  # not failed, not sent again
    item = drive(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED
    assert len(ledger(minimal, item)) == 1
    assert item.send_attempts == 1


def test_a_worker_killed_mid_send_completes_once(
    minimal: RunningEmulator,
    live_tenant_a: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
    settings: Settings,
) -> None:
    template = templates(live_tenant_a)["11"]
    minimal.control("faults", method="POST", path=POST, kind="reset_after")
    item = submit(django_capture_on_commit_callbacks, template, requester_a, request_data("11"))
    # As if the worker died between the POST and saving anything: the row is still sending.
    ProvisioningRequest.objects.filter(pk=item.pk).update(
        state=State.SENDING,
        maybe_sent=False,
        next_poll_at=None,
        send_started_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_SEND_LEASE + 1),
    )
    poll(django_capture_on_commit_callbacks)
    item = drive(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED
    assert len(ledger(minimal, item)) == 1


def test_a_burst_of_429s_is_waited_out_and_sends_once(
    minimal: RunningEmulator,
    live_tenant_a: Tenant,
    requester_a: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
) -> None:
    template = templates(live_tenant_a)["11"]
    minimal.control("throttle", method="POST", path=POST, count=4, retry_after=1)
    item = submit(django_capture_on_commit_callbacks, template, requester_a, request_data("11"))
    for _ in range(6):
        if item.state != State.SUBMITTED:
            break
        make_due(item)
        poll(django_capture_on_commit_callbacks)
        item.refresh_from_db()
    item = drive(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED
    assert len(ledger(minimal, item)) == 1


def test_an_answer_lost_before_point_acted_waits_for_a_person_and_creates_nothing(
    minimal: RunningEmulator,
    live_tenant_a: Tenant,
    requester_a: User,
    it_staff: User,
    django_capture_on_commit_callbacks: Capture,
    fast_point: list[float],
    settings: Settings,
) -> None:
    template = templates(live_tenant_a)["11"]
    minimal.control("faults", method="POST", path=POST, kind="reset")
    item = submit(django_capture_on_commit_callbacks, template, requester_a, request_data("11"))
    for _ in range(4):
        make_due(item)
        poll(django_capture_on_commit_callbacks)
    item.refresh_from_db()
    assert item.state == State.CONFIRMING  # never Failed on a guess, never sent twice
    assert ledger(minimal, item) == []
    # IT staff checked Point, found nothing, and send it again: created once.
    settings.PROVISIONING_CONFIRM_ESCALATE_AFTER = 60
    item.events.update(at=timezone.now() - timedelta(hours=2))
    staff: Client = client_for(it_staff)
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/requests/{item.pk}/send-again")
    item = drive(django_capture_on_commit_callbacks, item)
    assert item.state == State.COMPLETED
    assert len(ledger(minimal, item)) == 1

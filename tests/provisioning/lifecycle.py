"""Helpers for the provisioning life-cycle tests (send, poll, end to end): a fast upstream client,
short emulator phases, valid requests for the emulator's templates, and a driver that makes
polls due by editing fields instead of sleeping."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone
from django_q.models import Failure
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, Template
from provisioning.payload import RequestData
from provisioning.states import FINAL_STATES
from tenants import tokens, upstream
from tenants.models import Tenant

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

CONTOSO = "contoso.onmicrosoft.com"
ADELE = f"adele.vance@{CONTOSO}"
ALEX = f"alex.wilber@{CONTOSO}"
MEGAN = f"megan.bowen@{CONTOSO}"
NESTOR = f"nestor.wilke@{CONTOSO}"
POINT_PATH = "/point/contoso/v1.0"

# Template upstream id -> what a valid request needs besides its name.
VALID: dict[str, dict[str, Any]] = {
    "1": {
        "owners": [ADELE, ALEX],
        "metadata": {"Cost Center": "CC-1001", "Project Manager": ADELE, "Department": "Finance"},
    },
    "2": {"owners": [ADELE], "metadata": {"Department": "Finance"}},
    "3": {"owners": [ADELE]},
    "11": {"owners": [ADELE]},
    "21": {"owners": [ADELE], "metadata": {"Audience": "Everyone"}},
    "31": {"owners": [ADELE], "metadata": {"Topic": "Gardening"}},
    "32": {"owners": [ADELE]},
}


def quick_point_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *, max_retries: int, backoff_ms: int
) -> list[float]:
    """Small timeouts in the upstream client, and its back-off waits recorded (not slept)."""
    settings.POINT_CONNECT_TIMEOUT = 2
    settings.POINT_READ_TIMEOUT = 5
    settings.POINT_MAX_RETRIES = max_retries
    settings.POINT_BACKOFF_MS = backoff_ms
    settings.POINT_RETRY_BUDGET = 30
    waits: list[float] = []
    monkeypatch.setattr(upstream, "_sleep", waits.append)
    return waits


@pytest.fixture
def fast_point(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Small timeouts and recorded (not slept) back-off waits in the upstream client."""
    tokens.forget()
    yield quick_point_client(settings, monkeypatch, max_retries=2, backoff_ms=10)
    tokens.forget()


@pytest.fixture
def instant(emulator: RunningEmulator) -> RunningEmulator:
    """Emulator phases of zero length: a request is done by the first status check."""
    emulator.control("timing", approval=0, approved=0, in_progress=0)
    return emulator


@pytest.fixture
def catalogue(live_tenant_a: Tenant, fast_point: list[float]) -> dict[str, Template]:
    services.catalogue_sync(tenant=live_tenant_a)
    return {t.upstream_id: t for t in Template.objects.filter(tenant=live_tenant_a)}


def request_data(upstream_id: str, name: str | None = None, **overrides: Any) -> RequestData:
    values: dict[str, Any] = {
        "display_name": name or f"Falcon {uuid.uuid4().hex[:8]}",
        "description": "A test workspace",
        **VALID[upstream_id],
        **overrides,
    }
    return RequestData(**values)


def submit(
    capture: DjangoCaptureOnCommitCallbacks, template: Template, user: User, data: RequestData
) -> ProvisioningRequest:
    """Submit and run what it queues on commit (the send task runs inline in tests)."""
    with capture(execute=True):
        request = services.request_submit(
            tenant=template.tenant, template=template, requested_by=user, data=data
        )
    request.refresh_from_db()
    return request


def make_due(request: ProvisioningRequest) -> None:
    """Move the next poll / retry time into the past instead of waiting for it."""
    ProvisioningRequest.objects.filter(pk=request.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=1)
    )


def poll(capture: DjangoCaptureOnCommitCallbacks) -> services.PollReport:
    with capture(execute=True):
        return services.poll_due()


def drive(
    capture: DjangoCaptureOnCommitCallbacks,
    request: ProvisioningRequest,
    *,
    until: frozenset[str] | set[str] = FINAL_STATES,
    rounds: int = 50,
) -> ProvisioningRequest:
    """Poll (making each poll due) until the request is in one of `until`."""
    for _ in range(rounds):
        request.refresh_from_db()
        if request.state in until:
            return request
        make_due(request)
        poll(capture)
        time.sleep(0.02)  # only lets the emulator's clock move; nothing asserts on time
    request.refresh_from_db()
    return request


def ledger(emulator: RunningEmulator, request: ProvisioningRequest) -> list[dict[str, Any]]:
    """Workspaces the emulator created for this request: any whose name holds the name typed.

    Not the portal's final name: where the upstream does not publish its naming rule, Point's
    prefix is unknown to the portal, and a duplicate must still be counted. Tests type unique
    names, so nothing else matches.
    """
    typed = str(request.form_data["display_name"]).lower()
    entries = emulator.control_get("ledger?tenant=contoso")["workspaces"]
    return [e for e in entries if typed in str(e["displayName"]).lower()]


def assert_no_task_failures() -> None:
    failures = list(Failure.objects.values_list("func", "result"))
    assert failures == []

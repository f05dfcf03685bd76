"""The poller's pass on real threads and real connections (committed rows, no test transaction):
every due request checked exactly once, within each tenant's concurrency, even with two pollers
running at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest
from provisioning.states import State
from tenants import upstream as tenant_upstream
from tenants.models import Tenant
from tests.provisioning.ui_fixtures import make_template
from upstreams.contract import RequestStatus, Status

pytestmark = pytest.mark.django_db(transaction=True)


class SlowUpstream:
    """Answers "still waiting" after ``delay`` s; counts calls and the most in flight per tenant."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.asked: Counter[str] = Counter()
        self.in_flight: Counter[int] = Counter()
        self.most_in_flight: Counter[int] = Counter()
        self.lock = threading.Lock()

    def bound(self, tenant: Tenant) -> SlowUpstream.Bound:
        return SlowUpstream.Bound(self, tenant.pk)

    class Bound:
        def __init__(self, owner: SlowUpstream, tenant_id: int) -> None:
            self.owner, self.tenant_id = owner, tenant_id

        def get_request(self, request_id: str) -> RequestStatus:
            owner = self.owner
            with owner.lock:
                owner.asked[request_id] += 1
                owner.in_flight[self.tenant_id] += 1
                owner.most_in_flight[self.tenant_id] = max(
                    owner.most_in_flight[self.tenant_id], owner.in_flight[self.tenant_id]
                )
            time.sleep(owner.delay)
            with owner.lock:
                owner.in_flight[self.tenant_id] -= 1
            return RequestStatus(id=request_id, status=Status.PENDING_APPROVAL)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> SlowUpstream:
    fake = SlowUpstream(delay=0.05)
    monkeypatch.setattr(tenant_upstream, "provider_for", fake.bound)
    return fake


def due_requests(tenants: list[Tenant], user: User, per_tenant: int) -> list[str]:
    now = timezone.now()
    ids = []
    for tenant in tenants:
        template = make_template(tenant, 32)
        rows = [
            ProvisioningRequest(
                tenant=tenant,
                template=template,
                requested_by=user,
                workload=template.workload,
                display_name=f"{tenant.slug}-{n}",
                final_name=f"{tenant.slug}-{n}",
                state=State.WAITING_APPROVAL,
                upstream_id=f"{tenant.slug}-{n}",
                poll_interval=10,
                next_poll_at=now - timedelta(seconds=n + 1),
            )
            for n in range(per_tenant)
        ]
        ProvisioningRequest.objects.bulk_create(rows)
        ids += [row.upstream_id for row in rows]
    return ids


def test_one_pass_checks_every_due_request_once_within_each_tenants_concurrency(
    tenant_a: Tenant, tenant_b: Tenant, requester_a: User, slow: SlowUpstream, settings: Settings
) -> None:
    settings.PROVISIONING_POLL_CONCURRENCY = 3
    settings.PROVISIONING_POLL_WORKERS = 8
    ids = due_requests([tenant_a, tenant_b], requester_a, 30)
    report = services.poll_due()
    assert (report.due, report.refreshed, report.left) == (60, 60, 0)
    assert slow.asked == Counter(ids)  # each once
    assert max(slow.most_in_flight.values()) <= 3
    assert min(slow.most_in_flight.values()) >= 2  # checks overlap: not one after another
    assert not ProvisioningRequest.objects.filter(next_poll_at__lte=timezone.now()).exists()


def test_two_pollers_at_once_never_check_the_same_request(
    tenant_a: Tenant, tenant_b: Tenant, requester_a: User, slow: SlowUpstream, settings: Settings
) -> None:
    settings.PROVISIONING_POLL_CONCURRENCY = 4
    settings.PROVISIONING_POLL_WORKERS = 4
    ids = due_requests([tenant_a, tenant_b], requester_a, 40)
    reports: list[services.PollReport] = []
    start = threading.Barrier(2)

    def poller() -> None:
        try:
            start.wait()
            reports.append(services.poll_due())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert slow.asked == Counter(ids)  # 80 calls for 80 due requests: none twice, none missed
    assert sum(r.refreshed for r in reports) == 80
    assert all(r.left == 0 and r.errors == 0 for r in reports)

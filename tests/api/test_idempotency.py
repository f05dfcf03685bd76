"""Idempotency-Key under concurrency (run on SQLite and, in CI, on PostgreSQL): many threads
posting one ticket at the same moment make one request; each gets that request back."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection

from api.models import API_ROLES, ApiClient
from provisioning.models import ProvisioningRequest
from tenants.models import Tenant
from tests.api.conftest import demo_app, fetch_token
from tests.api.test_endpoints import body, call
from tests.provisioning.ui_fixtures import make_template

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def test_concurrent_posts_of_one_key_make_one_request(
    emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    from django.core.cache import cache

    cache.clear()
    ApiClient.objects.create(
        name="ServiceNow",
        tenant=live_tenant_a,
        app_id=demo_app("contoso")["client_id"],
        roles=list(API_ROLES),
    )
    template = make_template(live_tenant_a, 3)
    bearer = fetch_token(emulator, "contoso")
    call("GET", "/templates", bearer)  # the client's portal identity exists before the race
    start = threading.Barrier(THREADS)
    answers: list[Any] = []

    def post() -> None:
        try:
            start.wait()
            answers.append(
                call(
                    "POST",
                    "/requests",
                    bearer,
                    json=body(template, "Falcon race"),
                    headers={"Idempotency-Key": "INC-RACE"},
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * (THREADS - 1) + [201]
    assert {a.json()["id"] for a in answers} == {ProvisioningRequest.objects.get().pk}

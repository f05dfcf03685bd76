"""Webhooks end to end: the portal (a live server) registers with the emulator's Point, which
pushes signed events over HTTP, at least once (here: every event twice), in each dialect."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from portal.models import User
from provisioning import services
from provisioning.models import ProvisioningRequest, RequestEvent, Template, WebhookDelivery
from provisioning.services import webhook_health
from provisioning.states import FINAL_STATES, State
from tenants import webhooks
from tenants.models import Tenant, WebhookSubscription
from tests.conftest import client_for
from tests.provisioning.lifecycle import ledger, quick_point_client, request_data

if TYPE_CHECKING:
    from emulator.server import RunningEmulator

DIALECTS = ["today", "documented-minimal", "graph-names", "pascal-problem-details"]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(
    live_server: Any,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    admin: User,
) -> dict[str, Template]:
    """Webhooks on for Contoso, pushed to the live server; a synced catalogue."""
    cache.clear()
    webhook_health.forget()
    quick_point_client(settings, monkeypatch, max_retries=2, backoff_ms=10)
    settings.PORTAL_BASE_URL = live_server.url
    webhooks.webhooks_enable(tenant=live_tenant_a, user=admin)
    services.catalogue_sync(tenant=live_tenant_a)
    return {t.upstream_id: t for t in Template.objects.filter(tenant=live_tenant_a)}


def submit_team(catalogue: dict[str, Template], user: User) -> ProvisioningRequest:
    """A request on Contoso's automatic team template (id 3); its send runs inline."""
    template = catalogue["3"]
    return services.request_submit(
        tenant=template.tenant, template=template, requested_by=user, data=request_data("3")
    )


def wait_for(request: ProvisioningRequest, states: set[str], seconds: float = 15) -> None:
    """Wait for the events to move the request (no poller runs here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request.refresh_from_db()
        if request.state in states:
            return
        time.sleep(0.1)
    raise AssertionError(f"request still {request.state} after {seconds} s")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_events_delivered_twice_complete_a_request_once_without_polling(
    hooked: dict[str, Template],
    emulator: RunningEmulator,
    requester_a: User,
    dialect: str,
) -> None:
    emulator.control("dialect", dialect=dialect, tenant="contoso")
    emulator.control("webhooks", duplicate_rate=1.0)
    emulator.control("timing", approval=0, approved=0.3, in_progress=0.5)
    # Catalogue ids read in this dialect are the same templates (the sync ran in "today").
    item = submit_team(hooked, requester_a)
    item.refresh_from_db()
    assert item.state in (State.APPROVED, State.WAITING_APPROVAL, State.IN_PROGRESS)
    wait_for(item, set(FINAL_STATES))
    assert item.state == State.COMPLETED
    assert item.workspace_url.startswith("https://")
    assert len(ledger(emulator, item)) == 1
    assert item.events.filter(to_state=State.COMPLETED).count() == 1
    completed = item.events.get(to_state=State.COMPLETED)
    assert completed.source == RequestEvent.Source.WEBHOOK
    assert not item.events.filter(source=RequestEvent.Source.POLL).exists()
    # Each event arrived twice and is stored once.
    time.sleep(0.5)  # let the last delivery row and the second copies land
    deliveries = WebhookDelivery.objects.filter(request=item)
    assert deliveries.count() == 2  # Started, Completed
    assert all(d.copies == 2 for d in WebhookDelivery.objects.filter(request=item))
    log = emulator.control_get("webhooks/deliveries?tenant=contoso")["deliveries"]
    assert len(log) == 4 and all(entry["status"] == 200 for entry in log)


def test_a_failed_event_fails_the_request_once_confirmed(
    hooked: dict[str, Template], emulator: RunningEmulator, requester_a: User
) -> None:
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    emulator.control(
        "requests/fail-next", tenant="contoso", message="Exceeded changed links limit(20)"
    )
    item = submit_team(hooked, requester_a)
    wait_for(item, set(FINAL_STATES))
    assert item.state == State.FAILED
    assert "changed links limit" in item.error_message
    assert item.events.get(to_state=State.FAILED).source == RequestEvent.Source.WEBHOOK


def test_a_rotated_signing_key_is_read_again_and_later_events_verify(
    hooked: dict[str, Template], emulator: RunningEmulator, live_tenant_a: Tenant
) -> None:
    sub = WebhookSubscription.objects.get(tenant=live_tenant_a)
    sub.set_signing_key("an-old-key")
    sub.save()
    body = b'{"type": "ProvisioningStarted", "content": {}, "meta": {"idempotencyKey": "k"}}'
    from upstreams.point.wire import push_signature

    key = webhooks.upstream.provider_for(live_tenant_a).webhook_signing_key()
    signed = {"Signature": push_signature(body, key)}
    client = Client()
    path = f"/hooks/{sub.token}"
    first = client.post(path, data=body, content_type="application/json", headers=signed)
    assert first.status_code == 401  # and the key is read again (inline here)
    sub.refresh_from_db()
    assert sub.get_signing_key() == key
    again = client.post(path, data=body, content_type="application/json", headers=signed)
    assert again.status_code == 200


def test_admins_turn_webhooks_on_see_registrations_and_turn_them_off(
    live_server: Any,
    live_tenant_a: Tenant,
    emulator: RunningEmulator,
    settings: Settings,
    admin: User,
    it_staff: User,
) -> None:
    settings.PORTAL_BASE_URL = live_server.url
    staff = client_for(it_staff)
    assert staff.post("/tenants/contoso/webhooks/on").status_code == 403
    client = client_for(admin)
    response = client.post("/tenants/contoso/webhooks/on", follow=True)
    assert "Webhooks are on" in response.content.decode()
    sub = WebhookSubscription.objects.get(tenant=live_tenant_a)
    assert sub.receiving and sub.registered_url == f"{live_server.url}/hooks/{sub.token}"
    listing = client.get("/tenants/contoso/webhooks/registrations", headers={"HX-Request": "true"})
    page = listing.content.decode()
    assert sub.registered_url in page and "the portal's" in page  # no query: shown whole
    assert "ProvisioningCompleted" in page
    # A stale registration (an old address) is listed and can be removed.
    provider = webhooks.upstream.provider_for(live_tenant_a)
    provider.register_webhook("https://old.example/hooks/1?code=secret")
    page = client.get(
        "/tenants/contoso/webhooks/registrations", headers={"HX-Request": "true"}
    ).content.decode()
    assert "https://old.example/hooks/1?…" in page and "secret" not in page
    stale = webhooks.url_digest("https://old.example/hooks/1?code=secret")
    client.post("/tenants/contoso/webhooks/remove", {"registration": stale})
    urls = [r.url for r in webhooks.registrations(live_tenant_a)]
    assert urls == [sub.registered_url]
    response = client.post("/tenants/contoso/webhooks/off", follow=True)
    assert "Webhooks are off" in response.content.decode()
    assert webhooks.registrations(live_tenant_a) == []
    sub.refresh_from_db()
    assert not sub.enabled and not sub.signing_key_encrypted


@pytest.mark.parametrize("dialect", ["today", "documented-minimal"])
def test_a_lost_post_answer_is_settled_by_the_completed_event(
    hooked: dict[str, Template], emulator: RunningEmulator, requester_a: User, dialect: str
) -> None:
    emulator.control("dialect", dialect=dialect, tenant="contoso")
    emulator.control("timing", approval=0, approved=0.3, in_progress=0.5)
    emulator.control(
        "faults", method="POST", path="/point/contoso/v1.0/provision/*", kind="reset_after"
    )
    item = submit_team(hooked, requester_a)
    item.refresh_from_db()
    assert item.state == State.CONFIRMING  # Point acted, the answer was lost
    wait_for(item, set(FINAL_STATES))
    assert item.state == State.COMPLETED
    assert len(ledger(emulator, item)) == 1  # never a second workspace
    settled = item.events.get(to_state=State.COMPLETED)
    assert settled.source == RequestEvent.Source.WEBHOOK
    assert "answer was lost" in settled.detail
    assert item.workspace_url.startswith("https://")


def test_a_lost_event_is_recovered_by_polling_and_webhooks_then_count_as_quiet(
    hooked: dict[str, Template],
    emulator: RunningEmulator,
    requester_a: User,
    live_tenant_a: Tenant,
) -> None:
    emulator.control("timing", approval=0, approved=0.2, in_progress=0.3)
    # Point forgets the portal's registration without telling it: every event is lost.
    sub = WebhookSubscription.objects.get(tenant=live_tenant_a)
    webhooks.upstream.provider_for(live_tenant_a).remove_webhook(sub.registered_url)
    item = submit_team(hooked, requester_a)
    time.sleep(1.5)  # Point has finished; nothing arrives
    item.refresh_from_db()
    assert item.state not in FINAL_STATES
    ProvisioningRequest.objects.filter(pk=item.pk).update(next_poll_at=None)
    services.poll_due()
    item.refresh_from_db()
    assert item.state == State.COMPLETED
    assert item.events.get(to_state=State.COMPLETED).source == RequestEvent.Source.POLL
    assert len(ledger(emulator, item)) == 1
    # A minute on, no event about it came: the webhooks count as quiet, polling is normal again.
    RequestEvent.objects.filter(request=item).update(at=timezone.now() - timedelta(minutes=2))
    WebhookSubscription.objects.filter(pk=sub.pk).update(
        registered_at=timezone.now() - timedelta(hours=1)
    )
    webhook_health.forget()
    assert live_tenant_a.pk not in webhook_health.trusted_tenant_ids()
    warnings = Client().get("/healthz").json()["warnings"]
    assert any("quiet" in w for w in warnings)
